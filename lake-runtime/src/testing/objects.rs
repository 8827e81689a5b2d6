//! Checks of plain reads and writes: round trips, ranges, missing keys,
//! deletes and unusual keys.

use lake_core::{Digest, PutMode, Store, StoreExt, StorePath};

use super::{assert_content, key, list_all, put, read_all, scratch};

/// `put` then `get` and `head` give back the bytes and their size.
pub async fn check_round_trip(store: &dyn Store) {
    let path = key(&format!("{}/blobs/a.bin", scratch("round_trip")));
    let content = b"hello, lake\n\x00\xff";
    put(store, &path, content, PutMode::Overwrite).await;

    let got = store
        .get(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: get failed: {e}"));
    assert_eq!(got.meta.path, path, "{store}: get reports another key");
    assert_eq!(
        got.meta.size,
        content.len() as u64,
        "{store}: get reports the wrong size"
    );
    drop(got);
    assert_eq!(
        read_all(store, &path).await,
        content,
        "{store}: get returns other bytes"
    );

    let meta = store
        .head(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: head failed: {e}"));
    assert_eq!(meta.path, path, "{store}: head reports another key");
    assert_eq!(
        meta.size,
        content.len() as u64,
        "{store}: head reports the wrong size"
    );

    let hashed = store
        .hash_object(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: hashing {path} failed: {e}"));
    assert_eq!(
        hashed,
        (Digest::of(content), content.len() as u64),
        "{store}: hashing the stream gives another digest"
    );

    // Overwrite replaces, and an empty object is an object.
    put(store, &path, b"", PutMode::Overwrite).await;
    assert_content(store, &path, b"", "overwrite did not replace").await;
    let meta = store
        .head(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: head failed: {e}"));
    assert_eq!(meta.size, 0, "{store}: an empty object has a size");
}

/// `get_range` returns exactly the bytes asked for, wherever they lie, and
/// a missing key is `NotFound`.
pub async fn check_get_range(store: &dyn Store) {
    let path = key(&format!("{}/blobs/ranged", scratch("get_range")));
    let content: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    put(store, &path, &content, PutMode::Overwrite).await;
    let len = content.len() as u64;
    for range in [0..len, 0..1, 1..2, 4_096..8_193, len - 1..len, 17..len] {
        let got = store
            .get_range(&path, range.clone())
            .await
            .unwrap_or_else(|e| panic!("{store}: get_range {range:?} failed: {e}"));
        assert_eq!(
            got.meta.size, len,
            "{store}: get_range reports the range's size, not the object's"
        );
        let bytes = got
            .into_bytes()
            .await
            .unwrap_or_else(|e| panic!("{store}: reading get_range {range:?} failed: {e}"));
        assert!(
            bytes == content[range.start as usize..range.end as usize],
            "{store}: get_range {range:?} returned {} other bytes",
            bytes.len()
        );
    }
    let missing = key(&format!("{}/blobs/missing", scratch("get_range")));
    let err = store
        .get_range(&missing, 0..1)
        .await
        .err()
        .unwrap_or_else(|| panic!("{store}: get_range of a missing key succeeded"));
    assert!(err.is_not_found(), "{store}: {err:?}");
}

/// `get` and `head` of a missing key fail with `NotFound`, naming the key.
pub async fn check_missing_is_not_found(store: &dyn Store) {
    let path = key(&format!("{}/missing.json", scratch("missing")));
    let err = store
        .head(&path)
        .await
        .expect_err("head of a missing key succeeded");
    assert!(
        err.is_not_found(),
        "{store}: head of a missing key: expected NotFound, got {err:?}"
    );
    assert!(
        err.to_string().contains(path.as_str()),
        "{store}: the error does not name the key: {err}"
    );
    let err = store
        .get(&path)
        .await
        .expect_err("get of a missing key succeeded");
    assert!(
        err.is_not_found(),
        "{store}: get of a missing key: expected NotFound, got {err:?}"
    );
}

/// Deleting a missing key succeeds; deleting twice succeeds.
pub async fn check_delete_is_idempotent(store: &dyn Store) {
    let path = key(&format!("{}/x", scratch("delete")));
    store
        .delete(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: delete of a missing key failed: {e}"));
    put(store, &path, b"x", PutMode::Create).await;
    store
        .delete(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: delete failed: {e}"));
    let err = store
        .head(&path)
        .await
        .expect_err("a deleted key is still there");
    assert!(
        err.is_not_found(),
        "{store}: head after delete: expected NotFound, got {err:?}"
    );
    store
        .delete(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: second delete failed: {e}"));
}

/// Keys with spaces and non-ASCII characters come back verbatim.
pub async fn check_unusual_keys(store: &dyn Store) {
    let root = scratch("unusual_keys");
    let raws = [
        format!("{root}/with space/a b.json"),
        format!("{root}/ünï/名前.csv"),
        format!("{root}/emoji/🦀+=,;@!$&'()"),
    ];
    for raw in &raws {
        let k = key(raw);
        put(store, &k, raw.as_bytes(), PutMode::Create).await;
        assert_eq!(
            read_all(store, &k).await,
            raw.as_bytes(),
            "{store}: content of {raw:?}"
        );
        let meta = store
            .head(&k)
            .await
            .unwrap_or_else(|e| panic!("{store}: head {raw:?} failed: {e}"));
        assert_eq!(meta.path, k, "{store}: head renames {raw:?}");
    }
    let mut expected: Vec<StorePath> = raws.iter().map(|r| key(r)).collect();
    expected.sort();
    assert_eq!(
        list_all(store, &key(&root), 2).await,
        expected,
        "{store}: list renames keys"
    );
}
