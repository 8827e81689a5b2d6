//! [`ObjectBackend`]: the [`Store`] contract over any `object_store` backend.
//!
//! Its errors are mapped by `ErrorContext` (module `errors`), which removes
//! credentials with the helpers of module `redact`.

use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt, TryStreamExt};
use lake_core::{
    DownloadTuning, GetStream, IncompleteUpload, ListPage, ObjectMeta, ObjectVersion, PutMode,
    Store, StoreError, StorePath,
};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{GetRange, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, UpdateVersion};

use super::errors::ErrorContext;
use super::options::{MAX_STREAM_PARTS_IN_FLIGHT, TransferTuning};
use super::parts::{FeedError, PartUploader};
// Kept at their old paths (`store::object::redact_url`) for callers.
#[doc(no_inline)]
pub use super::redact::{redact_known_secrets, redact_url};

/// Files at least this large go up by multipart upload; smaller ones in a
/// single request, which is cheaper and just as atomic.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;

/// Converts a [`StorePath`] (or a listing prefix, which may be empty) to an
/// `object_store` path without re-encoding, so keys come back verbatim.
pub(crate) fn to_path(key: &StorePath) -> Result<Path, StoreError> {
    Path::parse(key.as_str()).map_err(|_| StoreError::InvalidPath {
        path: key.as_str().to_owned(),
    })
}

pub(crate) fn to_meta(meta: object_store::ObjectMeta) -> Result<ObjectMeta, StoreError> {
    Ok(ObjectMeta {
        path: StorePath::parse(meta.location.as_ref())?,
        size: meta.size,
        last_modified: meta.last_modified,
        version: ObjectVersion {
            e_tag: meta.e_tag,
            version: meta.version,
        },
    })
}

/// `e_tag` in the quoted form of an HTTP `ETag` header; unchanged if it is
/// quoted already (or weak, `W/"…"`).
fn quoted_e_tag(e_tag: String) -> String {
    if e_tag.starts_with('"') || e_tag.starts_with("W/") {
        e_tag
    } else {
        format!("\"{e_tag}\"")
    }
}

fn to_mode(mode: PutMode) -> object_store::PutMode {
    match mode {
        PutMode::Overwrite => object_store::PutMode::Overwrite,
        PutMode::Create => object_store::PutMode::Create,
        PutMode::Update(v) => object_store::PutMode::Update(UpdateVersion {
            e_tag: v.e_tag,
            version: v.version,
        }),
    }
}

/// A [`Store`] over any [`ObjectStore`]: memory, S3, Azure, GCS, HTTP.
///
/// `Display` and `Debug` show only the redacted URL: the wrapped backends'
/// own `Debug` may print their configuration, credentials included.
#[derive(Clone)]
pub struct ObjectBackend {
    inner: Arc<dyn ObjectStore>,
    errors: ErrorContext,
    /// S3, GCS, Azure and memory list in key order, which lets a page stop
    /// reading early; the local filesystem and HTTP do not.
    sorted_listing: bool,
    /// A prefix the backend uses for its own bookkeeping, never listed.
    hidden_prefix: Option<&'static str>,
    /// See [`ObjectBackend::with_unquoted_listed_e_tags`].
    quote_listed_e_tags: bool,
    /// The same store as `inner`, as a signer of presigned URLs, where the
    /// backend can sign (S3, Azure, GCS).
    signer: Option<Arc<dyn Signer>>,
    /// Lists and aborts incomplete multipart uploads (S3 only).
    s3_uploads: Option<Arc<super::s3_uploads::S3Uploads>>,
    /// Multipart uploads' part size and parts in flight (memory per upload
    /// stays near `(parts_in_flight + 1) * part_size`), and downloads'
    /// ranges.
    transfers: TransferTuning,
}

impl ObjectBackend {
    /// Wraps `inner`, known to callers as `url` (redacted before it is kept).
    ///
    /// Assumes `inner` lists in key order, as S3, GCS, Azure and memory do.
    pub fn new(inner: Arc<dyn ObjectStore>, url: &str) -> Self {
        Self {
            inner,
            errors: ErrorContext::new(&redact_url(url), Vec::new()),
            sorted_listing: true,
            hidden_prefix: None,
            quote_listed_e_tags: false,
            signer: None,
            s3_uploads: None,
            transfers: TransferTuning::default(),
        }
    }

