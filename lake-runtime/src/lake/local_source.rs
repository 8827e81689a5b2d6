//! Local sources (issue 13 item 6; thds.mops' `SrcFile`): a file on this
//! machine that stands as a creator's input by its content, and is uploaded
//! only when a creator that takes it actually runs.
//!
//! [`Lake::local_source`] hashes the file and names it
//! `sources/<blake3>/<file name>`, a name derived from the content, so the
//! same bytes always make the same key. The digest goes into the memo, so
//! computing a call's key and answering a hit read neither the record nor
//! the store: a hit uploads nothing. On a miss, the run uploads the pending
//! sources among its inputs before the body starts (the lineage it
//! commits names them, so they must exist), and anything that reads the
//! record ([`Lake::record_async`], so `open`, `read`, `local_path`) uploads
//! it first too.
//!
//! The upload hashes the file again as it stages it and refuses to publish
//! bytes other than those hashed at first: a file edited in between would
//! otherwise put new content under a name that states the old digest.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lake_core::{Digest, Name};

use super::add::AddMode;
use crate::{Error, File, Lake, Result};

/// A local source not uploaded yet. The lock serializes its upload: calls
/// running in parallel on the same source wait for the first to finish
/// rather than reading a record that is not there yet.
pub(super) type PendingSource = Arc<tokio::sync::Mutex<Option<LocalSource>>>;

/// What a local source was when it was hashed.
#[derive(Debug, Clone)]
pub(super) struct LocalSource {
    path: PathBuf,
    digest: Digest,
}

impl Lake {
    /// A handle to the local file at `path`, for use as a creator's input:
    /// hashed now, named `sources/<blake3>/<file name>`, and uploaded only
    /// when a creator taking it runs or its content is read through the
    /// lake. A call that is a hit uploads nothing.
    ///
    /// # Errors
    /// [`Error::Source`] if `path` is not a readable regular file.
    ///
    /// # Example
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let lake = lake_runtime::Lake::open_with(lake_runtime::LakeConfigBuilder::new()
    /// #     .with_home(dir.path().join("home")).build()?)?;
    /// std::fs::write(dir.path().join("params.csv"), "a,b\n1,2\n")?;
    /// let params = lake.local_source(dir.path().join("params.csv"))?;
    /// assert!(params.name().as_str().starts_with("sources/"));
    /// assert!(!params.exists_in_store()?); // nothing uploaded yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_source(&self, path: impl AsRef<Path>) -> Result<File> {
        let path = path.as_ref();
        let source = |message: String| Error::Source {
            source_desc: path.display().to_string(),
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| source(e.to_string()))?;
        if !meta.is_file() {
            return Err(source("a local source must be a regular file".into()));
        }
        let (digest, size) = crate::home::hash_file(path)?;
        let hex = digest.to_hex();
        let file_name = path.file_name().and_then(|n| n.to_str());
        let name = file_name
            .and_then(|n| Name::new(format!("sources/{hex}/{n}")).ok())
            .map_or_else(|| Name::new(format!("sources/{hex}")), Ok)?;
        let known = self.indexed_content(&name)?;
        if known.is_none() {
            let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
            let pending = LocalSource {
                path: absolute,
                digest,
            };
            let mut memo = self.memo();
            memo.digests.insert(name.clone(), (digest, size));
            memo.local_sources
                .entry(name.clone())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Some(pending))));
        }
        Ok(File::from_parts(self.clone(), name))
    }

    /// Uploads `name` if it is a local source not uploaded yet; waits for
    /// an upload in progress. True if this call uploaded it.
    pub(crate) async fn upload_if_local_source(&self, name: &Name) -> Result<bool> {
        let Some(pending) = self.memo().local_sources.get(name).cloned() else {
            return Ok(false);
        };
        let mut slot = pending.lock().await;
        let Some(source) = slot.as_ref() else {
            return Ok(false);
        };
        let outcome = self
            .add_pinned_async(&source.path, name, AddMode::Copy, source.digest)
            .await?;
        tracing::info!(%name, path = %source.path.display(), created = outcome.created, "uploaded a local source");
        *slot = None;
        drop(slot);
        self.memo().local_sources.remove(name);
        Ok(true)
    }

    /// Uploads the pending local sources among `inputs`, before a run.
    pub(crate) async fn upload_local_sources<'a>(
        &self,
        inputs: impl IntoIterator<Item = &'a File>,
    ) -> Result<()> {
        if self.memo().local_sources.is_empty() {
            return Ok(());
        }
        for file in inputs {
            self.upload_if_local_source(file.name()).await?;
        }
        Ok(())
    }
}

impl File {
    /// A local file as a creator input, in the current lake
    /// ([`Lake::current`]); see [`Lake::local_source`].
    pub fn local_source(path: impl AsRef<Path>) -> Result<File> {
        Lake::current()?.local_source(path)
    }
}
