//! [`Fixture`]: a store under test and what it declares about itself,
//! chiefly the [`Guarantee`] of its conditional writes.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use lake_core::Store;

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
    /// keys, sizes and times only). [`check_put_etag_matches_list`](super::check_put_etag_matches_list) then
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
    /// [`check_create_large_does_not_overwrite`](super::check_create_large_does_not_overwrite) then accepts any error, but
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
    /// [`check_errors_hide_secrets`](super::check_errors_hide_secrets) then looks for.
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
    /// [`PutMode::Create`](lake_core::PutMode::Create).
    pub create: Guarantee,
    /// [`PutMode::Update`](lake_core::PutMode::Update).
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
