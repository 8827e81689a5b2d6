//! The `Store` contract: the few operations lake needs from an object store.
//!
//! Backends live in `lake-runtime`; this module holds the contract (here),
//! the key layout ([`StorePath`], in `path`), the errors (`error`) and the
//! conveniences every store gets ([`StoreExt`], in `ext`), with no I/O.

mod error;
mod ext;
mod path;

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use error::{StoreConfigError, StoreError};
pub use ext::StoreExt;
pub use path::{
    BLOBS_PREFIX, GC_TRASH_PREFIX, HISTORY_PREFIX, NAMES_PREFIX, PACKS_PREFIX, RUNS_PREFIX,
    StorePath, TOMBSTONES_PREFIX, UPLOADS_PREFIX,
};

/// The version of a stored object, used for compare-and-swap.
///
/// Opaque: compare it only for equality and hand it back to
/// [`PutMode::Update`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The HTTP e-tag, if the backend has one.
    pub e_tag: Option<String>,
    /// A backend version id, if the backend has one.
    pub version: Option<String>,
}

/// What the store knows about one object, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its key.
    pub path: StorePath,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// Its version, for [`PutMode::Update`].
    pub version: ObjectVersion,
}

/// How [`Store::put`] treats an existing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    Overwrite,
    /// Fail with [`StoreError::AlreadyExists`] if the key exists.
    Create,
    /// Replace only if the current version equals this one, else fail with
    /// [`StoreError::Precondition`].
    Update(ObjectVersion),
}

/// One page of [`Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects in ascending key order.
    pub objects: Vec<ObjectMeta>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<StorePath>,
}

/// A multipart upload that was begun and neither completed nor aborted,
/// as [`Store::incomplete_uploads`] lists it. Its parts take storage that
/// the owner pays for, and no listing of objects shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteUpload {
    /// The key the upload was meant to create, relative to the store.
    pub path: String,
    /// The backend's id of the upload.
    pub id: String,
    /// When it was begun.
    pub initiated: DateTime<Utc>,
}

/// How lake reads a large object from a store: as ranges of `range_size`
/// bytes, `concurrency` of them at once. Without a range size, the object
/// is split evenly into `concurrency` ranges. See
/// [`Store::download_tuning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadTuning {
    /// Bytes per range request, or `None` for an even split.
    pub range_size: Option<u64>,
    /// Range requests in flight at once.
    pub concurrency: usize,
}

impl Default for DownloadTuning {
    /// Four even ranges: few and large, since some servers (moto) read
    /// the whole object for every range request.
    fn default() -> Self {
        Self {
            range_size: None,
            concurrency: 4,
        }
    }
}

/// A streaming read: metadata first, then the content in chunks.
pub struct GetStream {
    /// The object's metadata at the time of the read.
    pub meta: ObjectMeta,
    /// The content.
    pub chunks: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl fmt::Debug for GetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetStream")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// An object store as lake needs it.
///
/// # Contract
/// Every backend (memory, local directory, S3, Azure, GCS) behaves the same,
/// and `lake_runtime::testing` checks it with one conformance suite.
///
/// - **Atomicity**: a reader sees an object whole or not at all. A `put` that
///   fails or is interrupted leaves the previous state (nothing, or the old
///   object). `put_file` is atomic the same way, even for large files.
/// - **Not found**: `head`, `get` and `put` with [`PutMode::Update`] on a
///   missing key fail with [`StoreError::NotFound`]. `delete` of a missing key
///   succeeds (deletes are idempotent).
/// - **Conditional create**: `put` with [`PutMode::Create`] succeeds for
///   exactly one of any number of concurrent callers; the others get
///   [`StoreError::AlreadyExists`]. It never overwrites.
/// - **Compare-and-swap**: `put` with [`PutMode::Update`] succeeds only if the
///   object's version still equals the given one, else
///   [`StoreError::Precondition`]. The returned version identifies the new
///   content.
/// - **Listing**: `list` returns the objects whose key lies below `prefix`
///   (segment-wise), strictly after `after`, in ascending key order, at most
///   `limit` per page. Following `next` until it is `None` visits each object
///   present for the whole listing exactly once.
/// - **Idempotence**: `put_file` and `put` with [`PutMode::Overwrite`] of the
///   same bytes may be repeated; lake only overwrites content-addressed blobs.
/// - **Secrets**: errors and `Display` never show credentials.
pub trait Store: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Metadata of `path`.
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>>;

