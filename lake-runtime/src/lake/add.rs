//! `add`: a file, a directory (`add -r`) or a URL becomes a name.
//!
//! Each source is staged and hashed ([`super::stage`]), compared with what
//! the name already holds, and published ([`super::publish`]).

use std::path::{Path, PathBuf};

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use lake_core::{AddedLineage, Digest, Lineage, Name, PackedRecord, Record};

use super::publish::{BlobSource, Publication};
use super::stage::{Installed, stage_source};
use super::walk::walk_files;
use crate::blocking::block_on;
use crate::home::hash_file;
use crate::index::SourceStamp;
use crate::progress::{Overall, Progress};
use crate::store::redact_known_secrets;
use crate::{Error, Lake, Result};

/// How many files `add -r` stages at once.
const PARALLEL_ADDS: usize = 8;

/// How `add` treats its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddMode {
    /// Leave the source in place.
    #[default]
    Copy,
    /// Remove the source once the lake holds it.
    Move,
}

/// What an `add` or a commit did. The full record is one
/// [`Lake::record`] away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The name.
    pub name: Name,
    /// Its content digest.
    pub blake3: Digest,
    /// Its content length.
    pub size: u64,
    /// False if the name already held this exact content (a no-op).
    pub created: bool,
}

impl AddOutcome {
    pub(super) fn of(record: &Record, created: bool) -> Self {
        Self {
            name: record.name.clone(),
            blake3: record.blake3,
            size: record.size,
            created,
        }
    }
}

impl Lake {
    /// Adds the file at `source` as `name`.
    ///
    /// Re-adding identical content is a no-op; different content under an
    /// existing name is refused with [`Error::NameTaken`].
    pub async fn add_path_async(
        &self,
        source: &Path,
        name: &Name,
        mode: AddMode,
    ) -> Result<AddOutcome> {
        self.add_path_with(source, name, mode, Existence::AskTheStore, None)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`Lake::add_path_async`] of bytes hashed earlier as `pinned`: if the
    /// file no longer has that digest, nothing is published
    /// ([`Error::SourceChanged`]). Asks only the index whether the name
    /// exists; the conditional create settles it with the store.
    pub(super) async fn add_pinned_async(
        &self,
        source: &Path,
        name: &Name,
        mode: AddMode,
        pinned: Digest,
    ) -> Result<AddOutcome> {
        self.add_path_with(source, name, mode, Existence::IndexIsComplete, Some(pinned))
            .await
            .map(|(outcome, _)| outcome)
    }

    /// Blocking [`Lake::add_path_async`].
    pub fn add_path(&self, source: &Path, name: &Name, mode: AddMode) -> Result<AddOutcome> {
        block_on(self.add_path_async(source, name, mode))
    }

    /// [`Lake::add_path_async`], also returning the record this call
    /// created with its e-tag, for a record pack.
    async fn add_path_with(
        &self,
        source: &Path,
        name: &Name,
        mode: AddMode,
        existence: Existence,
        pinned: Option<Digest>,
    ) -> Result<(AddOutcome, Option<PackedRecord>)> {
        let source_desc = source.display().to_string();
        let meta = std::fs::metadata(source).map_err(|e| Error::Source {
            source_desc: source_desc.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file".into()
            } else {
                e.to_string()
            },
        })?;
        if meta.is_dir() {
            return Err(Error::Source {
                source_desc,
                message: "it is a directory; add it with -r (recursive)".into(),
            });
        }
        if let Some(kind) = special_file_kind(&meta) {
            // A FIFO blocks forever, a device like /dev/zero never ends:
            // only regular files have content that a digest can name.
            return Err(Error::Source {
                source_desc,
                message: format!("it is a {kind}, not a regular file"),
            });
        }
        let absolute = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let stamp = SourceStamp::of(&meta);
        // Re-adding an existing name: compare digests without copying, and
        // without even reading the file when its stamp (size, times, inode)
        // is unchanged since an earlier add hashed it.
        let existing = match self.indexed_content(name)? {
            // A pending local source is in the memo before it is anywhere
            // else; the conditional create settles whether it exists.
            Some(_) if pinned.is_some() => None,
            Some(entry) => Some(entry),
            None if existence == Existence::AskTheStore => self
                .try_record(name)
                .await?
                .map(|record| (record.blake3, record.size)),
            None => None,
        };
        if let Some((existing, size)) = existing {
            let known = match &stamp {
                Some(stamp) => self.index().source_digest(&absolute, stamp)?,
                None => None,
            };
            let digest = match known {
                Some(digest) => digest,
                None => {
                    let src = source.to_path_buf();
                    tokio::task::spawn_blocking(move || hash_file(&src))
                        .await
                        .expect("hash task panicked")?
                        .0
                }
            };
            if digest != existing {
                return Err(Error::NameTaken {
                    name: name.clone(),
                    existing,
                    offered: digest,
                });
            }
            if let (Some(stamp), None) = (&stamp, known) {
                self.index().remember_source(&absolute, stamp, &digest)?;
            }
            if self.inner.home.has_blob_of_size(&digest, size) {
                if mode == AddMode::Move {
                    std::fs::remove_file(source).map_err(|e| Error::io("remove", source, e))?;
                }
                let outcome = AddOutcome {
                    name: name.clone(),
                    blake3: digest,
                    size,
                    created: false,
                };
                return Ok((outcome, None));
            }
        }
        let lineage = self.added_lineage(Some(absolute.display().to_string()));

