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

mod conditional;
mod fixture;
mod listing;
mod objects;
mod secrets;
mod servers;
mod upload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lake_core::{ObjectVersion, PutMode, Store, StoreExt, StorePath};

pub use conditional::{
    check_concurrent_cas_counter, check_concurrent_create_has_one_winner,
    check_create_does_not_overwrite, check_create_large_does_not_overwrite,
    check_update_of_missing_key, check_update_with_current_version,
    check_update_with_stale_version,
};
pub use fixture::{Conditionals, Fixture, Guarantee, IntoFixture};
pub use listing::{
    check_list_after, check_list_pagination, check_list_prefix_is_segment_wise,
    check_put_etag_matches_list,
};
pub use objects::{
    check_delete_is_idempotent, check_get_range, check_missing_is_not_found, check_round_trip,
    check_unusual_keys,
};
pub use secrets::check_errors_hide_secrets;
pub use servers::{server_fixture, server_from_env, unique_memory_url};
pub use upload::{check_copy, check_put_file_large, check_put_file_small, check_put_stream};

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

/// The whole content of `path`; panics naming the store on failure.
async fn read_all(store: &dyn Store, path: &StorePath) -> Vec<u8> {
    store
        .read_all(path)
        .await
        .unwrap_or_else(|e| panic!("{store}: reading {path} failed: {e}"))
        .into()
}

/// Asserts that `path` holds `expected`; `why` says what went wrong if not.
async fn assert_content(store: &dyn Store, path: &StorePath, expected: &[u8], why: &str) {
    assert_eq!(read_all(store, path).await, expected, "{store}: {why}");
}

/// Every key below `prefix`, following `next` with pages of `limit`.
async fn list_all(store: &dyn Store, prefix: &StorePath, limit: usize) -> Vec<StorePath> {
    store
        .list_all(prefix, limit)
        .await
        .unwrap_or_else(|e| panic!("{store}: list {prefix:?} failed: {e}"))
        .into_iter()
        .map(|meta| meta.path)
        .collect()
}

async fn put(store: &dyn Store, path: &StorePath, bytes: &[u8], mode: PutMode) -> ObjectVersion {
    store
        .put(path, Bytes::copy_from_slice(bytes), mode.clone())
        .await
        .unwrap_or_else(|e| panic!("{store}: put {path} ({mode:?}) failed: {e}"))
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
            check_put_stream,
            check_copy,
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
