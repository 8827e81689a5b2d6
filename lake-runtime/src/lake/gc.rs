//! `lake gc`: removes what interrupted writes leave behind.
//!
//! A run or an add that dies before its name record (or manifest) is created
//! leaves content that nothing points at: blobs in the store, staged or
//! installed files in the home. None of it is ever visible (a reader trusts
//! only what a record or manifest points at), so it is only wasted space.
//!
//! What is collected, and only when older than the grace period:
//! - store `blobs/<hex>` referenced by no name record and no run manifest;
//! - for a `file://` store, its own staging files (`<key>#<digits>`) that
//!   an interrupted upload left next to their destination;
//! - home `tmp/*` staging files;
//! - home `blobs/<hex>` referenced by no name record and no run manifest.
//!
//! The grace period protects runs in flight: their blobs are uploaded before
//! their name records exist, so a fresh unreferenced blob may be about to be
//! referenced. Ages come from the store listing (`last_modified`) and from
//! file modification times in the home. See `docs/design/0004-gc-and-crashes.md`
//! for the race that [`BLOB_REUSE_MAX_AGE`] closes (an add that dedups onto
//! an old unreferenced blob while gc runs): with a grace period of at least
//! that age it cannot happen.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use lake_core::{BLOBS_PREFIX, Digest, RUNS_PREFIX, StorePath};
use serde::Serialize;

use super::PARALLEL_REQUESTS;
use super::lookup::decode_manifest;
use crate::blocking::block_on;
use crate::{Error, Lake, Result};

/// An add reuses an existing store blob only if it is younger than this;
/// an older one is rewritten, renewing its age. So a gc whose grace period
/// is at least this long never deletes a blob that an add just pointed a
/// new name at.
pub const BLOB_REUSE_MAX_AGE: Duration = Duration::from_secs(30 * 60);

/// The default grace period of [`GcOptions`]: one hour.
pub const DEFAULT_GC_GRACE: Duration = Duration::from_secs(3600);

/// Options of [`Lake::gc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Only things at least this old are removed. Zero removes every
    /// unreferenced leftover, including those of a run in flight.
    pub grace: Duration,
    /// Report what would be removed, remove nothing.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GC_GRACE,
            dry_run: false,
        }
    }
}

/// A count of objects and their total size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GcTally {
    /// How many.
    pub count: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl GcTally {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// One thing [`Lake::gc`] removed (or would remove, in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcItem {
    /// `store-blob`, `store-staging`, `store-batch`, `home-staging`,
    /// `home-blob` or `home-batch-log`.
    pub kind: &'static str,
    /// The store key, or the path in the home.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// What [`Lake::gc`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// True if nothing was removed on purpose.
    pub dry_run: bool,
    /// The grace period, in seconds.
    pub grace_secs: u64,
    /// Distinct blobs referenced by a name record or a run manifest.
    pub referenced_blobs: usize,
    /// Unreferenced store blobs removed.
    pub store_blobs: GcTally,
    /// Staging files of a `file://` store removed.
    pub store_staging: GcTally,
    /// Batch descriptions, failure records and task logs removed
    /// (`batches/` in the store and the home).
    pub batches: GcTally,
    /// Home staging files removed.
    pub home_staging: GcTally,
    /// Unreferenced home blobs removed.
    pub home_blobs: GcTally,
    /// Unreferenced leftovers kept because they are younger than the grace
    /// period (perhaps a run in flight).
    pub kept_young: GcTally,
    /// Everything removed, one entry each.
    pub removed: Vec<GcItem>,
}

impl GcReport {
    /// Everything removed, in total.
    pub fn total(&self) -> GcTally {
        let mut total = GcTally::default();
        for t in [
            self.store_blobs,
            self.store_staging,
            self.batches,
            self.home_staging,
            self.home_blobs,
        ] {
            total.count += t.count;
            total.bytes += t.bytes;
        }
        total
    }
}

