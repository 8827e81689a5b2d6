//! Local copies of content: `fetch` one name, `pull` a prefix. Every
//! download is hashed on the way and installed only if it matches its
//! record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use lake_core::{Digest, Name, Record, Store, StorePath};
use serde::Serialize;

use super::{ListEntry, PARALLEL_REQUESTS};
use crate::blocking::block_on;
use crate::home::hash_own_file;
use crate::progress::{Overall, Progress};
use crate::{Error, Lake, Result};

/// Blobs at least this large download as several ranges at once.
const RANGED_DOWNLOAD_MIN: u64 = 64 << 20;

/// Bytes gathered per write of a ranged download.
const DOWNLOAD_WRITE: usize = 4 << 20;

/// Result of [`Lake::pull_async`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullReport {
    /// Names whose content this pull made local.
    pub downloaded: usize,
    /// Distinct contents downloaded: names with equal bytes share one.
    pub contents: usize,
    /// Bytes downloaded (each distinct content once).
    pub bytes: u64,
    /// Names whose content was already in the home's cache.
    pub already_local: usize,
}

impl Lake {
    /// The local path of `name`'s content, downloading and verifying it first
    /// if it is not cached. The file is read-only.
    pub async fn fetch_async(&self, name: &Name) -> Result<PathBuf> {
        let record = self.record_async(name).await?;
        self.fetch_record(&record).await
    }

    /// [`Lake::pull_async`], blocking.
    pub fn pull(&self, prefix: &str) -> Result<PullReport> {
        block_on(self.pull_async(prefix))
    }

