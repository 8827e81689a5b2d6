//! Checks of conditional writes: `Create` never overwrites and has one
//! winner, compare-and-swap (`Update`) loses no update, each as strong as
//! the store's declared [`Guarantee`].

use bytes::Bytes;
use futures::future::join_all;
use lake_core::{ObjectVersion, PutMode, Store, StoreError, StorePath};

use super::{Fixture, Guarantee, assert_content, key, put, read_all, scratch};

/// `Create` on an existing key is `AlreadyExists` and keeps the old bytes.
///
/// On a store whose create is declared [`Guarantee::Ignored`] the second
/// `Create` overwrites, and the check asserts just that.
pub async fn check_create_does_not_overwrite(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/names/a.json", scratch("create")));
    put(store, &path, b"first", PutMode::Create).await;
    let Some(err) = refused_put(
        fixture,
        &path,
        Bytes::from_static(b"second"),
        PutMode::Create,
        "a second Create succeeded",
    )
    .await
    else {
        return;
    };
    assert!(
        err.is_already_exists(),
        "{store}: expected AlreadyExists, got {err:?}"
    );
    assert_content(
        store,
        &path,
        b"first",
        "a failed Create changed the content",
    )
    .await;
}

/// Puts `bytes` at `path` under `mode`, a conditional write the store must
/// refuse (`what` describes it), and returns the refusal. On a store
/// declared to ignore the condition, asserts instead that the write went
/// through, and returns `None`.
async fn refused_put(
    fixture: &Fixture,
    path: &StorePath,
    bytes: Bytes,
    mode: PutMode,
    what: &str,
) -> Option<StoreError> {
    let store = fixture.store();
    let (operation, guarantee) = match mode {
        PutMode::Update(_) => ("Update", fixture.conditionals().update),
        _ => ("Create", fixture.conditionals().create),
    };
    let result = store.put(path, bytes.clone(), mode).await;
    if guarantee != Guarantee::Ignored {
        return Some(result.err().unwrap_or_else(|| panic!("{store}: {what}")));
    }
    result.unwrap_or_else(|e| {
        panic!("{store}: declared to ignore {operation}'s condition, but refused it: {e:?}")
    });
    // Not `assert_eq!`: `bytes` may be megabytes.
    assert!(
        read_all(store, path).await == bytes,
        "{store}: declared to ignore {operation}'s condition, but {path} does not hold the write"
    );
    None
}

/// Of 16 concurrent `Create`s of one key exactly one wins, and its bytes stay.
///
/// With a [`Guarantee::CheckThenWrite`] create several may win; then at
/// least one wins, every loser is `AlreadyExists`, and the content is the
/// whole bytes of one of the winners. With [`Guarantee::Ignored`] all win.
pub async fn check_concurrent_create_has_one_winner(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/runs/k.json", scratch("concurrent_create")));
    let attempts = (0..16).map(|i| {
        let path = &path;
        async move {
            let bytes = Bytes::from(format!("writer {i}"));
            (i, store.put(path, bytes, PutMode::Create).await)
        }
    });
    let results = join_all(attempts).await;
    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| *i)
        .collect();
    match fixture.conditionals().create {
        Guarantee::Atomic => assert_eq!(
            winners.len(),
            1,
            "{store}: {} concurrent Creates succeeded: {winners:?}",
            winners.len()
        ),
        Guarantee::Ignored => assert_eq!(
            winners.len(),
            results.len(),
            "{store}: declared to ignore Create's condition, but refused some: {results:?}"
        ),
        Guarantee::CheckThenWrite => {
            assert!(
                !winners.is_empty(),
                "{store}: no concurrent Create succeeded"
            );
            if winners.len() > 1 {
                eprintln!(
                    "{store}: {} concurrent Creates succeeded (check-then-write server): {winners:?}",
                    winners.len()
                );
            }
        }
    }
    for (i, result) in &results {
        if let Err(e) = result {
            assert!(
                e.is_already_exists(),
                "{store}: writer {i}: expected AlreadyExists, got {e:?}"
            );
        }
    }
    let content = read_all(store, &path).await;
    assert!(
        winners
            .iter()
            .any(|w| content == format!("writer {w}").as_bytes()),
        "{store}: the content {:?} is not a winner's ({winners:?})",
        String::from_utf8_lossy(&content)
    );
}

/// Size of the body of [`check_create_large_does_not_overwrite`]: above the
/// 4 MiB where s3s-fs stops answering a refused `Create` cleanly, below the
/// multipart threshold.
const LARGE_CREATE_SIZE: usize = 5 * 1024 * 1024;

/// `Create` of a 5 MiB body on an existing key is `AlreadyExists` and keeps
/// the old bytes.
///
/// On a store declared [`Fixture::without_clean_large_refusals`] the refusal
/// may come as a broken connection instead: the put must still fail, and
/// the old bytes stay. With [`Guarantee::Ignored`] the put overwrites.
pub async fn check_create_large_does_not_overwrite(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/blobs/large", scratch("create_large")));
    put(store, &path, b"first", PutMode::Create).await;
    let body = Bytes::from(vec![7u8; LARGE_CREATE_SIZE]);
    let Some(err) = refused_put(
        fixture,
        &path,
        body.clone(),
        PutMode::Create,
        "a second Create of a large body succeeded",
    )
    .await
    else {
        return;
    };
    if fixture.clean_large_refusals() {
        assert!(
            err.is_already_exists(),
            "{store}: expected AlreadyExists, got {err:?}"
        );
    } else if !err.is_already_exists() {
        eprintln!("{store}: a refused large Create failed with: {err}");
    }
    assert_content(
        store,
        &path,
        b"first",
        "a failed Create changed the content",
    )
    .await;
}

