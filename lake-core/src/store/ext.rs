//! [`StoreExt`]: whole reads, complete listings and hashing over any
//! [`Store`], and the [`GetStream`] helpers they are built on.

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::TryStreamExt;

use super::{GetStream, ObjectMeta, Store, StoreError, StorePath};
use crate::Digest;

impl GetStream {
    /// The whole content, in memory.
    pub async fn into_bytes(self) -> Result<Bytes, StoreError> {
        let chunks: Vec<Bytes> = self.chunks.try_collect().await?;
        Ok(match <[Bytes; 1]>::try_from(chunks) {
            // One chunk, the common case for small objects: no copy.
            Ok([only]) => only,
            Err(chunks) => chunks.concat().into(),
        })
    }

    /// The blake3 digest and length of the content, read chunk by chunk
    /// without holding it in memory.
    pub async fn into_digest(mut self) -> Result<(Digest, u64), StoreError> {
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = self.chunks.try_next().await? {
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hasher.finalize().into(), size))
    }
}

/// Conveniences over any [`Store`], including `dyn Store`: whole reads,
/// complete listings and hashing, each a loop over the contract's
/// operations. Implemented for every store; not meant to be implemented by
/// hand.
///
/// # Example
/// ```
/// use lake_core::{Digest, Store, StoreError, StoreExt, StorePath};
///
/// /// Whether every blob below `blobs/` holds the content its key names.
/// async fn blobs_are_intact(store: &dyn Store) -> Result<bool, StoreError> {
///     for meta in store.list_all(&StorePath::prefix("blobs"), 1000).await? {
///         let (digest, _size) = store.hash_object(&meta.path).await?;
///         if StorePath::digest_from_blob_path(meta.path.as_str()) != Some(digest) {
///             return Ok(false);
///         }
///     }
///     Ok(true)
/// }
///
/// async fn first_name_record(store: &dyn Store) -> Result<Vec<u8>, StoreError> {
///     store.read_all(&StorePath::parse("names/a.json")?).await.map(Vec::from)
/// }
/// ```
pub trait StoreExt: Store {
    /// The whole content of `path`, in memory: for small objects such as
    /// records and manifests. A missing key is [`StoreError::NotFound`].
    fn read_all<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<Bytes, StoreError>> {
        async move { self.get(path).await?.into_bytes().await }.boxed()
    }

    /// Every object below `prefix`, following [`ListPage::next`](super::ListPage::next) with pages
    /// of at most `page_size` objects, in ascending key order.
    ///
    /// A listing whose `next` does not move forward is a
    /// [`StoreError::Backend`] error rather than an endless loop.
    fn list_all<'a>(
        &'a self,
        prefix: &'a StorePath,
        page_size: usize,
    ) -> BoxFuture<'a, Result<Vec<ObjectMeta>, StoreError>> {
        async move {
            let mut objects = Vec::new();
            let mut after: Option<StorePath> = None;
            loop {
                let page = self.list(prefix, after.as_ref(), page_size).await?;
                objects.extend(page.objects);
                match page.next {
                    None => return Ok(objects),
                    Some(next) if after.as_ref().is_some_and(|after| next <= *after) => {
                        return Err(StoreError::Backend {
                            operation: "list",
                            path: prefix.to_string(),
                            store: self.to_string(),
                            message: format!("the listing does not advance past {next}"),
                        });
                    }
                    Some(next) => after = Some(next),
                }
            }
        }
        .boxed()
    }

    /// The blake3 digest and length of the content of `path`, streamed.
    /// A missing key is [`StoreError::NotFound`].
    fn hash_object<'a>(
        &'a self,
        path: &'a StorePath,
    ) -> BoxFuture<'a, Result<(Digest, u64), StoreError>> {
        async move { self.get(path).await?.into_digest().await }.boxed()
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