    /// Signs presigned URLs with `signer`, which must be the same store as
    /// `inner` (object_store's S3, Azure and GCS stores are both).
    pub fn with_signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// Sends multipart uploads and reads large objects as `transfers` says.
    pub(crate) fn with_transfer_tuning(mut self, transfers: TransferTuning) -> Self {
        self.transfers = transfers;
        self
    }

    /// Lets `lake gc` list and abort this S3 store's incomplete multipart
    /// uploads.
    pub(crate) fn with_s3_uploads(mut self, uploads: super::s3_uploads::S3Uploads) -> Self {
        self.s3_uploads = Some(Arc::new(uploads));
        self
    }

    /// Values never to show in an error message, e.g. the secret key the
    /// backend was configured with, should the backend ever echo it.
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = String>) -> Self {
        // Short values would mangle unrelated text and are no real secret.
        let secrets = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        self.errors = ErrorContext::new(self.errors.store(), secrets);
        self
    }

    /// Declares that `inner` lists in no particular order, so every page
    /// reads the whole listing and sorts it.
    pub fn with_unsorted_listing(mut self) -> Self {
        self.sorted_listing = false;
        self
    }

    /// Declares that `inner` lists e-tags without the quotes that its
    /// `put`, `head` and `get` answers carry, as Azure does (its listing XML
    /// has `0x8D…`, its `ETag` header `"0x8D…"`), so listings add them. The
    /// contract wants one spelling: record packs trust a listed name only if
    /// its e-tag equals the one its create returned.
    pub fn with_unquoted_listed_e_tags(mut self) -> Self {
        self.quote_listed_e_tags = true;
        self
    }

    pub(crate) fn with_hidden_prefix(mut self, prefix: &'static str) -> Self {
        self.hidden_prefix = Some(prefix);
        self
    }

    /// The wrapped `object_store` backend.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    pub(crate) fn errors(&self) -> &ErrorContext {
        &self.errors
    }

    pub(crate) async fn head_inner(&self, path: &StorePath) -> Result<ObjectMeta, StoreError> {
        let location = to_path(path)?;
        let meta = self
            .inner
            .head(&location)
            .await
            .map_err(|e| self.errors.map("head", path.as_str(), e))?;
        to_meta(meta)
    }

    pub(crate) async fn put_inner(
        &self,
        path: &StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> Result<ObjectVersion, StoreError> {
        let location = to_path(path)?;
        let is_update = matches!(mode, PutMode::Update(_));
        let opts = PutOptions {
            mode: to_mode(mode),
            ..Default::default()
        };
        match self
            .inner
            .put_opts(&location, PutPayload::from(bytes), opts)
            .await
        {
            Ok(result) => Ok(ObjectVersion {
                e_tag: result.e_tag,
                version: result.version,
            }),
            // object_store reports an Update of a missing key as a failed
            // precondition; the contract says NotFound, so tell them apart.
            Err(object_store::Error::Precondition { .. }) if is_update => {
                match self.head_inner(path).await {
                    Err(e) if e.is_not_found() => Err(e),
                    _ => Err(StoreError::Precondition {
                        path: path.to_string(),
                        store: self.errors.store().to_owned(),
                    }),
                }
            }
            Err(e) => Err(self.errors.map("put", path.as_str(), e)),
        }
    }

    async fn get_inner(
        &self,
        path: &StorePath,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<GetStream, StoreError> {
        let location = to_path(path)?;
        let options = object_store::GetOptions::new().with_range(range.map(GetRange::Bounded));
        let result = self
            .inner
            .get_opts(&location, options)
            .await
            .map_err(|e| self.errors.map("get", path.as_str(), e))?;
        let meta = to_meta(result.meta.clone())?;
        let errors = self.errors.clone();
        let key = path.to_string();
        let chunks = result
            .into_stream()
            .map_err(move |e| errors.map("get", &key, e))
            .boxed();
        Ok(GetStream { meta, chunks })
    }

    async fn put_file_inner(
        &self,
        path: &StorePath,
        file: &std::path::Path,
    ) -> Result<(), StoreError> {
        let io = |e: std::io::Error| self.errors.io("put_file", path.as_str(), file, &e);
        let size = tokio::fs::metadata(file).await.map_err(io)?.len();
        if size < MULTIPART_THRESHOLD {
            let bytes = tokio::fs::read(file).await.map_err(io)?;
            self.put_inner(path, bytes.into(), PutMode::Overwrite)
                .await?;
            return Ok(());
        }

        let location = to_path(path)?;
        let upload = self
            .inner
            .put_multipart(&location)
            .await
            .map_err(|e| self.errors.map("put_file", path.as_str(), e))?;
        let mut parts = PartUploader::new(
            upload,
            self.transfers.part_size,
            self.transfers.parts_in_flight,
        );
        if let Err(e) = parts.put_file_contents(file).await {
            // Parts already uploaded cost storage until the upload is
            // aborted.
            parts.abort().await;
            return Err(match e {
                FeedError::Io(e) => io(e),
                FeedError::Store(e) => self.errors.map("put_file", path.as_str(), e),
            });
        }
        // `finish` aborts the upload itself when completing fails.
        parts
            .finish()
            .await
            .map_err(|e| self.errors.map("put_file", path.as_str(), e))?;
        Ok(())
    }

    async fn list_inner(
        &self,
        prefix: &StorePath,
        after: Option<&StorePath>,
        limit: usize,
    ) -> Result<ListPage, StoreError> {
        // A zero limit could never make progress; treat it as the smallest page.
        let limit = limit.max(1);
        let prefix_path = to_path(prefix)?;
        let prefix_path = (!prefix_path.as_ref().is_empty()).then_some(prefix_path);
        let stream = match after {
            Some(after) => {
                let offset = to_path(after)?;
                // Some servers ignore the offset (Azurite ignores Azure's
                // `startFrom`, and object_store filters for it only in its
                // emulator mode), so it is applied here too; where the
                // server honours it this filter passes everything.
                let inner = self.inner.list_with_offset(prefix_path.as_ref(), &offset);
                inner
                    .try_filter(move |meta| std::future::ready(meta.location > offset))
                    .boxed()
            }
            None => self.inner.list(prefix_path.as_ref()),
        };
        let errors = self.errors.clone();
        let key = prefix.to_string();
        let hidden = self.hidden_prefix;
        let stream = stream
            .map_err(move |e| errors.map("list", &key, e))
            .try_filter(move |meta| {
                let visible = hidden.is_none_or(|hidden| {
                    let key = meta.location.as_ref();
                    !(key == hidden
                        || key
                            .strip_prefix(hidden)
                            .is_some_and(|rest| rest.starts_with('/')))
                });
                std::future::ready(visible)
            });

        // One extra object tells whether this is the last page.
        let mut objects: Vec<object_store::ObjectMeta> = if self.sorted_listing {
            stream.take(limit + 1).try_collect().await?
        } else {
            let mut all: Vec<object_store::ObjectMeta> = stream.try_collect().await?;
            all.sort_by(|a, b| a.location.cmp(&b.location));
            all.truncate(limit + 1);
            all
        };
        let more = objects.len() > limit;
        objects.truncate(limit);
        let quote = self.quote_listed_e_tags;
        let objects = objects
            .into_iter()
            .map(|mut meta| {
                if quote {
                    meta.e_tag = meta.e_tag.map(quoted_e_tag);
                }
                to_meta(meta)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            objects.last().map(|m| m.path.clone())
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    /// [`Store::put_stream`]: one `put` if the stream ends within one part,
    /// else a multipart upload with at most [`MAX_STREAM_PARTS_IN_FLIGHT`]
    /// parts in flight, aborted on any error.
    pub(crate) async fn put_stream_inner(
        &self,
        path: &StorePath,
        mut chunks: BoxStream<'_, std::io::Result<Bytes>>,
    ) -> Result<u64, StoreError> {
        let stream_failed = |e: std::io::Error| {
            self.errors.backend(
                "put_stream",
                path.as_str(),
                &format!("the stream failed: {e}"),
            )
        };
        let mut head = BytesMut::new();
        let mut more = true;
        while head.len() < self.transfers.part_size {
            match chunks.next().await {
                Some(chunk) => head.extend_from_slice(&chunk.map_err(stream_failed)?),
                None => {
                    more = false;
                    break;
                }
            }
        }
        let mut size = head.len() as u64;
        if !more {
            self.put_inner(path, head.freeze(), PutMode::Overwrite)
                .await?;
            return Ok(size);
        }
        let location = to_path(path)?;
        let upload = self
            .inner
            .put_multipart(&location)
            .await
            .map_err(|e| self.errors.map("put_stream", path.as_str(), e))?;
        let in_flight = self
            .transfers
            .parts_in_flight
            .min(MAX_STREAM_PARTS_IN_FLIGHT);
        let mut parts = PartUploader::new(upload, self.transfers.part_size, in_flight);
        let fed: Result<(), StoreError> = async {
            let sent = |e| self.errors.map("put_stream", path.as_str(), e);
            parts.put(head.freeze()).await.map_err(sent)?;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(stream_failed)?;
                size += chunk.len() as u64;
                parts.put(chunk).await.map_err(sent)?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = fed {
            parts.abort().await;
            return Err(e);
        }
        parts
            .finish()
            .await
            .map_err(|e| self.errors.map("put_stream", path.as_str(), e))?;
        Ok(size)
    }

    /// [`Store::copy`], server-side.
    pub(crate) async fn copy_inner(
        &self,
        from: &StorePath,
        to: &StorePath,
    ) -> Result<(), StoreError> {
        self.inner
            .copy(&to_path(from)?, &to_path(to)?)
            .await
            .map_err(|e| self.errors.map("copy", from.as_str(), e))
    }

    pub(crate) async fn delete_inner(&self, path: &StorePath) -> Result<(), StoreError> {
        let location = to_path(path)?;
        match self.inner.delete(&location).await {
            // Some backends report a missing key; deletes are idempotent.
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.errors.map("delete", path.as_str(), e)),
        }
    }
}

impl fmt::Display for ObjectBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.errors.store())
    }
}

impl fmt::Debug for ObjectBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectBackend")
            .field("url", &self.errors.store())
            .finish_non_exhaustive()
    }
}

