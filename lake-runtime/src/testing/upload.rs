//! Checks of `put_file`: small files, read-only sources, and files large
//! enough for a multipart upload.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lake_core::{Store, StorePath};

use crate::store::MULTIPART_THRESHOLD;

use super::{assert_content, key, list_all, read_all, scratch, unique};

fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("create a temporary file");
    file.write_all(bytes).expect("write a temporary file");
    file.flush().expect("flush a temporary file");
    file
}

/// `put_file` of a small file round-trips, and overwrites.
pub async fn check_put_file_small(store: &dyn Store) {
    let path = key(&format!("{}/blobs/small", scratch("put_file_small")));
    let first = temp_file(b"first version");
    store
        .put_file(&path, first.path())
        .await
        .unwrap_or_else(|e| panic!("{store}: put_file failed: {e}"));
    assert_content(store, &path, b"first version", "put_file content").await;

    let second = temp_file(b"second");
    store
        .put_file(&path, second.path())
        .await
        .unwrap_or_else(|e| panic!("{store}: put_file over an existing key failed: {e}"));
    assert_content(store, &path, b"second", "put_file did not overwrite").await;
    // The same file twice (a hard-linking backend sees the same inode).
    store
        .put_file(&path, second.path())
        .await
        .unwrap_or_else(|e| panic!("{store}: repeated put_file failed: {e}"));
    assert_content(store, &path, b"second", "repeated put_file").await;
    // A source that can still change is taken as it was: writing it later
    // leaves the object alone.
    std::fs::write(second.path(), b"changed later").expect("rewrite a temporary file");
    assert_content(
        store,
        &path,
        b"second",
        "the object follows later writes to a writable source",
    )
    .await;

    // A read-only source (how lake hands over its local copies), put over
    // another object and then again: a linking backend must neither fail
    // on the same inode nor leave a staging name behind.
    let frozen = temp_file(b"frozen");
    let mut permissions = std::fs::metadata(frozen.path())
        .expect("stat a temporary file")
        .permissions();
    permissions.set_readonly(true);
    std::fs::set_permissions(frozen.path(), permissions).expect("make a file read-only");
    for attempt in ["over another object", "again"] {
        store
            .put_file(&path, frozen.path())
            .await
            .unwrap_or_else(|e| panic!("{store}: put_file of a read-only file {attempt}: {e}"));
        assert_eq!(
            read_all(store, &path).await,
            b"frozen",
            "{store}: put_file of a read-only file {attempt}"
        );
    }
    let fresh = key(&format!("{}/blobs/fresh", scratch("put_file_small")));
    for attempt in ["to a new key", "again"] {
        store
            .put_file(&fresh, frozen.path())
            .await
            .unwrap_or_else(|e| panic!("{store}: put_file of a read-only file {attempt}: {e}"));
    }
    assert_eq!(read_all(store, &fresh).await, b"frozen");
    let parent = fresh.as_str().rsplit_once('/').expect("a nested key").0;
    assert_eq!(
        list_all(store, &key(parent), 1000).await,
        vec![fresh.clone()],
        "{store}: put_file left a staging object"
    );

    let missing = std::env::temp_dir().join(unique("no-such-file"));
    let err = store
        .put_file(&path, &missing)
        .await
        .expect_err("put_file of a missing file succeeded");
    assert!(
        !err.is_not_found(),
        "{store}: a missing local file is not a missing key: {err:?}"
    );
}

/// Size of the large file: above the multipart threshold, not a whole
/// number of parts.
const LARGE_SIZE: usize = MULTIPART_THRESHOLD as usize + 4 * 1024 * 1024 + 12_345;

/// `put_file` of a file above the multipart threshold round-trips byte for
/// byte, is never visible partially, and leaves no staging objects.
pub async fn check_put_file_large(store: &dyn Store) {
    let root = scratch("put_file_large");
    let path = key(&format!("{root}/blobs/large"));
    let content = pseudo_random(LARGE_SIZE, 0x9e37_79b9_7f4a_7c15);
    let file = temp_file(&content);
    let result = never_partial(
        store,
        &path,
        LARGE_SIZE,
        "put_file",
        store.put_file(&path, file.path()),
    )
    .await;
    result.unwrap_or_else(|e| panic!("{store}: put_file of {LARGE_SIZE} bytes failed: {e}"));

    let got = read_all(store, &path).await;
    assert_eq!(got.len(), content.len(), "{store}: put_file size");
    assert!(
        got == content,
        "{store}: put_file of a large file changed its bytes"
    );

    let listed = list_all(store, &key(&root), 1000).await;
    assert_eq!(
        listed,
        vec![path.clone()],
        "{store}: staging objects are visible after put_file"
    );
    let everything = list_all(store, &StorePath::prefix(""), 1000).await;
    for k in &everything {
        assert!(
            !k.as_str().contains('#') && !k.as_str().starts_with(".lake"),
            "{store}: the root listing shows the backend's own file {k}"
        );
    }
}

