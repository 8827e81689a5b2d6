//! The lake: a home in front of a store.
//!
//! [`Lake`] itself (this file) is the handle: how it is opened, which lake
//! is current, and the shared state every operation borrows (config, store,
//! home, index, memo). Each operation lives in its own module, each with
//! one `impl Lake` block:
//!
//! - `lookup`: records and run manifests, from the memo, the index or the
//!   store;
//! - `download`: local copies of content (`fetch`, `pull`);
//! - `stage`: writing bytes into the home's staging area, hashing them;
//! - `stream_writer`: writing straight to the store, with no local copy;
//! - `status`: the stale outputs, and those made from them;
//! - `add`: `add` of a file, a directory or a URL;
//! - `walk`: the directory walk behind `add -r`;
//! - `publish`: the commit protocol (blob, then name record, then run
//!   manifest; create, else read the winner and compare);
//! - `packs`: record packs, which let a refresh learn many names at once;
//! - `refresh`: listing, and rebuilding the index from the store;
//! - `remove`: `rm`, with tombstones, lineage and the blob protocol;
//! - `tombstones`: what `add` and a refresh learn of removed names;
//! - `nesting`: a name is a file or a folder, never both;
//! - `verify`: verify, stale outputs;
//! - `evict`: dropping local copies, never one another name still holds;
//! - `gc`: removing what interrupted writes leave behind;
//! - `external`: `add` of an object from another store URL;
//! - `annotations`: tags, labels and a timestamp, updated by
//!   compare-and-swap;
//! - `pointer`: pointer files that stand for a file in a store;
//! - `local_source`: local files as creator inputs, uploaded only when a
//!   creator taking them runs;
//! - `presign`: presigned URLs, for a recipient without credentials;
//! - `graph` and `why`: lineage views (`lake lineage`, `lake why`).
//! - `graph` and `why`: lineage views (`lake lineage`, `lake why`);
//! - `stores`: the named stores, replicas and the read order;
//! - `history`: the append-only history of each name in the store;
//! - `relocate`: `cp`, `mv` and `rm --from` between named stores, and the
//!   repair of interrupted ones.
//!
//! Three words for three places: the **memo** is this process's memory of
//! immutable facts, the **index** is the home's SQLite database (a cache of
//! the store's records), and a **local copy** is a content file in the
//! home's `blobs/`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use lake_core::key::RunKey;
use lake_core::{Digest, Name, Store};

use crate::blocking::block_on;
use crate::config::{LakeConfig, LakeConfigBuilder};
use crate::home::Home;
use crate::index::Index;
use crate::store::StoreIdentity;
use crate::{Error, File, Result};

mod add;
pub(crate) mod annotations;
mod download;
mod evict;
pub(crate) mod external;
pub(crate) mod gc;
mod graph;
mod history;
mod local_budget;
mod local_source;
mod lookup;
mod nesting;
mod packs;
mod pointer;
mod presign;
mod publish;
mod refresh;
mod relocate;
mod remove;
mod stage;
mod status;
mod stores;
mod stream_writer;
mod tombstones;
mod verify;
mod walk;
mod why;

pub use add::{AddMode, AddOutcome};
pub use download::PullReport;
pub use evict::{Evict, EvictReport};
pub use graph::{LineageDirection, LineageEdge, LineageGraph, LineageNode};
pub use history::History;
pub use local_budget::LocalBudgetReport;
pub use presign::MAX_PRESIGNED_EXPIRY;
pub(crate) use publish::RunOutput;
pub use refresh::ListEntry;
pub use relocate::RelocateReport;
pub use remove::{RemoveOptions, RemoveReport, RemovedName};
pub use status::StatusEntry;
pub use stream_writer::StoreWriter;
pub use verify::{VerifyProblem, VerifyReport};
pub use why::{EarlierRun, RunExplanation};

thread_local! {
    static SCOPED_LAKE: std::cell::RefCell<Option<Lake>> = const { std::cell::RefCell::new(None) };
}

/// How many store requests run at once when many small objects move
/// (downloads, record and manifest reads, verify, gc).
const PARALLEL_REQUESTS: usize = 32;

/// A lake: a local home (cache, index, staging) in front of an object store.
///
/// Cheap to clone; clones share the home, the index and the store client.
///
/// # Example
/// ```
/// use lake_runtime::{Lake, LakeConfigBuilder};
///
/// let dir = tempfile::tempdir()?;
/// let lake = Lake::open_with(
///     LakeConfigBuilder::new().with_home(dir.path()).with_store("memory://lake-doc").build()?,
/// )?;
/// let mut writer = lake.create("notes/hello.txt")?;
/// std::io::Write::write_all(&mut writer, b"hello lake")?;
/// let file = writer.commit()?;
/// assert_eq!(file.read_to_string()?, "hello lake");
/// assert_eq!(lake.list("notes", false)?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