        let home = self.inner.home.clone();
        let src = source.to_path_buf();
        let progress = Progress::new(
            self.inner.config.progress,
            meta.len(),
            &format!("add {name}"),
        );
        let expected = existing.map(|(digest, _)| digest);
        let task_name = name.clone();
        let source_desc = source.display().to_string();
        // Staging and installing the local copy share one blocking task:
        // `add -r` pays a thread hand-off per task, per file.
        let staged = tokio::task::spawn_blocking(move || {
            let staged = stage_source(&home, &src, &progress)?;
            if let Some(pinned) = pinned
                && pinned != staged.digest
            {
                return Err(Error::SourceChanged {
                    source_desc,
                    hashed: pinned,
                    now: staged.digest,
                });
            }
            if let Some(existing) = expected
                && existing != staged.digest
            {
                // The file changed since it was hashed above.
                return Err(Error::NameTaken {
                    name: task_name,
                    existing,
                    offered: staged.digest,
                });
            }
            let local = home.install(staged.path, &staged.digest, staged.size)?;
            Ok(Installed {
                local,
                digest: staged.digest,
                size: staged.size,
            })
        })
        .await
        .expect("staging task panicked");
        let result = match (staged, existing) {
            (Err(e), _) => Err(e),
            // The name holds these bytes already; only the local copy was
            // missing, and now it is there.
            (Ok(staged), Some((_, size))) => Ok((
                AddOutcome {
                    name: name.clone(),
                    blake3: staged.digest,
                    size,
                    created: false,
                },
                None,
            )),
            (Ok(staged), None) => {
                let ask_store = existence == Existence::AskTheStore;
                let allowed = match self.check_nesting(name, ask_store).await {
                    Ok(()) => self.check_tombstone(name, staged.digest, ask_store).await,
                    Err(e) => Err(e),
                };
                match allowed {
                    Ok(()) => {
                        self.publish_added(Publication {
                            name,
                            digest: staged.digest,
                            size: staged.size,
                            content: BlobSource::Local(&staged.local),
                            lineage,
                        })
                        .await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if mode == AddMode::Move {
            // The bytes are lake's own copy by now, committed: only the
            // user's path goes (for a symlink, the link, never its target).
            // On failure nothing of the source was touched.
            if result.is_ok() {
                std::fs::remove_file(source).map_err(|e| Error::io("remove", source, e))?;
            }
        } else if let (Ok((outcome, _)), Some(stamp)) = (&result, &stamp) {
            self.index()
                .remember_source(&absolute, stamp, &outcome.blake3)?;
        }
        result
    }

    /// The directories lake itself writes to: the home and, for a
    /// `file://` store, the store. `add -r` never walks into them.
    fn own_directories(&self) -> Vec<PathBuf> {
        let mut own = vec![self.inner.home.root().to_path_buf()];
        own.extend(self.local_store_root());
        own
    }

    /// Adds every file below `dir` as `name/<relative path>`.
    ///
    /// All names are validated before anything is added.
    pub async fn add_dir_async(
        &self,
        dir: &Path,
        name: &Name,
        mode: AddMode,
    ) -> Result<Vec<AddOutcome>> {
        // Absolute from the start: the index remembers sources by absolute
        // path, and resolving each file on its own costs a system call.
        let dir = &std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
        // The local copies are listed while the walk runs: both are mostly
        // waiting on the kernel, and the machine has more than one core.
        let excluded = self.own_directories();
        let (walk, local) = std::thread::scope(|scope| {
            let local = (mode != AddMode::Move)
                .then(|| scope.spawn(|| self.inner.home.local_copy_digests()));
            let walk = walk_files(dir, &excluded);
            let local = local.map(|t| t.join().expect("listing local copies panicked"));
            (walk, local)
        });
        let walk = walk?;
        let local = local.transpose()?;
        if !walk.skipped.is_empty() {
            let shown: Vec<String> = walk
                .skipped
                .iter()
                .take(5)
                .map(|(path, why)| format!("{} ({why})", path.display()))
                .collect();
            tracing::warn!(
                "skipped {} entr{} below {}: {}{}",
                walk.skipped.len(),
                if walk.skipped.len() == 1 { "y" } else { "ies" },
                dir.display(),
                shown.join(", "),
                if walk.skipped.len() > 5 { ", …" } else { "" }
            );
        }
        let mut jobs = Vec::with_capacity(walk.files.len());
        for (file, meta) in walk.files {
            let relative = file.strip_prefix(dir).expect("walked below dir");
            // Every name is made before anything is added, so a bad one
            // stops the whole add with nothing committed. Lossy decoding
            // would give `x\xff` and `x\xfe` one name.
            let Some(relative) = relative.to_str() else {
                return Err(Error::Source {
                    source_desc: format!("{:?}", file.as_os_str()),
                    message: "its path is not valid UTF-8, so it has no name in the lake; \
                              rename it (nothing was added)"
                        .into(),
                });
            };
            let relative = relative.replace(std::path::MAIN_SEPARATOR, "/");
            let name = name.join(&relative)?;
            jobs.push(DirJob { file, name, meta });
        }
        // Unchanged files already in the lake are settled from the index in
        // one pass: no hashing, no store request, no task per file.
        let (mut outcomes, slow) = match local {
            Some(local) => self.settle_unchanged(dir, name, jobs, &local)?,
            None => (Vec::new(), jobs),
        };
        if slow.is_empty() {
            return Ok(outcomes);
        }
        // One listing of the prefix instead of one existence check per file.
        self.refresh_below(Some(name)).await?;
        // The listing covers what is below the prefix; the prefix and its
        // own folders must not be files, which the store says once.
        if let Some(job) = slow.first() {
            self.check_no_file_above(&job.name, true).await?;
        }
        // And like the names themselves, every one is checked before any
        // is added, so a refusal leaves nothing half added.
        for job in &slow {
            self.check_nesting(&job.name, false).await?;
        }
        let batch = IndexBatch::begin(self)?;
        let overall = Overall::new(
            self.inner.config.progress,
            slow.len(),
            &format!("add {name}"),
        );
        let overall = &overall;
        let added: Vec<(AddOutcome, Option<PackedRecord>)> = futures::stream::iter(slow)
            .map(|job| async move {
                let added = self
                    .add_path_with(&job.file, &job.name, mode, Existence::IndexIsComplete, None)
                    .await;
                overall.inc();
                added
            })
            .buffer_unordered(PARALLEL_ADDS)
            .try_collect()
            .await?;
        batch.finish()?;
        let mut packed = Vec::new();
        for (outcome, record) in added {
            outcomes.push(outcome);
            packed.extend(record);
        }
        self.write_record_pack(name, packed).await;
        Ok(outcomes)
    }

    /// Splits `jobs` into files whose name already holds their content with
    /// a local copy among `local` (judged by the remembered source stamp, so
    /// nothing is read) and the rest.
    fn settle_unchanged(
        &self,
        dir: &Path,
        prefix: &Name,
        jobs: Vec<DirJob>,
        local: &std::collections::HashSet<Digest>,
    ) -> Result<(Vec<AddOutcome>, Vec<DirJob>)> {
        let (contents, sources) = {
            let index = self.index();
            let contents: std::collections::HashMap<Name, (Digest, u64)> = index
                .list(prefix.as_str())?
                .into_iter()
                .map(|e| (e.name, (e.blake3, e.size)))
                .collect();
            (contents, index.sources_below(dir)?)
        };
        let mut settled = Vec::new();
        let mut slow = Vec::new();
        for job in jobs {
            let unchanged = sources.get(&job.file).and_then(|(stamp, digest)| {
                (SourceStamp::of(&job.meta).as_ref() == Some(stamp)).then_some(*digest)
            });
            match (unchanged, contents.get(&job.name)) {
                (Some(digest), Some(&(existing, size)))
                    if digest == existing && local.contains(&digest) =>
                {
                    settled.push(AddOutcome {
                        name: job.name,
                        blake3: digest,
                        size,
                        created: false,
                    });
                }
                _ => slow.push(job),
            }
        }
        Ok((settled, slow))
    }

    /// [`Lake::add_dir_async`], blocking.
    pub fn add_dir(&self, dir: &Path, name: &Name, mode: AddMode) -> Result<Vec<AddOutcome>> {
        block_on(self.add_dir_async(dir, name, mode))
    }

    /// [`Lake::add_url_async`], blocking.
    pub fn add_url(&self, url: &str, name: &Name) -> Result<AddOutcome> {
        block_on(self.add_url_async(url, name))
    }

    /// Downloads `url` and adds it as `name`. A non-2xx answer is an error
    /// and nothing is stored.
    pub async fn add_url_async(&self, url: &str, name: &Name) -> Result<AddOutcome> {
        let shown = crate::store::redact_url(url);
        let source_err = |message: String| Error::Source {
            source_desc: shown.clone(),
            message,
        };
        let response = reqwest::get(url)
            .await
            .map_err(|e| source_err(redact_known_secrets(&e.without_url().to_string())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(source_err(format!("the server answered {status}")));
        }
        let progress = Progress::new(
            self.inner.config.progress,
            response.content_length().unwrap_or(0),
            &format!("add {name}"),
        );
        let body = response
            .bytes_stream()
            .map_err(|e| source_err(redact_known_secrets(&e.without_url().to_string())));
        let (tmp_path, digest, size) = self.stage_stream(body, &progress).await?;
        let lineage = self.added_lineage(Some(shown.clone()));
        self.commit_staged(tmp_path, digest, size, name, lineage)
            .await
    }

    pub(crate) fn added_lineage(&self, source: Option<String>) -> Lineage {
        Lineage::Added(AddedLineage {
            source,
            added_by: self.originator().to_owned(),
            host: crate::lineage::host(),
            added_at: Utc::now(),
            lake_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }
}

/// Where `add` learns whether a name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existence {
    /// The index, else the store (one small request).
    AskTheStore,
    /// The index alone: it was just refreshed for this name's prefix.
    IndexIsComplete,
}

/// Index writes grouped into few transactions while it lives. Dropping it
/// on an error path still commits what was written: every row describes
/// something already in the store.
struct IndexBatch<'a> {
    lake: Option<&'a Lake>,
}

impl<'a> IndexBatch<'a> {
    fn begin(lake: &'a Lake) -> Result<Self> {
        lake.index().begin_batch()?;
        Ok(Self { lake: Some(lake) })
    }

    /// Ends the batch, reporting a failed commit.
    fn finish(mut self) -> Result<()> {
        match self.lake.take() {
            Some(lake) => lake.index().end_batch(),
            None => Ok(()),
        }
    }
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        if let Some(lake) = self.lake.take()
            && let Err(e) = lake.index().end_batch()
        {
            tracing::warn!(error = %e, "could not commit index writes");
        }
    }
}

/// The kind of a file that is not regular and not a directory, if it is one.
fn special_file_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return Some("named pipe (FIFO)");
        }
        if kind.is_socket() {
            return Some("socket");
        }
        if kind.is_char_device() {
            return Some("character device");
        }
        if kind.is_block_device() {
            return Some("block device");
        }
    }
    (!meta.is_file() && !meta.is_dir()).then_some("special file")
}

/// A file found by [`Lake::add_dir_async`], with the name it gets.
struct DirJob {
    file: PathBuf,
    name: Name,
    meta: std::fs::Metadata,
}
