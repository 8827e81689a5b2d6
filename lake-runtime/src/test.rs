//! A kit for testing pipelines with `cargo test`: temporary lakes, call
//! outcomes, and assertions about hits and runs.
//!
//! # Overview
//! - [`TempLake`] ([`Lake::temporary`]): a home and a `file://` store in a
//!   temporary directory, removed on drop. While it lives it is the lake of
//!   its thread, so no creator call can reach the user's default home; a
//!   call on another thread with no lake in scope fails instead.
//!   [`TempLake::second_machine`] shares the store with a fresh home.
//! - Outcomes: every creator call on a temporary lake records a
//!   [`CallOutcome`]: [`Outcome::Hit`] with its [`HitSource`], or
//!   [`Outcome::Ran`] with its [`RunReason`]. Read them with
//!   [`Lake::outcomes`] (draining) or [`Lake::outcome_counts`].
//! - Assertions: [`assert_hit!`](crate::assert_hit),
//!   [`assert_ran!`](crate::assert_ran) and [`Lake::expect_runs`]. A failure
//!   names the creator, what it did, and for an unexpected run which key
//!   component changed since its previous call.
//! - [`Lake::force`] (or `LAKE_FORCE=name,…`) re-runs a creator for
//!   debugging; its bytes must match what was committed.
//!
//! # Quick start
//! ```
//! use std::io::Write;
//! use lake_runtime::{File, Lake, assert_hit, assert_ran, file_creator};
//!
//! #[file_creator]
//! fn scale(input: &File, factor: u32) -> lake_runtime::Result<File> {
//!     let n: u32 = input.read_to_string()?.trim().parse().unwrap();
//!     let mut out = File::create_output()?;
//!     write!(out, "{}", n * factor)?;
//!     out.commit()
//! }
//!
//! let lake = Lake::temporary()?;
//! let mut w = lake.create("raw/n.txt")?;
//! w.write_all(b"7")?;
//! let n = w.commit()?;
//!
//! let first = assert_ran!(scale(&n, 3))?;
//! assert_hit!(scale(&n, 3))?;      // same call: no run
//! assert_ran!(scale(&n, 4))?;      // another argument: a run
//! assert_eq!(first.read_to_string()?, "21");
//! lake.expect_runs(&[], || scale(&n, 3))?; // nothing re-runs
//!
//! // A second machine sharing the store: a hit, answered by the store.
//! let other = lake.second_machine()?;
//! let n_there = other.file("raw/n.txt")?;
//! assert_hit!(scale(&n_there, 3))?;
//! # Ok::<(), lake_runtime::Error>(())
//! ```

use std::marker::PhantomData;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use crate::outcome::{
    CallOutcome, HitSource, OUTCOME_LOG_CAPACITY, Outcome, OutcomeCounts, RunReason,
};
use crate::{Error, Lake, LakeConfigBuilder, Result};

static TEMPORARY_LAKES: AtomicUsize = AtomicUsize::new(0);

/// True while any [`TempLake`] lives in this process.
pub(crate) fn temporary_lakes_alive() -> bool {
    TEMPORARY_LAKES.load(Ordering::Relaxed) > 0
}

/// A lake in a temporary directory that is this thread's lake while it
/// lives; see the [module docs](self).
///
/// It dereferences to [`Lake`]. It is not `Send`: it scopes the thread that
/// made it, and restores that thread's previous lake on drop (so drop
/// several in reverse order of creation, as scopes nest).
#[derive(Debug)]
pub struct TempLake {
    lake: Lake,
    previous: Option<Lake>,
    _home: tempfile::TempDir,
    store: Arc<tempfile::TempDir>,
    _not_send: PhantomData<*const ()>,
}

