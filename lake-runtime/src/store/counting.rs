//! [`CountingStore`]: counts the requests another store receives.
//!
//! Laziness (invariant 4) is a claim about requests, so tests check it by
//! counting them: a cache hit must make zero content GETs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use lake_core::{
    GetStream, ListPage, ObjectMeta, ObjectVersion, PutMode, Store, StoreError, StorePath,
};

/// A snapshot of the requests a [`CountingStore`] has passed on.
///
/// Failed requests count too: they cost a round trip all the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// `head` calls.
    pub head: u64,
    /// `get` calls.
    pub get: u64,
    /// Content bytes received through `get` streams.
    pub get_bytes: u64,
    /// `put` and `put_file` calls.
    pub put: u64,
    /// Bytes sent by `put` and `put_file`.
    pub put_bytes: u64,
    /// `list` calls (pages).
    pub list: u64,
    /// `delete` calls.
    pub delete: u64,
    /// `copy` calls (inside the store; no content crosses the network).
    pub copy: u64,
}

#[derive(Debug, Default)]
struct Counters {
    head: AtomicU64,
    get: AtomicU64,
    get_bytes: AtomicU64,
    put: AtomicU64,
    put_bytes: AtomicU64,
    list: AtomicU64,
    delete: AtomicU64,
    copy: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// Wraps a [`Store`] and counts requests and bytes by kind.
///
/// # Example
/// ```
/// # async fn demo() -> Result<(), lake_core::StoreError> {
/// use std::sync::Arc;
/// use lake_core::{Store, StorePath};
/// use lake_runtime::store::{CountingStore, open_store};
///
/// let store = Arc::new(CountingStore::new(open_store("memory://")?));
/// let missing = StorePath::parse("names/a.json")?;
/// assert!(store.head(&missing).await.is_err());
/// assert_eq!(store.counts().head, 1);
/// assert_eq!(store.counts().get, 0);
/// # Ok(())
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
/// ```
pub struct CountingStore {
    inner: Arc<dyn Store>,
    counters: Arc<Counters>,
    /// `get` calls and bytes received, by the key's first segment
    /// (`blobs`, `names`, `runs`, `notes`).
    gets_by_top: Arc<Mutex<BTreeMap<String, (u64, u64)>>>,
}

impl CountingStore {
    /// Counts the requests sent to `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            counters: Arc::default(),
            gets_by_top: Arc::default(),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> RequestCounts {
        let c = &self.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RequestCounts {
            head: load(&c.head),
            get: load(&c.get),
            get_bytes: load(&c.get_bytes),
            put: load(&c.put),
            put_bytes: load(&c.put_bytes),
            list: load(&c.list),
            delete: load(&c.delete),
            copy: load(&c.copy),
        }
    }

    /// `get` calls and content bytes received for keys whose first segment
    /// is `top`: `gets_under("blobs")` counts content downloads only.
    pub fn gets_under(&self, top: &str) -> (u64, u64) {
        self.gets_by_top
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(top)
            .copied()
            .unwrap_or_default()
    }

    /// Sets every count back to zero, e.g. between the miss and the hit of a
    /// test.
    pub fn reset(&self) {
        let c = &self.counters;
        for a in [
            &c.head,
            &c.get,
            &c.get_bytes,
            &c.put,
            &c.put_bytes,
            &c.list,
            &c.delete,
            &c.copy,
        ] {
            a.store(0, Ordering::Relaxed);
        }
        self.gets_by_top
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }

    /// A `get` (of `range`, if given), counting the request and the bytes
    /// actually received.
    fn counted_get<'a>(
        &'a self,
        path: &'a StorePath,
        range: Option<std::ops::Range<u64>>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        bump(&self.counters.get, 1);
        let top = path
            .as_str()
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.gets_by_top
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(top.clone())
            .or_default()
            .0 += 1;
        async move {
            let GetStream { meta, chunks } = match range {
                Some(range) => self.inner.get_range(path, range).await?,
                None => self.inner.get(path).await?,
            };
            // Count what is actually received: a reader that stops early
            // (or a lazy one that never polls) has not downloaded the rest.
            let counters = self.counters.clone();
            let by_top = self.gets_by_top.clone();
            let chunks = chunks
                .inspect(move |chunk| {
                    if let Ok(bytes) = chunk {
                        bump(&counters.get_bytes, bytes.len() as u64);
                        by_top
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entry(top.clone())
                            .or_default()
                            .1 += bytes.len() as u64;
                    }
                })
                .boxed();
            Ok(GetStream { meta, chunks })
        }
        .boxed()
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("inner", &self.inner)
            .field("counts", &self.counts())
            .finish()
    }
}

impl Store for CountingStore {
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        bump(&self.counters.head, 1);
        self.inner.head(path)
    }

    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.counted_get(path, None)
    }

    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.counted_get(path, Some(range))
    }

    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>> {
        bump(&self.counters.put, 1);
        bump(&self.counters.put_bytes, bytes.len() as u64);
        self.inner.put(path, bytes, mode)
    }

    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        bump(&self.counters.put, 1);
        async move {
            // Counted up front like `put`'s bytes: a failed upload may still
            // have sent most of them.
            if let Ok(meta) = tokio::fs::metadata(file).await {
                bump(&self.counters.put_bytes, meta.len());
            }
            self.inner.put_file(path, file).await
        }
        .boxed()
    }

    fn put_stream<'a>(
        &'a self,
        path: &'a StorePath,
        chunks: futures::stream::BoxStream<'a, std::io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        bump(&self.counters.put, 1);
        let counted = chunks
            .inspect(|chunk| {
                if let Ok(chunk) = chunk {
                    bump(&self.counters.put_bytes, chunk.len() as u64);
                }
            })
            .boxed();
        self.inner.put_stream(path, counted)
    }

    fn copy<'a>(
        &'a self,
        from: &'a StorePath,
        to: &'a StorePath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        bump(&self.counters.copy, 1);
        self.inner.copy(from, to)
    }

    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>> {
        bump(&self.counters.list, 1);
        self.inner.list(prefix, after, limit)
    }

    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>> {
        bump(&self.counters.delete, 1);
        self.inner.delete(path)
    }

    fn signed_get_url<'a>(
        &'a self,
        path: &'a StorePath,
        expires_in: std::time::Duration,
    ) -> BoxFuture<'a, Result<String, StoreError>> {
        // Signing is local computation, not a request: nothing to count.
        self.inner.signed_get_url(path, expires_in)
    }

    fn download_tuning(&self) -> lake_core::DownloadTuning {
        self.inner.download_tuning()
    }

    fn incomplete_uploads<'a>(
        &'a self,
    ) -> BoxFuture<'a, Result<Vec<lake_core::IncompleteUpload>, StoreError>> {
        bump(&self.counters.list, 1);
        self.inner.incomplete_uploads()
    }

    fn abort_upload<'a>(
        &'a self,
        upload: &'a lake_core::IncompleteUpload,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        bump(&self.counters.delete, 1);
        self.inner.abort_upload(upload)
    }
}