impl Lake {
    /// Removes unreferenced blobs (store and home) and staging leftovers
    /// older than `options.grace`. Never removes a blob that a name record
    /// or a run manifest references.
    pub async fn gc_async(&self, options: &GcOptions) -> Result<GcReport> {
        let now = Utc::now();
        let mut report = GcReport {
            dry_run: options.dry_run,
            grace_secs: options.grace.as_secs(),
            ..GcReport::default()
        };
        // Blobs first, references second: a blob uploaded after this listing
        // is not a candidate, and a record created before the reference scan
        // protects its blob.
        let blobs = self.list_all(BLOBS_PREFIX).await?;
        let referenced = self.referenced_blobs().await?;
        report.referenced_blobs = referenced.len();

        let mut candidates = Vec::new();
        for object in blobs {
            let Some(digest) = StorePath::digest_from_blob_path(object.path.as_str()) else {
                continue; // not ours: leave it alone
            };
            if referenced.contains(&digest) {
                continue;
            }
            if is_old(options.grace, now, object.last_modified) {
                candidates.push((digest, object));
            } else {
                report.kept_young.add(object.size);
            }
        }
        if !candidates.is_empty() {
            // Narrow the race with a commit that adopted one of these blobs
            // (same content, so its upload was skipped) since the first scan.
            let again = self.referenced_blobs().await?;
            candidates.retain(|(digest, _)| !again.contains(digest));
        }
        for (_, object) in candidates {
            if !options.dry_run {
                self.store().delete(&object.path).await?;
            }
            report.store_blobs.add(object.size);
            report.removed.push(GcItem {
                kind: "store-blob",
                path: object.path.to_string(),
                bytes: object.size,
            });
        }

        // Batches keep their own minimum age (docs/design/0012).
        crate::batch::gc_batches(self, options, now, &mut report).await?;

        if let Some(root) = self.local_store_root() {
            let options = *options;
            let found =
                tokio::task::spawn_blocking(move || local_store_staging(&root, &options, now))
                    .await
                    .expect("gc task panicked")?;
            for (path, bytes, old) in found {
                if old {
                    report.store_staging.add(bytes);
                    report.removed.push(GcItem {
                        kind: "store-staging",
                        path: path.display().to_string(),
                        bytes,
                    });
                } else {
                    report.kept_young.add(bytes);
                }
            }
        }

        let home = self.home_dir().to_path_buf();
        let options = *options;
        let (staging, home_blobs) = tokio::task::spawn_blocking(move || {
            let staging = sweep_dir(&home.join("tmp"), &options, now, |_| true)?;
            let blobs = sweep_dir(&home.join("blobs"), &options, now, |file_name| {
                match file_name.parse::<Digest>() {
                    Ok(digest) => !referenced.contains(&digest),
                    // Not a blob of ours: leave it.
                    Err(_) => false,
                }
            })?;
            Ok::<_, Error>((staging, blobs))
        })
        .await
        .expect("gc task panicked")?;
        for (kind, found) in [("home-staging", staging), ("home-blob", home_blobs)] {
            for (path, bytes, old) in found {
                if !old {
                    report.kept_young.add(bytes);
                    continue;
                }
                if kind == "home-staging" {
                    report.home_staging.add(bytes);
                } else {
                    report.home_blobs.add(bytes);
                }
                report.removed.push(GcItem {
                    kind,
                    path: path.display().to_string(),
                    bytes,
                });
            }
        }
        let total = report.total();
        tracing::info!(
            removed = total.count,
            bytes = total.bytes,
            dry_run = options.dry_run,
            "gc done"
        );
        Ok(report)
    }

    /// Blocking [`Lake::gc_async`].
    pub fn gc(&self, options: &GcOptions) -> Result<GcReport> {
        block_on(self.gc_async(options))
    }