/// Runs `upload` of `len` bytes to `path` while heads of `path` check that
/// the object is never visible partially, and returns the upload's result.
async fn never_partial<T>(
    store: &dyn Store,
    path: &StorePath,
    len: usize,
    operation: &str,
    upload: impl std::future::Future<Output = T>,
) -> T {
    let done = AtomicBool::new(false);
    let upload = async {
        let result = upload.await;
        done.store(true, Ordering::SeqCst);
        result
    };
    let watch = async {
        while !done.load(Ordering::SeqCst) {
            match store.head(path).await {
                Ok(meta) => assert_eq!(
                    meta.size, len as u64,
                    "{store}: a partial object is visible during {operation}"
                ),
                Err(e) if e.is_not_found() => {}
                Err(e) => panic!("{store}: head during {operation} failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (result, ()) = futures::join!(upload, watch);
    result
}

/// Pseudo-random bytes, so a reordered or repeated part cannot go
/// unnoticed.
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// `put_stream` round-trips a small stream (one request) and a large one
/// (multipart where the backend has it) byte for byte, chunked unevenly;
/// the large one is never visible partially. A stream that fails midway
/// leaves the key as it was, no staging object and no multipart upload.
pub async fn check_put_stream(store: &dyn Store) {
    use futures::StreamExt;
    let root = scratch("put_stream");
    for (label, len) in [("small", 100_000), ("large", LARGE_SIZE)] {
        let path = key(&format!("{root}/{label}"));
        let content = pseudo_random(len, len as u64);
        // Chunks of uneven sizes, some tiny, as a writer's flushes would be.
        let chunks: Vec<bytes::Bytes> = content
            .chunks(777_777)
            .flat_map(|c| {
                let (a, b) = c.split_at(c.len().min(13));
                [
                    bytes::Bytes::copy_from_slice(a),
                    bytes::Bytes::copy_from_slice(b),
                ]
            })
            .collect();
        let stream = futures::stream::iter(chunks.into_iter().map(Ok)).boxed();
        let result = never_partial(
            store,
            &path,
            len,
            "put_stream",
            store.put_stream(&path, stream),
        )
        .await;
        let written = result.unwrap_or_else(|e| panic!("{store}: put_stream {label}: {e}"));
        assert_eq!(written, len as u64, "{store}: put_stream {label} size");
        assert!(
            read_all(store, &path).await == content,
            "{store}: put_stream {label} content differs"
        );
    }

    // A failure midway, past the multipart threshold: the key keeps its
    // old content.
    let path = key(&format!("{root}/failing"));
    store
        .put(
            &path,
            bytes::Bytes::from_static(b"before"),
            lake_core::PutMode::Overwrite,
        )
        .await
        .unwrap_or_else(|e| panic!("{store}: put: {e}"));
    let piece = bytes::Bytes::from(vec![7u8; 4 << 20]);
    let failing = futures::stream::iter(
        (0..6)
            .map(move |_| Ok(piece.clone()))
            .chain([Err(std::io::Error::other("the writer gave up"))]),
    )
    .boxed();
    let err = store
        .put_stream(&path, failing)
        .await
        .expect_err("put_stream of a failing stream succeeded");
    assert!(
        err.to_string().contains("the writer gave up"),
        "{store}: the stream's error is lost: {err}"
    );
    assert_content(
        store,
        &path,
        b"before",
        "a failed put_stream changed the key",
    )
    .await;
    let listed = list_all(store, &key(&root), 1000).await;
    assert_eq!(
        listed,
        vec![
            path.clone(),
            key(&format!("{root}/large")),
            key(&format!("{root}/small"))
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>(),
        "{store}: put_stream left a staging object"
    );
    // Nor a multipart upload on the server, where the backend lists them
    // (a server without the listing, s3s-fs, says so).
    match store.incomplete_uploads().await {
        Ok(uploads) => {
            let left: Vec<_> = uploads
                .iter()
                .filter(|u| u.path.starts_with(&root))
                .collect();
            assert!(
                left.is_empty(),
                "{store}: a failed put_stream left its multipart upload: {left:?}"
            );
        }
        Err(lake_core::StoreError::NotSupported { .. }) => {}
        Err(e) => panic!("{store}: incomplete_uploads: {e}"),
    }
}

/// `copy` makes an independent object with the same content, overwrites
/// its destination, and fails with not-found for a missing source.
pub async fn check_copy(store: &dyn Store) {
    let root = scratch("copy");
    let (from, to) = (key(&format!("{root}/from")), key(&format!("{root}/to")));
    let content = pseudo_random(300_000, 3);
    store
        .put(&from, content.clone().into(), lake_core::PutMode::Overwrite)
        .await
        .unwrap_or_else(|e| panic!("{store}: put: {e}"));
    store
        .put(
            &to,
            bytes::Bytes::from_static(b"old"),
            lake_core::PutMode::Overwrite,
        )
        .await
        .unwrap_or_else(|e| panic!("{store}: put: {e}"));
    store
        .copy(&from, &to)
        .await
        .unwrap_or_else(|e| panic!("{store}: copy: {e}"));
    assert!(
        read_all(store, &to).await == content,
        "{store}: copy content"
    );
    // Independent: replacing the source leaves the copy alone.
    store
        .put(
            &from,
            bytes::Bytes::from_static(b"new"),
            lake_core::PutMode::Overwrite,
        )
        .await
        .unwrap_or_else(|e| panic!("{store}: put: {e}"));
    assert!(
        read_all(store, &to).await == content,
        "{store}: the copy followed its source"
    );
    let missing = key(&format!("{root}/missing"));
    let err = store
        .copy(&missing, &key(&format!("{root}/nowhere")))
        .await
        .expect_err("copy of a missing object succeeded");
    assert!(
        err.is_not_found(),
        "{store}: copy of a missing object: {err:?}"
    );
}
