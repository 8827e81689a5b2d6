//! The conformance suite of the [`Store`] contract.
//!
//! Every backend runs the same checks (as `object_store`'s `integration.rs`
//! does for its backends). Each `check_*` function panics with a message
//! naming the broken rule. [`store_conformance_tests!`](crate::store_conformance_tests)
//! turns them into one test per check.
//!
//! Checks write below a fresh `conformance/<check>-<unique>/` prefix, so a
//! store that outlives the test run (an S3 bucket) can be reused, and the
//! checks of one store may run concurrently.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

use std::any::Any;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::TryStreamExt;
use futures::future::join_all;
use lake_core::{ObjectVersion, PutMode, Store, StoreError, StorePath};

use crate::store::{MULTIPART_THRESHOLD, StoreOptions, open_store_with, redact_url};

/// A store under test, plus whatever must live as long as it (a temporary
/// directory) and the secrets planted in its configuration.
pub struct Fixture {
    store: Arc<dyn Store>,
    secrets: Vec<String>,
    conditionals: Conditionals,
    lists_e_tags: bool,
    clean_large_refusals: bool,
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl Fixture {
    /// A fixture for `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            secrets: Vec::new(),
            conditionals: Conditionals::ATOMIC,
            lists_e_tags: true,
            clean_large_refusals: true,
            _guard: None,
        }
    }

    /// Declares how the store's conditional writes behave, per operation;
    /// the checks then assert what holds for each (see [`Guarantee`]).
    pub fn with_conditionals(mut self, conditionals: Conditionals) -> Self {
        self.conditionals = conditionals;
        self
    }

    /// How the store's conditional writes behave.
    pub fn conditionals(&self) -> Conditionals {
        self.conditionals
    }

    /// Declares that the store's listings carry no e-tags (s3s-fs 0.14 lists
    /// keys, sizes and times only). [`check_put_etag_matches_list`] then
    /// accepts a listing without one, but never one with another e-tag.
    /// Lake still works on such a store; it only reads no record packs.
    pub fn without_listed_e_tags(mut self) -> Self {
        self.lists_e_tags = false;
        self
    }

    /// False if [`without_listed_e_tags`](Self::without_listed_e_tags) was
    /// declared.
    pub fn lists_e_tags(&self) -> bool {
        self.lists_e_tags
    }

    /// Declares that the store may answer a refused conditional write of a
    /// large body by closing the connection before reading the body (s3s-fs
    /// 0.14 does for 4 MiB and more) instead of with a clean refusal.
    /// [`check_create_large_does_not_overwrite`] then accepts any error, but
    /// still no overwrite.
    pub fn without_clean_large_refusals(mut self) -> Self {
        self.clean_large_refusals = false;
        self
    }

    /// False if [`without_clean_large_refusals`](Self::without_clean_large_refusals)
    /// was declared.
    pub fn clean_large_refusals(&self) -> bool {
        self.clean_large_refusals
    }

    /// Keeps `guard` alive as long as the fixture, e.g. a `TempDir`.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self._guard = Some(Box::new(guard));
        self
    }

    /// Declares a credential planted in the store's URL or options, which
    /// [`check_errors_hide_secrets`] then looks for.
    pub fn with_planted_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The secrets given to [`with_planted_secret`](Self::with_planted_secret).
    pub fn planted_secrets(&self) -> &[String] {
        &self.secrets
    }
}

impl fmt::Debug for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixture")
            .field("store", &self.store)
            .field("secrets", &self.secrets.len())
            .field("conditionals", &self.conditionals)
            .field("lists_e_tags", &self.lists_e_tags)
            .field("clean_large_refusals", &self.clean_large_refusals)
            .finish_non_exhaustive()
    }
}

