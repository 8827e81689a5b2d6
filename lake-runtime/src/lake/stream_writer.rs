//! Streamed writes (issue 13 item 5; octue's issue #280): content written
//! straight to the store, hashed on the way, with no copy on local disk and
//! memory bounded whatever the size.
//!
//! The digest, and so the blob's key, is known only at the end. The bytes
//! therefore stream to a temporary object `uploads/<id>` (multipart where
//! the backend has it, [`Store::put_stream`](lake_core::Store::put_stream));
//! the commit copies it to `blobs/<digest>` inside the store, creates the
//! name record by the usual conditional create, makes sure the blob is
//! still there (the `ensure_blob` step of 0010, copying again from the
//! temporary object if a concurrent `rm` took it), and deletes the
//! temporary object. The record is the same as a [`crate::FileWriter`]
//! would make for the same bytes. A temporary object that a crash leaves
//! behind is `lake gc`'s (`store-upload` items, past the grace period).

use std::io;

use bytes::{Bytes, BytesMut};
use lake_core::{Digest, Name, StoreError, StorePath};

use super::AddOutcome;
use super::publish::{BlobSource, Publication};
use crate::blocking::block_on;
use crate::{Error, File, Lake, Result};

/// Bytes gathered before a chunk goes to the upload.
const CHUNK: usize = 1 << 20;
/// Chunks queued for the upload. With the chunk being filled, the upload's
/// part being assembled and its parts in flight, a writer holds about
/// 30 MiB (measured peak RSS of a whole 1 GiB streaming process: see
/// tests/tests/stream.rs).
const QUEUED_CHUNKS: usize = 4;

type Upload = tokio::task::JoinHandle<std::result::Result<u64, StoreError>>;

/// Writes a new file straight to the store; nothing is visible until
/// [`StoreWriter::commit`]. Made by [`Lake::create_streaming`].
///
/// Unlike [`crate::FileWriter`], nothing is written to the home: the
/// content is not cached locally after the commit, and reading it back
/// downloads it. Use it for outputs larger than the local disk, or where
/// the disk is slow or small.
///
/// # Example
/// ```
/// use std::io::Write;
///
/// # let dir = tempfile::tempdir()?;
/// # let lake = lake_runtime::Lake::open_with(lake_runtime::LakeConfigBuilder::new()
/// #     .with_home(dir.path().join("home")).build()?)?;
/// let mut out = lake.create_streaming("exports/big.csv")?;
/// for row in 0..1000 {
///     writeln!(out, "{row},{}", row * row)?;
/// }
/// let file = out.commit()?;
/// assert!(!file.exists_locally()?); // nothing cached in the home
/// assert_eq!(file.read_text()?.lines().count(), 1000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StoreWriter {
    lake: Lake,
    name: Name,
    object: StorePath,
    buffer: BytesMut,
    hasher: blake3::Hasher,
    size: u64,
    sender: Option<tokio::sync::mpsc::Sender<io::Result<Bytes>>>,
    upload: Option<Upload>,
}

impl Lake {
    /// Starts writing `name` straight to the store; see [`StoreWriter`].
    ///
    /// # Errors
    /// [`Error::StreamingInRun`] inside a `#[file_creator]` body, whose
    /// outputs are committed together after the body (use
    /// `File::create_output`).
    pub fn create_streaming(&self, name: impl AsRef<str>) -> Result<StoreWriter> {
        let name = Name::new(name.as_ref())?;
        if crate::run::current_run().is_some() {
            return Err(Error::StreamingInRun { name });
        }
        let id = format!(
            "{}-{}",
            std::process::id(),
            Digest::of(format!("{name}{:?}", std::time::SystemTime::now()).as_bytes())
        );
        let object = StorePath::upload(&id)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(QUEUED_CHUNKS);
        let store = self.store().clone();
        let target = object.clone();
        let upload = crate::blocking::spawn(async move {
            let chunks = futures::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|chunk| (chunk, receiver))
            });
            store.put_stream(&target, Box::pin(chunks)).await
        });
        Ok(StoreWriter {
            lake: self.clone(),
            name,
            object,
            buffer: BytesMut::with_capacity(CHUNK),
            hasher: blake3::Hasher::new(),
            size: 0,
            sender: Some(sender),
            upload: Some(upload),
        })
    }
}

impl File {
    /// Starts writing `name` straight to the store of the current lake
    /// ([`Lake::current`]); see [`StoreWriter`].
    pub fn create_streaming(name: impl AsRef<str>) -> Result<StoreWriter> {
        Lake::current()?.create_streaming(name)
    }
}