/// `Update` with the current version (from `put` or from `head`) succeeds
/// and returns a new version.
pub async fn check_update_with_current_version(store: &dyn Store) {
    let path = key(&format!("{}/notes/a.json", scratch("update")));
    let v1 = put(store, &path, b"1", PutMode::Create).await;
    let v2 = put(store, &path, b"22", PutMode::Update(v1.clone())).await;
    assert_ne!(v1, v2, "{store}: an Update returned the old version");
    assert_content(store, &path, b"22", "Update did not write").await;

    let current = store
        .head(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: head failed: {e}"));
    let v3 = put(
        store,
        &path,
        b"333",
        PutMode::Update(current.version.clone()),
    )
    .await;
    assert_ne!(
        current.version, v3,
        "{store}: an Update returned the old version"
    );
    assert_content(store, &path, b"333", "Update did not write").await;
}

/// `Update` with a stale version is `Precondition` and keeps the content.
///
/// On a store whose update is declared [`Guarantee::Ignored`] the stale
/// `Update` overwrites, and the check asserts just that.
pub async fn check_update_with_stale_version(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/notes/a.json", scratch("stale")));
    let v1 = put(store, &path, b"old", PutMode::Create).await;
    put(store, &path, b"new", PutMode::Update(v1.clone())).await;
    let Some(err) = refused_put(
        fixture,
        &path,
        Bytes::from_static(b"lost"),
        PutMode::Update(v1),
        "an Update with a stale version succeeded",
    )
    .await
    else {
        return;
    };
    assert!(
        matches!(err, StoreError::Precondition { .. }),
        "{store}: expected Precondition, got {err:?}"
    );
    assert_content(store, &path, b"new", "a failed Update changed the content").await;
}

/// `Update` of a missing key is `NotFound` (as the contract says, even where
/// the backend reports a failed precondition) and creates nothing.
///
/// On a store whose update is declared [`Guarantee::Ignored`] the `Update`
/// creates the key, and the check asserts just that.
pub async fn check_update_of_missing_key(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/notes/none.json", scratch("update_missing")));
    let version = ObjectVersion {
        e_tag: Some("\"0-0-0\"".into()),
        version: None,
    };
    let Some(err) = refused_put(
        fixture,
        &path,
        Bytes::from_static(b"x"),
        PutMode::Update(version),
        "an Update of a missing key succeeded",
    )
    .await
    else {
        return;
    };
    assert!(
        err.is_not_found(),
        "{store}: expected NotFound, got {err:?}"
    );
    let err = store
        .head(&path)
        .await
        .expect_err("a failed Update created the key");
    assert!(
        err.is_not_found(),
        "{store}: expected NotFound, got {err:?}"
    );
}

/// 8 concurrent writers × 10 compare-and-swap increments, retrying on
/// `Precondition`, end at exactly 80: no update is lost.
///
/// With a [`Guarantee::CheckThenWrite`] (or [`Guarantee::Ignored`]) update,
/// updates can be lost; then every increment still ends without an
/// unexpected error, and the counter is a whole number between 1 and 80:
/// every acknowledged write stored one more than a value it read, starting
/// from 0, so it can be neither 0 nor above 80, and a late write of a stale
/// value can even lower it. Nothing stronger holds by chance alone.
pub async fn check_concurrent_cas_counter(fixture: &Fixture) {
    const WRITERS: u64 = 8;
    const INCREMENTS: u64 = 10;
    let store = fixture.store();
    let path = key(&format!("{}/notes/counter.json", scratch("cas")));
    put(store, &path, b"0", PutMode::Create).await;

    let writer = |_| {
        let path = &path;
        async move {
            for _ in 0..INCREMENTS {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(attempts < 10_000, "{store}: an increment never succeeds");
                    // Read version and content in one request, as lake does.
                    let got = store
                        .get(path)
                        .await
                        .unwrap_or_else(|e| panic!("{store}: get failed: {e}"));
                    let version = got.meta.version.clone();
                    let bytes = got.into_bytes().await.expect("read the counter");
                    let n: u64 = String::from_utf8_lossy(&bytes).parse().expect("a number");
                    // Let the other writers interleave between read and write.
                    tokio::task::yield_now().await;
                    let next = Bytes::from((n + 1).to_string());
                    match store.put(path, next, PutMode::Update(version)).await {
                        Ok(_) => break,
                        Err(StoreError::Precondition { .. }) => continue,
                        Err(e) => panic!("{store}: Update failed: {e:?}"),
                    }
                }
            }
        }
    };
    join_all((0..WRITERS).map(writer)).await;
    let total = String::from_utf8(read_all(store, &path).await).expect("utf-8");
    match fixture.conditionals().update {
        Guarantee::Atomic => assert_eq!(
            total,
            (WRITERS * INCREMENTS).to_string(),
            "{store}: compare-and-swap lost updates"
        ),
        Guarantee::CheckThenWrite | Guarantee::Ignored => {
            let n: u64 = total
                .parse()
                .unwrap_or_else(|_| panic!("{store}: the counter is torn: {total:?}"));
            assert!(
                (1..=WRITERS * INCREMENTS).contains(&n),
                "{store}: the counter ended at {n}"
            );
            if n != WRITERS * INCREMENTS {
                eprintln!(
                    "{store}: compare-and-swap lost {} of {} updates (check-then-write server)",
                    WRITERS * INCREMENTS - n,
                    WRITERS * INCREMENTS
                );
            }
        }
    }
}