/// What a store guarantees for one kind of conditional write when writers
/// race. Declared per server from measurement (`scripts/probe-conditionals`,
/// figures in `docs/design/0003-test-servers.md`), never assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// The condition is checked and the write done as one step: of racing
    /// conditional writes exactly one wins (S3, Azure, Azurite, memory,
    /// file). Every check holds in full.
    Atomic,
    /// The server checks the condition, then writes (moto 5.2.5 and
    /// s3s-fs 0.14.1 for both operations): a lone write against a stale
    /// condition is refused, but racing writers may all pass the check, the
    /// last write winning. The concurrency checks assert only what still
    /// holds: whole objects from writers that were told they won, and no
    /// error but the expected ones.
    CheckThenWrite,
    /// The server does not enforce the condition at all: a conditional write
    /// that should be refused overwrites. The checks assert exactly that, so
    /// a server that starts enforcing it fails them until its declaration
    /// is updated.
    Ignored,
}

/// How a store carries out `Create` (`If-None-Match: *`) and `Update`
/// (`If-Match`, compare-and-swap). Servers differ per operation, so each
/// has its own [`Guarantee`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conditionals {
    /// [`PutMode::Create`].
    pub create: Guarantee,
    /// [`PutMode::Update`].
    pub update: Guarantee,
}

impl Conditionals {
    /// Both operations atomic: what lake's concurrency invariants need, and
    /// the default of a [`Fixture`].
    pub const ATOMIC: Self = Self {
        create: Guarantee::Atomic,
        update: Guarantee::Atomic,
    };

    /// Both operations check-then-write.
    pub const CHECK_THEN_WRITE: Self = Self {
        create: Guarantee::CheckThenWrite,
        update: Guarantee::CheckThenWrite,
    };
}

/// What the expression given to [`store_conformance_tests!`](crate::store_conformance_tests)
/// may return. `None` skips the test, e.g. when no emulator is configured.
pub trait IntoFixture {
    /// The fixture, or `None` to skip.
    fn into_fixture(self) -> Option<Fixture>;
}

impl IntoFixture for Fixture {
    fn into_fixture(self) -> Option<Fixture> {
        Some(self)
    }
}

impl IntoFixture for Arc<dyn Store> {
    fn into_fixture(self) -> Option<Fixture> {
        Some(Fixture::new(self))
    }
}

impl<T: IntoFixture> IntoFixture for Option<T> {
    fn into_fixture(self) -> Option<Fixture> {
        self.and_then(IntoFixture::into_fixture)
    }
}

/// Failing to open the store under test fails the test, loudly.
impl<T: IntoFixture, E: fmt::Display> IntoFixture for Result<T, E> {
    fn into_fixture(self) -> Option<Fixture> {
        match self {
            Ok(fixture) => fixture.into_fixture(),
            Err(e) => panic!("cannot open the store under test: {e}"),
        }
    }
}

/// A `memory://` URL no other caller in this process uses.
pub fn unique_memory_url() -> String {
    format!("memory://{}", unique("lake-test"))
}

/// The store of the test server `server` (`MOTO`, `S3S`, `AZURITE`, …) that
/// `scripts/servers start` describes in the environment, below a prefix no
/// other caller uses: `(url, options)` for
/// [`open_store_with`].
///
/// Reads `LAKE_TEST_<server>_URL` (e.g. `s3://lake-test`) and
/// `LAKE_TEST_<server>_OPTS` (comma-separated `key=value` store options;
/// a value may contain `=` but not `,`). The options ignore the process's
/// `AWS_*`/`AZURE_*`/`GOOGLE_*` variables, so the test is hermetic.
///
/// When the URL is unset this prints a loud `SKIPPED:` line and returns
/// `None`, unless `CI=true`, where it panics: CI must not skip silently.
///
/// # Panics
/// On `CI=true` without the variable, and on a malformed `_OPTS`.
pub fn server_from_env(server: &str) -> Option<(String, StoreOptions)> {
    let url_var = format!("LAKE_TEST_{server}_URL");
    let opts_var = format!("LAKE_TEST_{server}_OPTS");
    let base = match std::env::var(&url_var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{url_var} is unset but CI=true: CI must run against the test servers \
                     (scripts/test starts them with scripts/servers start)"
                );
            }
            eprintln!(
                "SKIPPED: {url_var} unset: no {server} test server; run `scripts/servers start` \
                 and `source target/test-servers/env.sh`, or scripts/test"
            );
            return None;
        }
    };
    let mut options = StoreOptions::new().without_env();
    let raw = std::env::var(&opts_var).unwrap_or_default();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            // The pair may hold a secret: name the variable and the key only.
            let shown = pair.split(':').next().unwrap_or_default();
            panic!("{opts_var}: expected key=value, got an item starting {shown:.12?}…");
        };
        options = options.with(k.trim(), v.trim());
    }
    let url = format!(
        "{}/{}",
        base.trim().trim_end_matches('/'),
        unique(&server.to_ascii_lowercase())
    );
    Some((url, options))
}