    /// Digests that a name record or a run manifest points at. A record or
    /// manifest that cannot be read fails the whole gc: better to remove
    /// nothing than a blob something might still reference.
    async fn referenced_blobs(&self) -> Result<BTreeSet<Digest>> {
        if let Some((name, why)) = self.refresh_below(None).await?.undecodable.first() {
            return Err(Error::GcBlocked {
                name: name.clone(),
                reason: why.clone(),
            });
        }
        let mut referenced: BTreeSet<Digest> = self
            .list_async("", false)
            .await?
            .into_iter()
            .map(|e| e.blake3)
            .collect();
        let manifests = self.list_all(RUNS_PREFIX).await?;
        let digests: Vec<Vec<Digest>> = futures::stream::iter(manifests)
            .map(|object| async move {
                let bytes = self.get_small(&object.path).await?;
                let manifest = decode_manifest(&object.path, &bytes, None)?;
                Ok::<_, Error>(manifest.outputs.iter().map(|o| o.blake3).collect())
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect()
            .await?;
        referenced.extend(digests.into_iter().flatten());
        Ok(referenced)
    }
}

fn is_old(grace: Duration, now: DateTime<Utc>, modified: DateTime<Utc>) -> bool {
    if grace.is_zero() {
        return true;
    }
    now.signed_duration_since(modified)
        .to_std()
        .is_ok_and(|age| age >= grace)
}

/// The regular files directly in `dir` that `wanted` picks (by file name),
/// each with its size and whether it is past the grace period; the old ones
/// are removed unless this is a dry run.
fn sweep_dir(
    dir: &Path,
    options: &GcOptions,
    now: DateTime<Utc>,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<(PathBuf, u64, bool)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let path = entry.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !wanted(file_name) {
            continue;
        }
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            // Gone meanwhile (committed, or removed by another gc).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read metadata of", &path, e)),
        };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or(now);
        let old = is_old(options.grace, now, modified);
        if old && !options.dry_run {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("remove", &path, e)),
            }
        }
        out.push((path, meta.len(), old));
    }
    out.sort();
    Ok(out)
}

/// Staging files a `file://` store leaves when an upload is interrupted:
/// `<key>#<digits>` next to the destination, which listings never show.
/// Blob keys never contain `#`, and a name record's file always ends in
/// `.json`, so nothing else matches.
fn local_store_staging(
    root: &Path,
    options: &GcOptions,
    now: DateTime<Utc>,
) -> Result<Vec<(PathBuf, u64, bool)>> {
    let mut out = Vec::new();
    let mut pending: Vec<PathBuf> = ["blobs", "names", "runs"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                pending.push(entry.path());
            }
        }
        out.extend(sweep_dir(&dir, options, now, is_store_staging_name)?);
    }
    out.sort();
    Ok(out)
}