    /// Streams the content of `path`.
    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>>;

    /// Streams the bytes `range` of `path`, which must lie within the
    /// object and not be empty. Large downloads read several ranges at once.
    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>>;

    /// Writes `bytes` to `path` under `mode`, returning the new version.
    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>>;

    /// Uploads a local file to `path`, streaming (multipart where the backend
    /// has it), overwriting whatever is there.
    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// One page of the objects below `prefix`, see the contract.
    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>>;

    /// Deletes `path`; succeeds if it is already gone.
    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Uploads `chunks` to `path` as one object, streaming (multipart where
    /// the backend has it, so memory stays bounded whatever the size),
    /// overwriting whatever is there. Atomic like `put`: the object appears
    /// whole once the stream ends, and an error in the stream aborts the
    /// upload and leaves `path` as it was. Returns the bytes written.
    ///
    /// The default collects the stream in memory and calls `put`: correct
    /// for any backend, bounded for none.
    fn put_stream<'a>(
        &'a self,
        path: &'a StorePath,
        mut chunks: BoxStream<'a, std::io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            use futures::StreamExt;
            let mut all = Vec::new();
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| StoreError::Backend {
                    operation: "put_stream",
                    path: path.to_string(),
                    store: self.to_string(),
                    message: format!("the stream failed: {e}"),
                })?;
                all.extend_from_slice(&chunk);
            }
            let size = all.len() as u64;
            self.put(path, Bytes::from(all), PutMode::Overwrite).await?;
            Ok(size)
        })
    }

    /// Copies the object `from` to `to`, overwriting `to`: inside the
    /// store (server-side) where the backend can.
    ///
    /// The default reads `from` whole and puts it at `to`.
    fn copy<'a>(
        &'a self,
        from: &'a StorePath,
        to: &'a StorePath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            use futures::TryStreamExt;
            let got = self.get(from).await?;
            let bytes: Vec<Bytes> = got.chunks.try_collect().await?;
            self.put(to, Bytes::from(bytes.concat()), PutMode::Overwrite)
                .await?;
            Ok(())
        })
    }

    /// How to read large objects from this store (its `download_range_size`
    /// and `download_concurrency` options, for cloud stores). The default
    /// is [`DownloadTuning::default`].
    fn download_tuning(&self) -> DownloadTuning {
        DownloadTuning::default()
    }

    /// The multipart uploads begun in this store (below its prefix) that
    /// were never completed nor aborted: what a writer killed mid-upload
    /// leaves. Backends without such uploads, or that cannot list them,
    /// answer none, which is what this default does.
    fn incomplete_uploads<'a>(
        &'a self,
    ) -> BoxFuture<'a, Result<Vec<IncompleteUpload>, StoreError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Aborts `upload`, one of [`Store::incomplete_uploads`], deleting its
    /// parts. A writer still sending parts to it then fails; nothing it
    /// wrote was visible, so nothing is lost but its work. Succeeds if the
    /// upload is already gone.
    fn abort_upload<'a>(
        &'a self,
        upload: &'a IncompleteUpload,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let unsupported = StoreError::NotSupported {
            operation: format!("aborting the upload {} of {}", upload.id, upload.path),
            store: self.to_string(),
        };
        Box::pin(async move { Err(unsupported) })
    }

    /// A presigned URL: anyone holding it can `GET` `path` without
    /// credentials until `expires_in` has passed. Backends that cannot sign
    /// (a local directory, memory, plain HTTP) answer
    /// [`StoreError::NotSupported`], which is what this default does.
    fn signed_get_url<'a>(
        &'a self,
        path: &'a StorePath,
        expires_in: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        let _ = (path, expires_in);
        let unsupported = StoreError::NotSupported {
            operation: "presigned URLs".into(),
            store: self.to_string(),
        };
        Box::pin(async move { Err(unsupported) })
    }
}