/// A [`Fixture`] on [`server_from_env`]'s store, with the values of its
/// secret options planted; `None` (after a loud `SKIPPED:` line) when the
/// server is not configured.
///
/// # Panics
/// As [`server_from_env`], and when the store does not open.
pub fn server_fixture(server: &str) -> Option<Fixture> {
    let (url, options) = server_from_env(server)?;
    let store = open_store_with(&url, &options)
        .unwrap_or_else(|e| panic!("cannot open the {server} test server's store: {e}"));
    let mut fixture = Fixture::new(store);
    for (k, v) in options.iter() {
        let k = k.to_ascii_lowercase();
        if k.contains("secret") || k.ends_with("_key") || k.contains("token") {
            fixture = fixture.with_planted_secret(v);
        }
    }
    Some(fixture)
}

fn unique(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{label}-{}-{nanos:x}-{n}", std::process::id())
}

/// The prefix a check writes below.
fn scratch(check: &str) -> String {
    format!("conformance/{}", unique(check))
}

fn key(raw: &str) -> StorePath {
    StorePath::parse(raw).unwrap_or_else(|e| panic!("bad test key {raw:?}: {e}"))
}

async fn read_all(store: &dyn Store, path: &StorePath) -> Vec<u8> {
    let stream = store
        .get(path)
        .await
        .unwrap_or_else(|e| panic!("{store}: get {path} failed: {e}"));
    let chunks: Vec<Bytes> = stream
        .chunks
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{store}: reading {path} failed: {e}"));
    chunks.concat()
}

/// Every key below `prefix`, following `next` with pages of `limit`.
async fn list_all(store: &dyn Store, prefix: &StorePath, limit: usize) -> Vec<StorePath> {
    let mut keys = Vec::new();
    let mut after: Option<StorePath> = None;
    loop {
        let page = store
            .list(prefix, after.as_ref(), limit)
            .await
            .unwrap_or_else(|e| panic!("{store}: list {prefix:?} failed: {e}"));
        assert!(
            page.objects.len() <= limit,
            "{store}: a page of list {prefix:?} has {} objects, more than the limit {limit}",
            page.objects.len()
        );
        keys.extend(page.objects.into_iter().map(|m| m.path));
        match page.next {
            Some(next) => after = Some(next),
            None => return keys,
        }
        assert!(
            keys.len() < 100_000,
            "{store}: list {prefix:?} does not end"
        );
    }
}

async fn put(store: &dyn Store, path: &StorePath, bytes: &[u8], mode: PutMode) -> ObjectVersion {
    store
        .put(path, Bytes::copy_from_slice(bytes), mode.clone())
        .await
        .unwrap_or_else(|e| panic!("{store}: put {path} ({mode:?}) failed: {e}"))
}

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

    // Overwrite replaces, and an empty object is an object.
    put(store, &path, b"", PutMode::Overwrite).await;
    assert_eq!(
        read_all(store, &path).await,
        b"",
        "{store}: overwrite did not replace"
    );
    let meta = store
        .head(&path)
        .await
        .unwrap_or_else(|e| panic!("{store}: head failed: {e}"));
    assert_eq!(meta.size, 0, "{store}: an empty object has a size");
}

