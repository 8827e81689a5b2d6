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
use lake_core::{BLOBS_PREFIX, Digest, RUNS_PREFIX, StorePath, UPLOADS_PREFIX};
use serde::Serialize;

use super::PARALLEL_REQUESTS;
use super::local_budget::{LocalBudgetReport, shrink_to_budget};
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
    /// Where to collect: the store, the home, or both.
    pub scope: GcScope,
    /// After collecting, evict local copies, least recently used first,
    /// until they take at most this many bytes (`gc --local --max-size`).
    /// A copy evicted is downloaded again, verified, when next read.
    pub local_max_bytes: Option<u64>,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GC_GRACE,
            dry_run: false,
            scope: GcScope::Everywhere,
            local_max_bytes: None,
        }
    }
}

/// Where [`Lake::gc`] collects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcScope {
    /// The store and the home.
    #[default]
    Everywhere,
    /// Only the store: unreferenced blobs, and a `file://` store's staging
    /// leftovers.
    Store,
    /// Only the home: staging leftovers, unreferenced local copies, and the
    /// budget of [`GcOptions::local_max_bytes`]. Reads the store's name
    /// records (to know what is referenced) but deletes nothing there.
    Local,
}

impl GcScope {
    pub(crate) fn store(self) -> bool {
        self != Self::Local
    }

    pub(crate) fn local(self) -> bool {
        self != Self::Store
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
    /// `store-blob`, `store-staging`, `store-upload`, `store-multipart`, `store-batch`,
    /// `home-staging`, `home-blob`, `home-batch-log`, or `home-lru`
    /// (evicted to meet the local budget).
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
    /// Where gc collected.
    pub scope: GcScope,
    /// Distinct blobs referenced by a name record or a run manifest.
    pub referenced_blobs: usize,
    /// Unreferenced store blobs removed.
    pub store_blobs: GcTally,
    /// Staging files of a `file://` store removed.
    pub store_staging: GcTally,
    /// Temporary objects of streamed writes (`uploads/`) that a crash left
    /// behind, removed.
    pub store_uploads: GcTally,
    /// Multipart uploads that a killed writer left incomplete, aborted
    /// (S3; their size is not listed, so the bytes count 0).
    pub store_multipart: GcTally,
    /// Why incomplete multipart uploads could not be listed, if they could
    /// not (an S3-compatible server without `ListMultipartUploads`).
    pub multipart_unlisted: Option<String>,
    /// Batch descriptions, failure records and task logs removed
    /// (`batches/` in the store and the home).
    pub batches: GcTally,
    /// Home staging files removed.
    pub home_staging: GcTally,
    /// Unreferenced home blobs removed.
    pub home_blobs: GcTally,
    /// Unreferenced blobs that a name adopted while gc was deleting them,
    /// put back (see `gc/trash.rs`).
    pub adopted_during_gc: usize,
    /// Blobs a name holds, put back from the trash a killed gc left.
    pub restored_from_trash: usize,
    /// Local copies evicted to meet [`GcOptions::local_max_bytes`].
    pub local_budget: Option<LocalBudgetReport>,
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
            self.store_uploads,
            self.store_multipart,
            self.batches,
            self.home_staging,
            self.home_blobs,
            self.local_budget
                .as_ref()
                .map(|b| b.evicted)
                .unwrap_or_default(),
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
            scope: options.scope,
            ..GcReport::default()
        };
        // Blobs first, references second: a blob uploaded after this listing
        // is not a candidate, and a record created before the reference scan
        // protects its blob.
        let blobs = if options.scope.store() {
            self.list_all(BLOBS_PREFIX).await?
        } else {
            Vec::new()
        };
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
        if options.scope.store() {
            report.restored_from_trash = self
                .recover_trash(&referenced, now, options.dry_run)
                .await?;
        }
        if !candidates.is_empty() {
            // Spares most adoptions since the first scan the round trip
            // through the trash; the trash makes the rest safe.
            let again = self.referenced_blobs().await?;
            candidates.retain(|(digest, _)| !again.contains(digest));
        }
        let deleted = if options.dry_run {
            candidates.into_iter().map(|(_, object)| object).collect()
        } else {
            let run = format!("{}-{}", now.format("%Y%m%dT%H%M%S"), std::process::id());
            let guarded = self.delete_blobs_guarded(candidates, &run).await?;
            report.adopted_during_gc = guarded.restored.len();
            guarded.deleted
        };
        for object in deleted {
            report.store_blobs.add(object.size);
            report.removed.push(GcItem {
                kind: "store-blob",
                path: object.path.to_string(),
                bytes: object.size,
            });
        }

