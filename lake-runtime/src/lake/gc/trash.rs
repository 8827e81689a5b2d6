//! Deleting unreferenced store blobs without ever losing one that a
//! concurrent writer adopts while gc runs (issue 12 item 7).
//!
//! A writer publishes a blob (A1), creates its name record (A2), then
//! checks that the blob is still there and uploads it again if not (A3,
//! `ensure_blob`). gc decides from a scan of the references (G3) and
//! deletes later (G4); a writer whose A2 and A3 both fall between G3 and G4
//! would see its blob vanish after its check. So gc moves each blob aside
//! before deleting it, with a copy inside the store to
//! `gc-trash/<run>/<hex>` (a hard link on a `file://` store), scans the
//! references once more after the deletes (G5), and puts back every blob a
//! name now holds, from the trash. Then the trash goes.
//!
//! For a name created by A2: if A2 came before G3, gc kept the blob. Else if
//! A3 came after G4, A3 uploaded it again. Else A2 < A3 < G4 < G5, so G5
//! sees the name and gc puts the blob back. No grace period is needed for
//! this; the grace period only spares writers in flight a second upload.
//!
//! A gc killed between a delete and its put-back leaves its trash: the next
//! gc puts back what a name holds from trash older than [`TRASH_KEPT`] and
//! deletes that trash. Younger trash may belong to a gc still running, whose
//! put-back needs it.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lake_core::{Digest, GC_TRASH_PREFIX, ObjectMeta, StorePath};

use crate::{Lake, Result};

/// Trash of a gc run is left alone this long: a gc over a large store may
/// still need it for a put-back.
pub(crate) const TRASH_KEPT: Duration = Duration::from_secs(6 * 3600);

/// What [`Lake::delete_blobs_guarded`] did.
#[derive(Debug, Default)]
pub(super) struct Guarded {
    /// Blobs deleted for good.
    pub(super) deleted: Vec<ObjectMeta>,
    /// Blobs put back because a name adopted them while gc ran.
    pub(super) restored: Vec<ObjectMeta>,
}

impl Lake {
    /// Deletes each candidate blob, moved aside first, then puts back those
    /// a name holds by the end (see the module's documentation).
    pub(super) async fn delete_blobs_guarded(
        &self,
        candidates: Vec<(Digest, ObjectMeta)>,
        run: &str,
    ) -> Result<Guarded> {
        let store = self.store();
        let mut aside = Vec::new();
        for (digest, object) in candidates {
            let trash = StorePath::parse(&format!("{GC_TRASH_PREFIX}/{run}/{digest}"))?;
            match store.copy(&object.path, &trash).await {
                Ok(()) => {}
                // Gone already: another gc, or an `rm`.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            }
            store.delete(&object.path).await?;
            aside.push((digest, trash, object));
        }
        let mut done = Guarded::default();
        if aside.is_empty() {
            return Ok(done);
        }
        let held = self.referenced_blobs().await?;
        for (digest, trash, object) in aside {
            if held.contains(&digest) {
                tracing::info!(%digest, "a name adopted this blob while gc ran; putting it back");
                store.copy(&trash, &object.path).await?;
                done.restored.push(object);
            } else {
                done.deleted.push(object);
            }
            store.delete(&trash).await?;
        }
        Ok(done)
    }

    /// Trash that a killed gc left: a blob a name holds is put back, and
    /// trash older than [`TRASH_KEPT`] is deleted. Returns the blobs put
    /// back.
    pub(super) async fn recover_trash(
        &self,
        held: &BTreeSet<Digest>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<usize> {
        let mut restored = 0;
        for object in self.list_all(GC_TRASH_PREFIX).await? {
            let Some(digest) = object
                .path
                .as_str()
                .rsplit('/')
                .next()
                .and_then(|hex| hex.parse::<Digest>().ok())
            else {
                continue;
            };
            let old = super::is_old(TRASH_KEPT, now, object.last_modified);
            if !old || dry_run {
                continue;
            }
            let blob = StorePath::blob(&digest);
            if held.contains(&digest) {
                match self.store().head(&blob).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        tracing::warn!(%digest, "a killed gc left a held blob in its trash; putting it back");
                        self.store().copy(&object.path, &blob).await?;
                        restored += 1;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            self.store().delete(&object.path).await?;
        }
        Ok(restored)
    }
}