struct Inner {
    config: LakeConfig,
    store: Arc<dyn Store>,
    home: Home,
    /// The id of `store` (see [`StoreIdentity`]) whose index `index` is.
    /// Changes only when a refresh finds another store at the URL.
    store_id: Mutex<String>,
    /// Where the home caches the store id of this URL, `None` for a
    /// process-local store whose id must not outlive the process.
    binding: Option<String>,
    index: Mutex<Index>,
    originator: OnceLock<String>,
    memo: Mutex<Memo>,
    outcomes: crate::outcome::OutcomeLog,
    /// The named stores other than the default one (see `stores`).
    replicas: std::collections::BTreeMap<String, Arc<dyn Store>>,
    /// The ids of the replicas, as each was first asked for.
    replica_ids: Mutex<std::collections::BTreeMap<String, String>>,
}

/// In-process memo of immutable facts: a name's digest never changes once
/// committed, nor does a finished run's output list. A warm cache hit is
/// answered from here without SQLite, JSON or the async runtime.
#[derive(Default)]
struct Memo {
    digests: std::collections::HashMap<Name, (Digest, u64)>,
    runs: std::collections::HashMap<RunKey, Arc<[Name]>>,
    /// The run key in each known name's record (`None`: added, not made by
    /// a run), for hits on explicit output names.
    made_by: std::collections::HashMap<Name, Option<RunKey>>,
    /// Local sources not uploaded yet (see `local_source`).
    local_sources: std::collections::HashMap<Name, local_source::PendingSource>,
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake")
            .field("home", &self.inner.home.root())
            .field("store", &self.inner.store.to_string())
            .finish()
    }
}

impl Lake {
    /// Opens the lake configured by the environment and `lake.toml`.
    pub fn open() -> Result<Self> {
        Self::open_with(LakeConfigBuilder::from_env().build()?)
    }

    /// Opens the lake described by `config`, creating the home if needed.
    pub fn open_with(config: LakeConfig) -> Result<Self> {
        let options = config
            .store_options
            .iter()
            .fold(crate::store::StoreOptions::new(), |o, (k, v)| o.with(k, v));
        let store = crate::store::open_store_with(&config.store_url, &options)?;
        Self::open_with_store(config, store)
    }

    /// Opens a lake on an already built store, e.g. a
    /// [`CountingStore`](crate::store::CountingStore) wrapping the real one.
    /// `config.store_url` and `config.store_options` must describe that
    /// store: the home caches the store's id under them, so that a fresh
    /// process finds the store's index without a request (a mismatch is
    /// found and corrected at the next refresh, see
    /// [`Lake::refresh_async`]).
    ///
    /// The first time a home meets a store, this asks the store for its id
    /// (one small GET), creating it if the store has none (one conditional
    /// PUT of [`STORE_ID_KEY`](crate::store::STORE_ID_KEY)).
    pub fn open_with_store(config: LakeConfig, store: Arc<dyn Store>) -> Result<Self> {
        Self::open_with_stores(config, store, std::collections::BTreeMap::new())
    }