impl Store for ObjectBackend {
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        self.head_inner(path).boxed()
    }

    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.get_inner(path, None).boxed()
    }

    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.get_inner(path, Some(range)).boxed()
    }

    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>> {
        self.put_inner(path, bytes, mode).boxed()
    }

    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.put_file_inner(path, file).boxed()
    }

    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>> {
        self.list_inner(prefix, after, limit).boxed()
    }

    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>> {
        self.delete_inner(path).boxed()
    }

    fn put_stream<'a>(
        &'a self,
        path: &'a StorePath,
        chunks: BoxStream<'a, std::io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.put_stream_inner(path, chunks).boxed()
    }

    fn copy<'a>(
        &'a self,
        from: &'a StorePath,
        to: &'a StorePath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.copy_inner(from, to).boxed()
    }

    fn download_tuning(&self) -> DownloadTuning {
        self.transfers.download
    }

    fn incomplete_uploads<'a>(
        &'a self,
    ) -> BoxFuture<'a, Result<Vec<IncompleteUpload>, StoreError>> {
        async move {
            let Some(uploads) = &self.s3_uploads else {
                return Ok(Vec::new());
            };
            uploads.list().await.map_err(|message| {
                if message == super::s3_uploads::UNSUPPORTED {
                    StoreError::NotSupported {
                        operation: message,
                        store: self.errors.store().to_owned(),
                    }
                } else {
                    self.errors.backend("list uploads", "", &message)
                }
            })
        }
        .boxed()
    }

    fn abort_upload<'a>(
        &'a self,
        upload: &'a IncompleteUpload,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            let Some(uploads) = &self.s3_uploads else {
                return Err(StoreError::NotSupported {
                    operation: "aborting multipart uploads".into(),
                    store: self.errors.store().to_owned(),
                });
            };
            uploads
                .abort(upload)
                .await
                .map_err(|e| self.errors.map("abort upload", &upload.path, e))
        }
        .boxed()
    }

    fn signed_get_url<'a>(
        &'a self,
        path: &'a StorePath,
        expires_in: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        async move {
            let Some(signer) = &self.signer else {
                return Err(StoreError::NotSupported {
                    operation: "presigned URLs".into(),
                    store: self.errors.store().to_owned(),
                });
            };
            let key = Path::from(path.as_str());
            signer
                .signed_url(Method::GET, &key, expires_in)
                .await
                .map(String::from)
                .map_err(|e| self.errors.map("sign a URL for", path.as_str(), e))
        }
        .boxed()
    }
}