impl StoreWriter {
    /// The name this writer will commit to.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Async [`std::io::Write::write_all`]: for async code, where the
    /// blocking `write` would hold a runtime thread while the upload
    /// catches up.
    pub async fn write_all_async(&mut self, bytes: &[u8]) -> Result<()> {
        self.take_in(bytes);
        if self.buffer.len() >= CHUNK {
            let chunk = self.buffer.split().freeze();
            self.send(chunk).await?;
        }
        Ok(())
    }

    /// Makes the file visible in the lake: finishes the upload, then
    /// publishes it under its name, as [`crate::FileWriter::commit`] does.
    pub fn commit(self) -> Result<File> {
        block_on(self.commit_async())
    }

    /// Async [`StoreWriter::commit`].
    pub async fn commit_async(mut self) -> Result<File> {
        let rest = self.buffer.split().freeze();
        if !rest.is_empty() {
            self.send(rest).await?;
        }
        drop(self.sender.take());
        let uploaded = self.finish_upload().await?;
        debug_assert_eq!(uploaded, self.size);
        let digest: Digest = self.hasher.finalize().into();
        let lineage = self.lake.added_lineage(None);
        let published = self
            .lake
            .commit_uploaded(&self.object, digest, self.size, &self.name, lineage)
            .await;
        // The blob has its own copy now (or publishing failed): either way
        // the temporary object has done its job.
        if let Err(e) = self.lake.store().delete(&self.object).await {
            tracing::warn!(object = %self.object, error = %e, "could not delete a streamed upload; lake gc will");
        }
        published?;
        Ok(File::from_parts(self.lake.clone(), self.name.clone()))
    }

    fn take_in(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.buffer.extend_from_slice(bytes);
        self.size += bytes.len() as u64;
    }

    async fn send(&mut self, chunk: Bytes) -> Result<()> {
        let sender = self.sender.as_ref().expect("the sender lives until commit");
        if sender.send(Ok(chunk)).await.is_ok() {
            return Ok(());
        }
        // The upload stopped taking chunks: it failed, and says why.
        drop(self.sender.take());
        match self.finish_upload().await {
            Err(e) => Err(e),
            Ok(_) => unreachable!("an upload that ended early without an error"),
        }
    }

    async fn finish_upload(&mut self) -> Result<u64> {
        let upload = self.upload.take().expect("one upload per writer");
        match upload.await {
            Ok(result) => Ok(result?),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

impl io::Write for StoreWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.take_in(buf);
        if self.buffer.len() >= CHUNK {
            let chunk = self.buffer.split().freeze();
            block_on(self.send(chunk))
                .map_err(|e| io::Error::other(format!("cannot write {:?}: {e}", self.name)))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Chunks go out as they fill; a commit sends the rest.
        Ok(())
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        // Not committed: the upload must abort, not complete with what it
        // has, so it gets an error instead of the end of its stream.
        if let (Some(sender), Some(upload)) = (self.sender.take(), self.upload.take()) {
            let aborted = io::Error::other("the writer was dropped without a commit");
            block_on(async move {
                let _ = sender.send(Err(aborted)).await;
                drop(sender);
                let _ = upload.await;
            });
        }
    }
}

impl std::fmt::Debug for StoreWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreWriter")
            .field("name", &self.name.as_str())
            .field("size", &self.size)
            .field("upload", &self.object.as_str())
            .finish_non_exhaustive()
    }
}

impl Lake {
    /// Publishes the uploaded object `object` (content `digest`, `size`)
    /// as `name`, the way an add publishes a local copy.
    async fn commit_uploaded(
        &self,
        object: &StorePath,
        digest: Digest,
        size: u64,
        name: &Name,
        lineage: lake_core::Lineage,
    ) -> Result<AddOutcome> {
        if let Some(existing) = self.try_record(name).await? {
            if existing.blake3 != digest {
                return Err(Error::NameTaken {
                    name: name.clone(),
                    existing: existing.blake3,
                    offered: digest,
                });
            }
            return Ok(AddOutcome::of(&existing, false));
        }
        self.check_nesting(name, true).await?;
        self.check_tombstone(name, digest, true).await?;
        self.publish_added(Publication {
            name,
            digest,
            size,
            content: BlobSource::Uploaded(object),
            lineage,
        })
        .await
        .map(|(outcome, _)| outcome)
    }
}
