//! `gc --local --max-size`: keeping the local copies under a byte budget,
//! least recently used first.
//!
//! A local copy's modification time records when it was last used: it is
//! set when the copy is made, and again each time a read resolves to it
//! ([`mark_used`]). Copies are read-only and never modified in place, so
//! the time means nothing else; access times cannot stand in for it, since
//! `noatime` and `relatime` mounts do not keep them. A cache hit of a
//! creator call does not count as a use: it hands out a handle and reads
//! nothing.
//!
//! With the default `file://` store inside the home, a local copy and the
//! store's blob are one file (a hard link), so the store's blob looks as
//! young as its last use. That only delays `gc` of an unreferenced blob,
//! the safe direction, and evicting such a copy frees no disk: the store
//! still holds it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use super::gc::{GcItem, GcTally};
use crate::{Error, Result};

/// What the budget part of [`crate::Lake::gc`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LocalBudgetReport {
    /// The budget, in bytes.
    pub max_bytes: u64,
    /// Bytes of local copies before (after the rest of gc).
    pub before_bytes: u64,
    /// Bytes of local copies after (what a dry run would leave).
    pub after_bytes: u64,
    /// Copies evicted, least recently used first.
    pub evicted: GcTally,
}

/// Records a use of the local copy at `path`, for least-recently-used
/// eviction. A failure only makes the order less exact, so it is logged,
/// never returned: a read must not fail because a timestamp could not be
/// written.
pub(crate) fn mark_used(path: &Path) {
    let touched = std::fs::File::open(path).and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        tracing::debug!(path = %path.display(), error = %e, "could not record the use of a local copy");
    }
}

/// Evicts local copies in `blobs_dir`, least recently used first, until
/// they take at most `max_bytes`; `skip` are copies gc already removed (or,
/// in a dry run, would remove). Returns the report and one item per
/// eviction.
pub(super) fn shrink_to_budget(
    blobs_dir: &Path,
    max_bytes: u64,
    dry_run: bool,
    skip: &[PathBuf],
) -> Result<(LocalBudgetReport, Vec<GcItem>)> {
    let mut copies = local_copies(blobs_dir)?;
    copies.retain(|copy| !skip.contains(&copy.path));
    // Oldest use first; the path breaks ties so a dry run and the real run
    // pick the same copies.
    copies.sort_by(|a, b| (a.used, &a.path).cmp(&(b.used, &b.path)));
    let before_bytes: u64 = copies.iter().map(|c| c.bytes).sum();
    let mut report = LocalBudgetReport {
        max_bytes,
        before_bytes,
        after_bytes: before_bytes,
        evicted: GcTally::default(),
    };
    let mut items = Vec::new();
    for copy in copies {
        if report.after_bytes <= max_bytes {
            break;
        }
        if !dry_run {
            match std::fs::remove_file(&copy.path) {
                Ok(()) => {}
                // Evicted meanwhile by another process.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io("remove", &copy.path, e)),
            }
        }
        report.after_bytes -= copy.bytes;
        report.evicted.count += 1;
        report.evicted.bytes += copy.bytes;
        items.push(GcItem {
            kind: "home-lru",
            path: copy.path.display().to_string(),
            bytes: copy.bytes,
        });
    }
    Ok((report, items))
}

struct LocalCopy {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// The local copies (files named by a digest) in `blobs_dir`.
fn local_copies(blobs_dir: &Path) -> Result<Vec<LocalCopy>> {
    let entries = match std::fs::read_dir(blobs_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", blobs_dir, e)),
    };
    let mut copies = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", blobs_dir, e))?;
        let is_digest = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.parse::<lake_core::Digest>().is_ok());
        if !is_digest {
            continue;
        }
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("read metadata of", &path, e)),
        };
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        copies.push(LocalCopy {
            path,
            bytes: meta.len(),
            used,
        });
    }
    Ok(copies)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn copy(dir: &Path, byte: u8, len: usize, age_secs: u64) -> PathBuf {
        let digest = lake_core::Digest::of(&[byte]);
        let path = dir.join(digest.to_hex());
        std::fs::write(&path, vec![byte; len]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_secs);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
        path
    }

    #[test]
    fn evicts_least_recently_used_until_under_budget() {
        let dir = tempfile::tempdir().unwrap();
        let old = copy(dir.path(), 1, 100, 300);
        let middle = copy(dir.path(), 2, 100, 200);
        let recent = copy(dir.path(), 3, 100, 100);
        std::fs::write(dir.path().join("not-a-digest"), [0; 1000]).unwrap();

        let (dry, dry_items) = shrink_to_budget(dir.path(), 150, true, &[]).unwrap();
        assert_eq!((dry.before_bytes, dry.after_bytes), (300, 100));
        assert!(
            old.exists() && middle.exists(),
            "a dry run removed something"
        );

        mark_used(&old);
        let (report, items) = shrink_to_budget(dir.path(), 150, false, &[]).unwrap();
        assert_eq!(
            report.evicted,
            GcTally {
                count: 2,
                bytes: 200
            }
        );
        assert_eq!(items.len(), 2);
        assert!(old.exists(), "the copy just used was evicted");
        assert!(!middle.exists() && !recent.exists());
        assert_ne!(dry_items[0].path, items[0].path, "the use did not count");
    }

    #[test]
    fn a_budget_already_met_evicts_nothing_and_skips_what_gc_removed() {
        let dir = tempfile::tempdir().unwrap();
        let a = copy(dir.path(), 1, 100, 10);
        copy(dir.path(), 2, 100, 20);
        let (report, items) = shrink_to_budget(dir.path(), 100, true, &[a]).unwrap();
        assert_eq!((report.before_bytes, report.after_bytes), (100, 100));
        assert!(items.is_empty());
    }
}
