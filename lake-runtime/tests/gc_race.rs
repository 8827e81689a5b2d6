//! `lake gc` running beside writers never leaves a name without its blob
//! (issue 12 item 7, docs/design/0004-gc-and-crashes.md). Each round plants
//! orphan blobs, as interrupted adds leave them, then runs a gc with no
//! grace period while a writer adds names holding those same bytes, which
//! adopt the orphans (a young blob is reused, not uploaded again). The gc's
//! deletes are slowed down so that its decisions and its deletes lie far
//! apart, the window in which an adoption is lost unless gc puts the blob
//! back. On `file://` and moto.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use lake_core::{
    GetStream, ListPage, ObjectMeta, ObjectVersion, PutMode, Store, StoreError, StorePath,
};
use lake_runtime::store::{StoreOptions, open_store_with};
use lake_runtime::testing::server_from_env;
use lake_runtime::{Digest, GcOptions, GcScope, Lake, LakeConfigBuilder};

/// A store whose deletes wait first.
#[derive(Debug)]
struct SlowDeletes {
    inner: Arc<dyn Store>,
    delay: Duration,
}

impl std::fmt::Display for SlowDeletes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (slow deletes)", self.inner)
    }
}

impl Store for SlowDeletes {
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        self.inner.head(path)
    }
    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.inner.get(path)
    }
    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.inner.get_range(path, range)
    }
    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>> {
        self.inner.put(path, bytes, mode)
    }
    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.put_file(path, file)
    }
    fn put_stream<'a>(
        &'a self,
        path: &'a StorePath,
        chunks: BoxStream<'a, std::io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.put_stream(path, chunks)
    }
    fn copy<'a>(
        &'a self,
        from: &'a StorePath,
        to: &'a StorePath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.copy(from, to)
    }
    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>> {
        self.inner.list(prefix, after, limit)
    }
    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.delete(path).await
        })
    }
}

fn lake_on(
    dir: &std::path::Path,
    home: &str,
    url: &str,
    options: &StoreOptions,
    store: Arc<dyn Store>,
) -> Lake {
    let mut builder = LakeConfigBuilder::new()
        .with_progress(false)
        .with_home(dir.join(home))
        .with_store(url);
    for (key, value) in options.iter() {
        builder = builder.with_store_option(key, value);
    }
    Lake::open_with_store(builder.build().unwrap(), store).unwrap()
}

/// Above the size below which an add always uploads: these blobs are
/// reused when young, which is the adoption that races with gc. The writer
/// adopts the first [`ADOPTED`]; gc deletes the others.
const ADOPTED: usize = 6;

fn contents() -> Vec<Vec<u8>> {
    (0..8u8)
        .map(|k| {
            let mut bytes = vec![k; (1 << 20) + 4096];
            bytes[..8].copy_from_slice(&(k as u64 * 0x9e37_79b9).to_le_bytes());
            bytes
        })
        .collect()
}

fn race(label: &str, url: String, options: StoreOptions, rounds: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store_with(&url, &options).unwrap();
    let writer = lake_on(dir.path(), "writer", &url, &options, store.clone());
    let slow: Arc<dyn Store> = Arc::new(SlowDeletes {
        inner: store.clone(),
        delay: Duration::from_millis(40),
    });
    let collector = lake_on(dir.path(), "gc", &url, &options, slow);
    let contents = contents();
    let digests: Vec<Digest> = contents.iter().map(|c| Digest::of(c)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut adopted, mut deleted) = (0, 0);
    for round in 0..rounds {
        // Orphans, as interrupted adds leave them.
        for (bytes, digest) in contents.iter().zip(&digests) {
            runtime
                .block_on(store.put(
                    &StorePath::blob(digest),
                    Bytes::from(bytes.clone()),
                    PutMode::Overwrite,
                ))
                .unwrap();
        }
        let gc = {
            let collector = collector.clone();
            std::thread::spawn(move || {
                collector
                    .gc(&GcOptions {
                        grace: Duration::ZERO,
                        scope: GcScope::Store,
                        ..GcOptions::default()
                    })
                    .unwrap()
            })
        };
        for (k, bytes) in contents.iter().enumerate().take(ADOPTED) {
            std::thread::sleep(Duration::from_millis((round * 7 + k * 13) as u64 % 30));
            let mut w = writer.create(format!("r{round}/{k}.bin")).unwrap();
            w.write_all(bytes).unwrap();
            w.commit().unwrap();
        }
        let report = gc.join().unwrap();
        adopted += report.adopted_during_gc;
        deleted += report.store_blobs.count;
        for (k, digest) in digests.iter().enumerate().take(ADOPTED) {
            let found = runtime.block_on(store.head(&StorePath::blob(digest)));
            assert!(
                found.is_ok(),
                "{label} round {round}: r{round}/{k}.bin is live but its blob is gone ({found:?})"
            );
        }
    }
    // A fresh home reads every name back, verified.
    let fresh = lake_on(dir.path(), "fresh", &url, &options, store);
    let verify = fresh.verify(&[], true, false).unwrap();
    assert!(verify.problems.is_empty(), "{label}: {:?}", verify.problems);
    println!(
        "{label}: {rounds} rounds of {ADOPTED} adoptions racing gc --grace 0: gc deleted {deleted} blob(s), \
         put back {adopted} that a name adopted meanwhile; no name lost its blob"
    );
}

#[test]
fn gc_beside_writers_never_loses_a_referenced_blob_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/store", dir.path().display());
    race("file", url, StoreOptions::new(), 25);
}

#[test]
fn gc_beside_writers_never_loses_a_referenced_blob_moto() {
    let Some((url, options)) = server_from_env("MOTO") else {
        return;
    };
    race("moto", url, options, 12);
}