/// The e-tag a `put` returns is the one a later `list` shows, for
/// `Create` and `Overwrite` (of a new key and of an existing one). Record
/// packs rely on it: a packed record is trusted only if its name object is
/// listed with the e-tag its create returned. A store declared
/// [`without_listed_e_tags`](Fixture::without_listed_e_tags) may list none.
pub async fn check_put_etag_matches_list(fixture: &Fixture) {
    let store = fixture.store();
    let root = scratch("put_etag");
    let created = key(&format!("{root}/names/created.json"));
    let overwritten = key(&format!("{root}/names/overwritten.json"));
    let writes = [
        (&created, &b"created"[..], PutMode::Create),
        (&overwritten, &b"overwritten"[..], PutMode::Overwrite),
        (
            &created,
            &b"created, then overwritten"[..],
            PutMode::Overwrite,
        ),
    ];
    for (path, bytes, mode) in writes {
        let version = put(store, path, bytes, mode.clone()).await;
        let Some(e_tag) = version.e_tag else {
            continue;
        };
        let page = store
            .list(&key(&root), None, 1000)
            .await
            .unwrap_or_else(|e| panic!("{store}: list {root} failed: {e}"));
        let listed = page
            .objects
            .iter()
            .find(|meta| &meta.path == path)
            .unwrap_or_else(|| panic!("{store}: list of {root} misses {path}: {page:?}"));
        let shown = listed.version.e_tag.as_deref();
        assert!(
            shown == Some(e_tag.as_str()) || (shown.is_none() && !fixture.lists_e_tags()),
            "{store}: put {path} ({mode:?}) returned e-tag {e_tag:?}, but list shows {shown:?}"
        );
    }
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
        let bytes: Vec<u8> = got
            .chunks
            .map_ok(|chunk| chunk.to_vec())
            .try_concat()
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

/// `Create` on an existing key is `AlreadyExists` and keeps the old bytes.
///
/// On a store whose create is declared [`Guarantee::Ignored`] the second
/// `Create` overwrites, and the check asserts just that.
pub async fn check_create_does_not_overwrite(fixture: &Fixture) {
    let store = fixture.store();
    let path = key(&format!("{}/names/a.json", scratch("create")));
    put(store, &path, b"first", PutMode::Create).await;
    let second = store
        .put(&path, Bytes::from_static(b"second"), PutMode::Create)
        .await;
    if fixture.conditionals().create == Guarantee::Ignored {
        second.unwrap_or_else(|e| {
            panic!("{store}: declared to ignore Create's condition, but refused it: {e:?}")
        });
        assert_eq!(
            read_all(store, &path).await,
            b"second",
            "{store}: declared to ignore Create's condition, but kept the old bytes"
        );
        return;
    }
    let err = second.expect_err("a second Create succeeded");
    assert!(
        err.is_already_exists(),
        "{store}: expected AlreadyExists, got {err:?}"
    );
    assert_eq!(
        read_all(store, &path).await,
        b"first",
        "{store}: a failed Create changed the content"
    );
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
    let second = store.put(&path, body.clone(), PutMode::Create).await;
    if fixture.conditionals().create == Guarantee::Ignored {
        second.unwrap_or_else(|e| {
            panic!("{store}: declared to ignore Create's condition, but refused it: {e:?}")
        });
        assert!(
            read_all(store, &path).await == body,
            "{store}: declared to ignore Create's condition, but kept the old bytes"
        );
        return;
    }
    let err = second.expect_err("a second Create of a large body succeeded");
    if fixture.clean_large_refusals() {
        assert!(
            err.is_already_exists(),
            "{store}: expected AlreadyExists, got {err:?}"
        );
    } else if !err.is_already_exists() {
        eprintln!("{store}: a refused large Create failed with: {err}");
    }
    assert_eq!(
        read_all(store, &path).await,
        b"first",
        "{store}: a failed Create changed the content"
    );
}

/// `Update` with the current version (from `put` or from `head`) succeeds
/// and returns a new version.
pub async fn check_update_with_current_version(store: &dyn Store) {
    let path = key(&format!("{}/notes/a.json", scratch("update")));
    let v1 = put(store, &path, b"1", PutMode::Create).await;
    let v2 = put(store, &path, b"22", PutMode::Update(v1.clone())).await;
    assert_ne!(v1, v2, "{store}: an Update returned the old version");
    assert_eq!(
        read_all(store, &path).await,
        b"22",
        "{store}: Update did not write"
    );

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
    assert_eq!(
        read_all(store, &path).await,
        b"333",
        "{store}: Update did not write"
    );
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
    let stale = store
        .put(&path, Bytes::from_static(b"lost"), PutMode::Update(v1))
        .await;
    if fixture.conditionals().update == Guarantee::Ignored {
        stale.unwrap_or_else(|e| {
            panic!("{store}: declared to ignore Update's condition, but refused it: {e:?}")
        });
        assert_eq!(
            read_all(store, &path).await,
            b"lost",
            "{store}: declared to ignore Update's condition, but kept the new bytes"
        );
        return;
    }
    let err = stale.expect_err("an Update with a stale version succeeded");
    assert!(
        matches!(err, StoreError::Precondition { .. }),
        "{store}: expected Precondition, got {err:?}"
    );
    assert_eq!(
        read_all(store, &path).await,
        b"new",
        "{store}: a failed Update changed the content"
    );
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
    let put = store
        .put(&path, Bytes::from_static(b"x"), PutMode::Update(version))
        .await;
    if fixture.conditionals().update == Guarantee::Ignored {
        put.unwrap_or_else(|e| {
            panic!("{store}: declared to ignore Update's condition, but refused it: {e:?}")
        });
        assert_eq!(
            read_all(store, &path).await,
            b"x",
            "{store}: declared to ignore Update's condition, but wrote nothing"
        );
        return;
    }
    let err = put.expect_err("an Update of a missing key succeeded");
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
                    let bytes: Vec<Bytes> =
                        got.chunks.try_collect().await.expect("read the counter");
                    let n: u64 = String::from_utf8_lossy(&bytes.concat())
                        .parse()
                        .expect("a number");
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

/// A listing prefix matches whole segments: `x/a` lists `x/a/…`, never
/// `x/ab.json` or `x/a.json`.
pub async fn check_list_prefix_is_segment_wise(store: &dyn Store) {
    let root = scratch("list_prefix");
    let inside = [format!("{root}/a/x.json"), format!("{root}/a/y/z.json")];
    let outside = [
        format!("{root}/ab.json"),
        format!("{root}/a.json"),
        format!("{root}/b/c.json"),
    ];
    for k in inside.iter().chain(&outside) {
        put(store, &key(k), b"x", PutMode::Create).await;
    }
    let listed = list_all(store, &key(&format!("{root}/a")), 100).await;
    let expected: Vec<StorePath> = inside.iter().map(|k| key(k)).collect();
    assert_eq!(listed, expected, "{store}: list of {root}/a");

    let page = store
        .list(&key(&format!("{root}/nothing")), None, 10)
        .await
        .unwrap_or_else(|e| panic!("{store}: list of an empty prefix failed: {e}"));
    assert!(
        page.objects.is_empty() && page.next.is_none(),
        "{store}: an empty prefix lists {page:?}"
    );
}

/// Paging with small limits visits every key once, in ascending order, and
/// sizes are right.
pub async fn check_list_pagination(store: &dyn Store) {
    let root = scratch("list_pages");
    let mut expected: Vec<StorePath> = Vec::new();
    for i in 0..13 {
        // Nested keys and a name that sorts between a directory and its
        // children (`d.json` < `d/…` bytewise) exercise the ordering.
        let raw = match i % 3 {
            0 => format!("{root}/k{i:02}.json"),
            1 => format!("{root}/d/k{i:02}"),
            _ => format!("{root}/d.json{i:02}"),
        };
        let k = key(&raw);
        put(store, &k, raw.as_bytes(), PutMode::Create).await;
        expected.push(k);
    }
    expected.sort();
    let prefix = key(&root);
    for limit in [1, 2, 5, 13, 14, 1000] {
        let listed = list_all(store, &prefix, limit).await;
        assert_eq!(listed, expected, "{store}: paging with limit {limit}");
    }

    let page = store.list(&prefix, None, 1000).await.expect("list");
    assert!(page.next.is_none(), "{store}: a complete page has a next");
    for meta in &page.objects {
        assert_eq!(
            meta.size,
            meta.path.as_str().len() as u64,
            "{store}: list reports a wrong size for {}",
            meta.path
        );
    }
    let page = store.list(&prefix, None, 5).await.expect("list");
    assert_eq!(
        page.objects.len(),
        5,
        "{store}: a page is shorter than the limit with more to come"
    );
    assert_eq!(
        page.next.as_ref(),
        Some(&expected[4]),
        "{store}: next is not the last key of the page"
    );
}

/// `after` is exclusive, and need not be an existing key.
pub async fn check_list_after(store: &dyn Store) {
    let root = scratch("list_after");
    let keys: Vec<StorePath> = ["a", "b", "c/d", "e"]
        .iter()
        .map(|k| key(&format!("{root}/{k}")))
        .collect();
    for k in &keys {
        put(store, k, b"x", PutMode::Create).await;
    }
    let prefix = key(&root);
    let paths =
        |page: lake_core::ListPage| page.objects.into_iter().map(|m| m.path).collect::<Vec<_>>();

    let page = store
        .list(&prefix, Some(&keys[1]), 100)
        .await
        .expect("list");
    assert_eq!(paths(page), keys[2..], "{store}: list after {}", keys[1]);
    let between = key(&format!("{root}/bb"));
    let page = store
        .list(&prefix, Some(&between), 100)
        .await
        .expect("list");
    assert_eq!(paths(page), keys[2..], "{store}: list after a missing key");
    let page = store
        .list(&prefix, Some(&keys[3]), 100)
        .await
        .expect("list");
    assert!(
        page.objects.is_empty() && page.next.is_none(),
        "{store}: list after the last key: {page:?}"
    );
}

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
    assert_eq!(
        read_all(store, &path).await,
        b"first version",
        "{store}: put_file content"
    );

    let second = temp_file(b"second");
    store
        .put_file(&path, second.path())
        .await
        .unwrap_or_else(|e| panic!("{store}: put_file over an existing key failed: {e}"));
    assert_eq!(
        read_all(store, &path).await,
        b"second",
        "{store}: put_file did not overwrite"
    );
    // The same file twice (a hard-linking backend sees the same inode).
    store
        .put_file(&path, second.path())
        .await
        .unwrap_or_else(|e| panic!("{store}: repeated put_file failed: {e}"));
    assert_eq!(
        read_all(store, &path).await,
        b"second",
        "{store}: repeated put_file"
    );
    // A source that can still change is taken as it was: writing it later
    // leaves the object alone.
    std::fs::write(second.path(), b"changed later").expect("rewrite a temporary file");
    assert_eq!(
        read_all(store, &path).await,
        b"second",
        "{store}: the object follows later writes to a writable source"
    );

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
    // Pseudo-random, so a reordered or repeated part cannot go unnoticed.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let content: Vec<u8> = (0..LARGE_SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let file = temp_file(&content);

    let done = AtomicBool::new(false);
    let upload = async {
        let result = store.put_file(&path, file.path()).await;
        done.store(true, Ordering::SeqCst);
        result
    };
    let watch = async {
        while !done.load(Ordering::SeqCst) {
            match store.head(&path).await {
                Ok(meta) => assert_eq!(
                    meta.size, LARGE_SIZE as u64,
                    "{store}: a partial object is visible during put_file"
                ),
                Err(e) if e.is_not_found() => {}
                Err(e) => panic!("{store}: head during put_file failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let (result, ()) = futures::join!(upload, watch);
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

/// Neither the store's `Display`/`Debug` nor its errors show a credential:
/// none of `secrets`, and nothing [`redact_url`] would still remove.
pub async fn check_errors_hide_secrets(fixture: &Fixture) {
    let (store, secrets) = (fixture.store(), fixture.planted_secrets());
    let root = scratch("secrets");
    let path = key(&format!("{root}/a.json"));
    let missing = key(&format!("{root}/missing.json"));
    let mut shown = vec![store.to_string(), format!("{store:?}")];
    put(store, &path, b"1", PutMode::Create).await;
    let stale = put(store, &path, b"2", PutMode::Overwrite).await;
    put(store, &path, b"3", PutMode::Overwrite).await;

    let mut errors: Vec<StoreError> = Vec::new();
    errors.extend(store.head(&missing).await.err());
    errors.extend(store.get(&missing).await.err());
    errors.extend(store.put(&path, Bytes::new(), PutMode::Create).await.err());
    errors.extend(
        store
            .put(&path, Bytes::new(), PutMode::Update(stale))
            .await
            .err(),
    );
    let fake = ObjectVersion {
        e_tag: Some("\"x\"".into()),
        version: None,
    };
    errors.extend(
        store
            .put(&missing, Bytes::new(), PutMode::Update(fake))
            .await
            .err(),
    );
    let nowhere = std::env::temp_dir().join(unique("no-such-file"));
    errors.extend(store.put_file(&missing, &nowhere).await.err());
    // A condition the store ignores gives no error to look at: one Create,
    // two Updates.
    let conditionals = fixture.conditionals();
    let ignored = usize::from(conditionals.create == Guarantee::Ignored)
        + 2 * usize::from(conditionals.update == Guarantee::Ignored);
    assert!(
        errors.len() >= 6 - ignored,
        "{store}: expected {} errors, got {errors:?}",
        6 - ignored
    );
    for e in &errors {
        shown.push(e.to_string());
        shown.push(format!("{e:?}"));
    }

    let display = store.to_string();
    assert_eq!(
        redact_url(&display),
        display,
        "{store}: Display shows something redact_url removes"
    );
    for text in &shown {
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a planted secret is visible in: {text}"
            );
        }
    }
}

/// Defines one `#[tokio::test]` per check of [`lake_runtime::testing`](crate::testing),
/// each on a fresh store from the given expression.
///
/// The expression is evaluated once per test and may return anything that
/// implements [`IntoFixture`]: an
/// `Arc<dyn Store>`, a `Result` of one (an error fails the test), a
/// [`Fixture`] (to keep a temporary directory alive
/// or declare planted secrets), or an `Option` of those (`None` skips).
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread`
/// features.
///
/// # Example
/// ```ignore
/// mod memory {
///     lake_runtime::store_conformance_tests!(lake_runtime::store::open_store(
///         &lake_runtime::testing::unique_memory_url()
///     ));
/// }
/// ```
#[macro_export]
macro_rules! store_conformance_tests {
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread")]
            async fn $check() {
                let ::core::option::Option::Some(fixture) = $crate::testing::IntoFixture::into_fixture($make) else {
                    ::std::eprintln!(::core::concat!("skipping ", ::core::stringify!($check), ": no store under test"));
                    return;
                };
                $crate::testing::$check(fixture.store()).await;
            }
        )*
    };
    (@fixture $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread")]
            async fn $check() {
                let ::core::option::Option::Some(fixture) = $crate::testing::IntoFixture::into_fixture($make) else {
                    ::std::eprintln!(::core::concat!("skipping ", ::core::stringify!($check), ": no store under test"));
                    return;
                };
                $crate::testing::$check(&fixture).await;
            }
        )*
    };
    ($make:expr) => {
        $crate::store_conformance_tests!(@each $make;
            check_round_trip,
            check_get_range,
            check_missing_is_not_found,
            check_delete_is_idempotent,
            check_update_with_current_version,
            check_list_prefix_is_segment_wise,
            check_list_pagination,
            check_list_after,
            check_put_file_small,
            check_put_file_large,
            check_unusual_keys,
        );
        $crate::store_conformance_tests!(@fixture $make;
            check_put_etag_matches_list,
            check_create_does_not_overwrite,
            check_update_with_stale_version,
            check_update_of_missing_key,
            check_concurrent_create_has_one_winner,
            check_create_large_does_not_overwrite,
            check_concurrent_cas_counter,
            check_errors_hide_secrets,
        );
    };
}