    /// Downloads every name at or below `prefix` that is not cached yet,
    /// many at a time, each verified like [`Lake::fetch_async`].
    pub async fn pull_async(&self, prefix: &str) -> Result<PullReport> {
        let entries = self.list_async(prefix, true).await?;
        let mut report = PullReport::default();
        let missing: Vec<ListEntry> = entries
            .into_iter()
            .filter(|e| {
                if e.local {
                    report.already_local += 1;
                }
                !e.local
            })
            .collect();
        report.downloaded = missing.len();
        // A local copy is named by its digest: names with equal bytes need
        // one download between them, not one each.
        let mut distinct = std::collections::HashSet::new();
        let missing: Vec<ListEntry> = missing
            .into_iter()
            .filter(|e| distinct.insert(e.blake3))
            .collect();
        let overall = Overall::new(
            self.inner.config.progress,
            missing.len(),
            &format!("pull {prefix}"),
        );
        let overall = &overall;
        let sizes: Vec<u64> = futures::stream::iter(missing)
            .map(|entry| async move {
                self.fetch_async(&entry.name).await?;
                overall.inc();
                Ok::<_, Error>(entry.size)
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect()
            .await?;
        report.contents = sizes.len();
        report.bytes = sizes.iter().sum();
        Ok(report)
    }

    /// Blocking [`Lake::fetch_async`].
    pub fn fetch(&self, name: &Name) -> Result<PathBuf> {
        block_on(self.fetch_async(name))
    }

    /// The local copy of `record`'s content, downloaded (and verified)
    /// unless a sound copy is cached.
    ///
    /// A cached copy is served only if it is a regular file of the recorded
    /// size: a truncated or extended copy, a directory, or a symlink put in
    /// its place (to `/etc/hostname`, say) is damaged, and is replaced by a
    /// verified download instead of being served. A same-size edit is left
    /// to `lake verify`, which re-hashes.
    pub(crate) async fn fetch_record(&self, record: &Record) -> Result<PathBuf> {
        let local = self.inner.home.blob_path(&record.blake3);
        match std::fs::symlink_metadata(&local) {
            Ok(meta) if meta.is_file() && meta.len() == record.size => {
                super::local_budget::mark_used(&local);
                return Ok(local);
            }
            Ok(_) => tracing::warn!(
                name = %record.name,
                path = %local.display(),
                "the local copy is damaged; downloading it again (lake verify --repair checks every copy)"
            ),
            Err(_) => {}
        }
        self.download(record).await
    }

    /// Downloads the blob of `record` from the first store of the read
    /// order that gives a verified copy (see [`Lake::download_from`]).
    ///
    /// With one store, its error is the answer, as before replicas. With
    /// several, a miss (a copy moved away) or a failure (a store that is
    /// down, or a copy that does not verify) moves on to the next store,
    /// and only when none gives a good copy is it an error, listing them.
    pub(super) async fn download(&self, record: &Record) -> Result<PathBuf> {
        let stores = self.read_stores();
        if stores.len() == 1 {
            return self.download_from(&*stores[0].1, record).await;
        }
        let mut tried = Vec::new();
        for (name, store) in stores {
            match self.download_from(&*store, record).await {
                Ok(path) => return Ok(path),
                Err(e) => {
                    // A miss is expected after a move; anything else is
                    // worth a warning, since it costs a fallback.
                    if matches!(e, Error::ContentMissing { .. }) {
                        tracing::debug!(store = %name, name = %record.name, "no copy here; trying the next store");
                    } else {
                        tracing::warn!(store = %name, name = %record.name, error = %e, "cannot read a copy here; trying the next store");
                    }
                    tried.push(format!("{name}: {e}"));
                }
            }
        }
        Err(Error::NoReadableCopy {
            name: record.name.clone(),
            tried: tried.join("; "),
        })
    }

    /// Streams the blob of `record` from `store` into staging, hashing as
    /// it goes, and installs it only if digest and size match.
    pub(super) async fn download_from(
        &self,
        store: &dyn Store,
        record: &Record,
    ) -> Result<PathBuf> {
        let path = StorePath::blob(&record.blake3);
        let missing = |e: lake_core::StoreError| {
            if e.is_not_found() {
                Error::ContentMissing {
                    name: record.name.clone(),
                    path: path.to_string(),
                    store: store.to_string(),
                }
            } else {
                e.into()
            }
        };
        let progress = Progress::new(
            self.inner.config.progress,
            record.size,
            &format!("get {}", record.name),
        );
        let (tmp_path, actual, size) = if record.size >= RANGED_DOWNLOAD_MIN {
            self.download_ranges(store, &path, record.size, &progress, missing)
                .await?
        } else {
            let got = store.get(&path).await.map_err(missing)?;
            self.stage_stream(got.chunks, &progress).await?
        };
        if actual != record.blake3 || size != record.size {
            tracing::debug!(name = %record.name, %path, "refusing corrupt download");
            return Err(Error::Corrupt {
                what: format!("store object {path} for {:?}", record.name.as_str()),
                expected: record.blake3,
                actual,
            });
        }
        self.inner.home.install(tmp_path, &actual, size)
    }

    /// Downloads the `size` bytes of `path` into a fresh staging file as
    /// ranges, several at once (the store's `download_tuning`), then hashes
    /// the file on every core. One stream of a large object is bound by one
    /// connection (and, on some servers, one thread); `aws s3 cp` reads
    /// ranges in parallel too. The caller decides whether the digest is
    /// acceptable.
    async fn download_ranges(
        &self,
        store: &dyn Store,
        path: &StorePath,
        size: u64,
        progress: &Progress,
        store_error: impl Fn(lake_core::StoreError) -> Error,
    ) -> Result<(tempfile::TempPath, Digest, u64)> {
        use std::os::unix::fs::FileExt;
        let (file, tmp_path) = self.inner.home.stage()?.into_parts();
        file.set_len(size)
            .map_err(|e| Error::io("write", &*tmp_path, e))?;
        let file = Arc::new(file);
        let tuning = store.download_tuning();
        let concurrency = tuning.concurrency.max(1);
        let part = match tuning.range_size {
            Some(range) => range.max(1),
            None => size.div_ceil(concurrency as u64).next_multiple_of(1 << 20),
        };
        let ranges = (0..size)
            .step_by(part as usize)
            .map(|start| start..(start + part).min(size));
        let target: &Path = &tmp_path;
        let store_error = &store_error;
        let fetch = |range: std::ops::Range<u64>| {
            let file = file.clone();
            async move {
                let got = store.get_range(path, range.clone()).await;
                let mut chunks = got.map_err(store_error)?.chunks;
                let mut offset = range.start;
                let mut pending = bytes::BytesMut::new();
                loop {
                    let chunk = chunks.next().await.transpose()?;
                    if let Some(chunk) = &chunk {
                        pending.extend_from_slice(chunk);
                    }
                    // Few, large writes: each costs a hand-off to a thread.
                    if pending.len() >= DOWNLOAD_WRITE || (chunk.is_none() && !pending.is_empty()) {
                        let bytes = std::mem::take(&mut pending).freeze();
                        let n = bytes.len() as u64;
                        if offset + n > range.end {
                            return Err(Error::StoreInconsistent {
                                store: store.to_string(),
                                path: path.to_string(),
                                problem: format!(
                                    "it sent more than the {} bytes asked for",
                                    range.end - range.start
                                ),
                            });
                        }
                        let file = file.clone();
                        let at = offset;
                        tokio::task::spawn_blocking(move || file.write_all_at(&bytes, at))
                            .await
                            .expect("write task panicked")
                            .map_err(|e| Error::io("write", target, e))?;
                        offset += n;
                        progress.inc(n);
                    }
                    if chunk.is_none() {
                        break;
                    }
                }
                if offset != range.end {
                    return Err(Error::StoreInconsistent {
                        store: store.to_string(),
                        path: path.to_string(),
                        problem: format!(
                            "bytes {}..{} ended after {} bytes: the object is shorter than \
                             its name record says",
                            range.start,
                            range.end,
                            offset - range.start
                        ),
                    });
                }
                Ok(())
            }
        };
        futures::stream::iter(ranges.map(fetch))
            .buffer_unordered(concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        drop(file);
        progress.finish();
        let staged = tmp_path.to_path_buf();
        let (digest, hashed) = tokio::task::spawn_blocking(move || hash_own_file(&staged))
            .await
            .expect("hash task panicked")?;
        Ok((tmp_path, digest, hashed))
    }
}