impl Lake {
    /// A [`TempLake`]: home and `file://` store in a fresh temporary
    /// directory, outcome tracking on, and the lake of this thread until it
    /// is dropped.
    ///
    /// # Errors
    /// When the temporary directory or the lake cannot be created.
    pub fn temporary() -> Result<TempLake> {
        let store = tempfile::Builder::new()
            .prefix("lake-test-store-")
            .tempdir()
            .map_err(|e| Error::io("create temporary directory in", std::env::temp_dir(), e))?;
        TempLake::with_store(Arc::new(store))
    }
}

impl TempLake {
    fn with_store(store: Arc<tempfile::TempDir>) -> Result<Self> {
        let home = tempfile::Builder::new()
            .prefix("lake-test-home-")
            .tempdir()
            .map_err(|e| Error::io("create temporary directory in", std::env::temp_dir(), e))?;
        let lake = Lake::open_with(
            LakeConfigBuilder::new()
                .with_home(home.path())
                .with_store(format!("file://{}", store.path().display()))
                .build()?,
        )?;
        lake.track_outcomes(true);
        TEMPORARY_LAKES.fetch_add(1, Ordering::Relaxed);
        let previous = Lake::replace_scoped(Some(lake.clone()));
        Ok(Self {
            lake,
            previous,
            _home: home,
            store,
            _not_send: PhantomData,
        })
    }

    /// Another temporary lake with its own empty home on this lake's store,
    /// as a second machine would see it. It becomes this thread's lake
    /// until it is dropped.
    ///
    /// # Errors
    /// As [`Lake::temporary`].
    pub fn second_machine(&self) -> Result<TempLake> {
        Self::with_store(Arc::clone(&self.store))
    }

    /// The store's directory.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// The lake (also reachable through `Deref`).
    pub fn lake(&self) -> &Lake {
        &self.lake
    }
}

impl Deref for TempLake {
    type Target = Lake;

    fn deref(&self) -> &Lake {
        &self.lake
    }
}

impl Drop for TempLake {
    fn drop(&mut self) {
        Lake::replace_scoped(self.previous.take());
        TEMPORARY_LAKES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Asserts that evaluating a creator call (or any expression making
/// creator calls on the current lake) ran no body: every call was a hit.
/// Evaluates to the expression's value. Works with `.await` inside.
///
/// # Panics
/// Naming the creator that ran, why, and which key component changed; or
/// when no creator was called on the lake in scope.
///
/// # Example
/// See the [`test`](crate::test) module.
#[macro_export]
macro_rules! assert_hit {
    ($call:expr $(,)?) => {{
        let (__lake_lake, __lake_mark) = $crate::test::__mark();
        let __lake_value = $call;
        $crate::test::__check(&__lake_lake, __lake_mark, true, ::core::stringify!($call));
        __lake_value
    }};
}

/// Asserts that evaluating a creator call ran a body (at least one call
/// was not a hit). Evaluates to the expression's value.
///
/// # Panics
/// Naming the creator and where its hit came from; or when no creator was
/// called on the lake in scope.
///
/// # Example
/// See the [`test`](crate::test) module.
#[macro_export]
macro_rules! assert_ran {
    ($call:expr $(,)?) => {{
        let (__lake_lake, __lake_mark) = $crate::test::__mark();
        let __lake_value = $call;
        $crate::test::__check(&__lake_lake, __lake_mark, false, ::core::stringify!($call));
        __lake_value
    }};
}

/// The current lake, with tracking turned on, and its log position.
#[doc(hidden)]
pub fn __mark() -> (Lake, u64) {
    let lake = Lake::current().unwrap_or_else(|e| panic!("no lake to check outcomes on: {e}"));
    let log = lake.outcome_log();
    log.set_tracking(true);
    let mark = log.mark();
    (lake, mark)
}

#[doc(hidden)]
#[track_caller]
pub fn __check(lake: &Lake, mark: u64, want_hit: bool, expr: &str) {
    if let Err(message) = crate::outcome::check_outcome(lake, mark, want_hit, expr) {
        panic!("{message}");
    }
}