fn is_store_staging_name(file_name: &str) -> bool {
    match file_name.rsplit_once('#') {
        Some((stem, digits)) => {
            !stem.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LakeConfigBuilder;
    use bytes::Bytes;
    use lake_core::{Name, PutMode};
    use std::time::SystemTime;

    fn lake(dir: &Path) -> Lake {
        Lake::open_with(
            LakeConfigBuilder::new()
                .with_home(dir.join("home"))
                .with_store(format!("file://{}", dir.join("store").display()))
                .with_progress(false)
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn add(lake: &Lake, name: &str, bytes: &[u8]) -> Digest {
        let mut w = lake.create(name).unwrap();
        std::io::Write::write_all(&mut w, bytes).unwrap();
        w.commit().unwrap().digest().unwrap()
    }

    /// An unreferenced blob in the store, as an interrupted add leaves it.
    fn orphan(lake: &Lake, bytes: &'static [u8]) -> StorePath {
        let path = StorePath::blob(&Digest::of(bytes));
        block_on(
            lake.store()
                .put(&path, Bytes::from_static(bytes), PutMode::Overwrite),
        )
        .unwrap();
        path
    }

    fn exists(lake: &Lake, path: &StorePath) -> bool {
        block_on(lake.store().head(path)).is_ok()
    }

    fn backdate(path: &Path, secs: u64) {
        let file = std::fs::File::options()
            .write(true)
            .open(path)
            .or_else(|_| {
                // A read-only file (a cached blob): make it writable to stamp it.
                let mut perms = std::fs::metadata(path)?.permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                perms.set_readonly(false);
                std::fs::set_permissions(path, perms)?;
                std::fs::File::options().write(true).open(path)
            });
        file.unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn referenced_blob_survives_even_with_zero_grace() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path());
        let digest = add(&lake, "keep/a.txt", b"referenced");
        let report = lake
            .gc(&GcOptions {
                grace: Duration::ZERO,
                dry_run: false,
            })
            .unwrap();
        assert_eq!(report.total().count, 0, "{report:?}");
        assert!(exists(&lake, &StorePath::blob(&digest)));
        assert!(lake.home().has_blob(&digest));
        let name = Name::new("keep/a.txt").unwrap();
        assert!(lake.verify(&[name], true, false).unwrap().is_clean());
    }

    #[test]
    fn young_orphan_survives_old_one_goes() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path());
        add(&lake, "keep/a.txt", b"referenced");
        let young = orphan(&lake, b"young orphan");
        let old = orphan(&lake, b"old orphan");
        backdate(&dir.path().join("store").join(old.as_str()), 7200);
        let report = lake.gc(&GcOptions::default()).unwrap();
        assert!(exists(&lake, &young), "a young orphan is kept");
        assert!(!exists(&lake, &old), "an old orphan is removed");
        assert_eq!(report.store_blobs.count, 1, "{report:?}");
        assert_eq!(report.store_blobs.bytes, b"old orphan".len() as u64);
        assert_eq!(report.kept_young.count, 1, "{report:?}");
    }

    #[test]
    fn dry_run_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path());
        let orphaned = orphan(&lake, b"orphan");
        let staged = lake
            .home()
            .stage()
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let options = GcOptions {
            grace: Duration::ZERO,
            dry_run: true,
        };
        let report = lake.gc(&options).unwrap();
        assert_eq!(report.store_blobs.count, 1, "{report:?}");
        assert_eq!(report.home_staging.count, 1, "{report:?}");
        assert!(exists(&lake, &orphaned));
        assert!(staged.exists());
        // For real this time.
        let report = lake
            .gc(&GcOptions {
                dry_run: false,
                ..options
            })
            .unwrap();
        assert_eq!(report.total().count, 2, "{report:?}");
        assert!(!exists(&lake, &orphaned));
        assert!(!staged.exists());
    }

    #[test]
    fn home_leftovers_past_grace_go() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path());
        let digest = add(&lake, "keep/a.txt", b"referenced");
        let young_stage = lake
            .home()
            .stage()
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let old_stage = lake
            .home()
            .stage()
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        backdate(&old_stage, 7200);
        // A home blob no name references (a run that died before commit).
        let orphan_digest = Digest::of(b"home orphan");
        let orphan_path = lake.home().blob_path(&orphan_digest);
        std::fs::write(&orphan_path, b"home orphan").unwrap();
        backdate(&orphan_path, 7200);
        // Store staging left by a killed upload to a file:// store.
        let store_staging = dir
            .path()
            .join("store/blobs")
            .join(format!("{}#1234000001", Digest::of(b"partial")));
        std::fs::write(&store_staging, b"part").unwrap();
        backdate(&store_staging, 7200);

        let report = lake.gc(&GcOptions::default()).unwrap();
        assert!(young_stage.exists());
        assert!(!old_stage.exists());
        assert!(!orphan_path.exists());
        assert!(!store_staging.exists());
        assert!(
            lake.home().has_blob(&digest),
            "a referenced home blob stays"
        );
        assert_eq!(report.home_staging.count, 1, "{report:?}");
        assert_eq!(report.home_blobs.count, 1, "{report:?}");
        assert_eq!(report.store_staging.count, 1, "{report:?}");
    }

    #[test]
    fn blob_referenced_only_by_a_manifest_survives() {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(dir.path());
        let blob = orphan(&lake, b"manifest only");
        let manifest = serde_json::json!({
            "schema_version": 1,
            "key": "00".repeat(32),
            "creator": "x::y",
            "code_hash": "h",
            "version": null,
            "outputs": [{"name": "y/00", "blake3": Digest::of(b"manifest only").to_hex(), "size": 13}],
            "committed_at": "2026-01-01T00:00:00Z",
        });
        block_on(lake.store().put(
            &StorePath::run_manifest(&"00".repeat(32)),
            Bytes::from(serde_json::to_vec(&manifest).unwrap()),
            PutMode::Create,
        ))
        .unwrap();
        let report = lake
            .gc(&GcOptions {
                grace: Duration::ZERO,
                dry_run: false,
            })
            .unwrap();
        assert!(exists(&lake, &blob), "{report:?}");
    }

    #[test]
    fn store_staging_names() {
        let hex = Digest::of(b"x").to_hex();
        assert!(is_store_staging_name(&format!("{hex}#123")));
        assert!(is_store_staging_name("a.json#4567"));
        assert!(!is_store_staging_name(&hex));
        assert!(!is_store_staging_name("a#12.json"));
        assert!(!is_store_staging_name("#12"));
        assert!(!is_store_staging_name("a#"));
    }
}