        if options.scope.store() {
            // A streamed write deletes its temporary object on commit or
            // abort; one that outlives the grace period lost its writer.
            for object in self.list_all(UPLOADS_PREFIX).await? {
                if !is_old(options.grace, now, object.last_modified) {
                    report.kept_young.add(object.size);
                    continue;
                }
                if !options.dry_run {
                    self.store().delete(&object.path).await?;
                }
                report.store_uploads.add(object.size);
                report.removed.push(GcItem {
                    kind: "store-upload",
                    path: object.path.to_string(),
                    bytes: object.size,
                });
            }
        }

        if options.scope.store() {
            self.abort_incomplete_uploads(options, now, &mut report)
                .await?;
        }

        // Batches keep their own minimum age (docs/design/0012).
        crate::batch::gc_batches(self, options, now, &mut report).await?;

        if let Some(root) = self.local_store_root().filter(|_| options.scope.store()) {
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

        if options.scope.local() {
            self.collect_home(&mut report, options, now, referenced)
                .await?;
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

    /// Aborts the multipart uploads begun more than the grace period ago
    /// and never completed: a writer killed mid-upload cannot abort its
    /// own, and the parts are storage the user pays for and cannot see.
    /// An upload still running that long is aborted too; its writer then
    /// fails before its record is written, so nothing wrong is visible.
    async fn abort_incomplete_uploads(
        &self,
        options: &GcOptions,
        now: DateTime<Utc>,
        report: &mut GcReport,
    ) -> Result<()> {
        let uploads = match self.store().incomplete_uploads().await {
            Ok(uploads) => uploads,
            Err(lake_core::StoreError::NotSupported { operation, store }) => {
                let why = format!(
                    "{store} cannot list incomplete multipart uploads: {operation}; \
                     a lifecycle rule on the bucket must abort the ones killed writers leave"
                );
                tracing::warn!("{why}");
                report.multipart_unlisted = Some(why);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        for upload in uploads {
            if !is_old(options.grace, now, upload.initiated) {
                report.kept_young.add(0);
                continue;
            }
            if !options.dry_run {
                self.store().abort_upload(&upload).await?;
            }
            report.store_multipart.add(0);
            report.removed.push(GcItem {
                kind: "store-multipart",
                path: format!("{} (upload {})", upload.path, upload.id),
                bytes: 0,
            });
        }
        Ok(())
    }

    /// The home's half of gc: staging leftovers, unreferenced local copies,
    /// then the local budget.
    async fn collect_home(
        &self,
        report: &mut GcReport,
        options: &GcOptions,
        now: DateTime<Utc>,
        referenced: BTreeSet<Digest>,
    ) -> Result<()> {
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
        if let Some(max_bytes) = options.local_max_bytes {
            let swept: Vec<PathBuf> = report
                .removed
                .iter()
                .filter(|item| item.kind == "home-blob")
                .map(|item| PathBuf::from(&item.path))
                .collect();
            let blobs_dir = self.home_dir().join("blobs");
            let (budget, evicted) = tokio::task::spawn_blocking(move || {
                shrink_to_budget(&blobs_dir, max_bytes, options.dry_run, &swept)
            })
            .await
            .expect("gc task panicked")?;
            report.removed.extend(evicted);
            report.local_budget = Some(budget);
        }
        Ok(())
    }

    /// Deletes this process's staging files in the home: for a signal
    /// handler (Ctrl-C), since a process that exits on a signal drops
    /// nothing, and those files would wait for `lake gc`. Other processes'
    /// staging files are left alone. Returns what was removed.
    pub fn remove_own_staging(&self) -> Result<GcTally> {
        let dir = self.home_dir().join("tmp");
        let prefix = crate::home::staging_prefix();
        let mut removed = GcTally::default();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(Error::io("read directory", &dir, e)),
        };
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let size = entry.metadata().map_or(0, |m| m.len());
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed.add(size),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", entry.path(), e)),
            }
        }
        Ok(removed)
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
mod tests;
mod trash;