    /// [`Lake::open_with_store`] with the replica stores built too, by
    /// name: each name must be one of `config.replicas`, whose URL the
    /// store must serve (a test wraps the real store, say, to inject a
    /// fault). Replicas missing from `replicas` are opened from `config`.
    pub fn open_with_stores(
        config: LakeConfig,
        store: Arc<dyn Store>,
        mut replicas: std::collections::BTreeMap<String, Arc<dyn Store>>,
    ) -> Result<Self> {
        for name in replicas.keys() {
            if !config.replicas.contains_key(name) {
                return Err(Error::UnknownStore {
                    name: name.clone(),
                    known: config.read_order.join(", "),
                });
            }
        }
        for (name, replica) in &config.replicas {
            if replicas.contains_key(name) {
                continue;
            }
            let options = replica
                .options
                .iter()
                .fold(crate::store::StoreOptions::new(), |o, (k, v)| o.with(k, v));
            replicas.insert(
                name.clone(),
                crate::store::open_store_with(&replica.url, &options)?,
            );
        }
        let home = Home::open(&config.home)?;
        let binding = (!crate::store::is_process_local(&config.store_url)).then(|| {
            let options = config
                .store_options
                .iter()
                .fold(crate::store::StoreOptions::new(), |o, (k, v)| o.with(k, v));
            crate::store::store_location(&config.store_url, &options)
        });
        let store_id = match binding.as_deref().and_then(|b| home.binding(b)) {
            Some(id) => id,
            None => {
                let identity = block_on(StoreIdentity::read_or_create(&*store))?;
                if let Some(binding) = &binding {
                    home.bind(binding, &identity.id)?;
                }
                identity.id
            }
        };
        let index = Index::open(&home.index_path(&store_id)?)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                home,
                store_id: Mutex::new(store_id),
                binding,
                index: Mutex::new(index),
                originator: OnceLock::new(),
                memo: Mutex::new(Memo::default()),
                outcomes: crate::outcome::OutcomeLog::from_env(),
                replicas,
                replica_ids: Mutex::new(std::collections::BTreeMap::new()),
            }),
        })
    }

    /// The process-wide lake, opened on first use with [`Lake::open`]:
    /// where [`Lake::current`] falls back to when nothing is in scope.
    pub fn global() -> Result<Self> {
        static GLOBAL: OnceLock<Lake> = OnceLock::new();
        if let Some(lake) = GLOBAL.get() {
            return Ok(lake.clone());
        }
        let lake = Self::open()?;
        Ok(GLOBAL.get_or_init(|| lake).clone())
    }

    /// The lake that [`File::new`] and creators without input files use:
    /// the lake of the run in progress, else the one set by [`Lake::scope`]
    /// (or a live [`TempLake`](crate::test::TempLake)) on this thread, else
    /// [`Lake::global`].
    ///
    /// # Errors
    /// [`Error::NoLakeInScope`] while a [`TempLake`](crate::test::TempLake)
    /// lives anywhere in the process and this thread has no lake in scope:
    /// a test must never fall through to the user's real default home.
    pub fn current() -> Result<Self> {
        if let Some(run) = crate::run::current_run() {
            return Ok(run.lake.clone());
        }
        if let Some(lake) = SCOPED_LAKE.with(|l| l.borrow().clone()) {
            return Ok(lake);
        }
        if crate::test::temporary_lakes_alive() {
            return Err(Error::NoLakeInScope {
                thread: std::thread::current()
                    .name()
                    .unwrap_or("<unnamed>")
                    .to_owned(),
            });
        }
        Self::global()
    }

    /// Makes `lake` this thread's scoped lake, returning the previous one.
    pub(crate) fn replace_scoped(lake: Option<Lake>) -> Option<Lake> {
        SCOPED_LAKE.with(|l| std::mem::replace(&mut *l.borrow_mut(), lake))
    }

    pub(crate) fn outcome_log(&self) -> &crate::outcome::OutcomeLog {
        &self.inner.outcomes
    }

    /// Runs `f` with this lake as [`Lake::current`] on this thread.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Lake>);
        impl Drop for Restore {
            fn drop(&mut self) {
                SCOPED_LAKE.with(|l| *l.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(SCOPED_LAKE.with(|l| l.borrow_mut().replace(self.clone())));
        f()
    }

    /// The configuration this lake was opened with.
    pub fn config(&self) -> &LakeConfig {
        &self.inner.config
    }

    /// The store behind the lake.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The home directory.
    pub fn home_dir(&self) -> &Path {
        self.inner.home.root()
    }

    /// The id of the store (the content of its
    /// [`STORE_ID_KEY`](crate::store::STORE_ID_KEY) object), which names the
    /// home's index for it: `<home>/stores/<id>/index.sqlite`.
    pub fn store_id(&self) -> String {
        self.inner
            .store_id
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub(crate) fn home(&self) -> &Home {
        &self.inner.home
    }

    pub(crate) fn index(&self) -> MutexGuard<'_, Index> {
        // A panic while holding the lock leaves SQLite consistent (each
        // statement is atomic), so a poisoned lock is safe to reuse.
        self.inner
            .index
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn memo(&self) -> MutexGuard<'_, Memo> {
        // The memo holds only immutable facts, valid even after a panic.
        self.inner
            .memo
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn store_display(&self) -> String {
        self.inner.store.to_string()
    }

    /// The directory of a `file://` (or bare path) store.
    fn local_store_root(&self) -> Option<PathBuf> {
        let raw = self.config().store_url.trim();
        if !raw.contains("://") {
            return std::path::absolute(raw).ok();
        }
        let url = url::Url::parse(raw).ok()?;
        if url.scheme() != "file" {
            return None;
        }
        url.to_file_path().ok()
    }

    /// A handle to `name`. Nothing is read until it is used.
    pub fn file(&self, name: impl AsRef<str>) -> Result<File> {
        Ok(File::from_parts(self.clone(), Name::new(name.as_ref())?))
    }

    /// Starts writing a new file named `name`; see [`FileWriter`](crate::FileWriter).
    pub fn create(&self, name: impl AsRef<str>) -> Result<crate::FileWriter> {
        crate::FileWriter::new(self.clone(), Name::new(name.as_ref())?)
    }

    /// Who is acting: git `user.email`, else `$USER@host`.
    pub fn originator(&self) -> &str {
        self.inner
            .originator
            .get_or_init(crate::lineage::originator)
    }
}
