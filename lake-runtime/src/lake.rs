//! The lake: a home in front of a store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use lake_core::{
    AddedLineage, Digest, Lineage, NAMES_PREFIX, Name, PACKS_PREFIX, PackedRecord, PutMode,
    RECORD_SCHEMA_VERSION, Record, RecordPack, Store, StorePath,
};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::blocking::block_on;
use crate::config::{LakeConfig, LakeConfigBuilder};
use crate::home::{Home, copy_hashing, hash_file, hash_own_file};
use crate::index::{Index, SourceStamp};
use crate::progress::Progress;
use crate::run::RunManifest;
use crate::store::StoreIdentity;
use crate::{Error, File, Result};
use lake_core::key::RunKey;

thread_local! {
    static SCOPED_LAKE: std::cell::RefCell<Option<Lake>> = const { std::cell::RefCell::new(None) };
}

/// How many store requests run at once when many small objects move.
const PARALLEL_REQUESTS: usize = 32;
/// Objects asked for per listing page. Large, because a local store walks
/// its whole directory for every page; S3 and Azure still page by 1,000
/// underneath, so memory stays bounded by this many small entries.
pub(crate) const LIST_PAGE: usize = 100_000;
/// How many files `add -r` stages at once.
const PARALLEL_ADDS: usize = 8;
/// A refresh that meets more new names than this looks for record packs
/// first: below it, listing `packs/` costs about what it saves.
const PACKS_WORTH_READING: usize = 8;
/// How much older than the oldest new name a record pack may look and still
/// be read. A pack is written after its records, by the same store clock, so
/// an older pack cannot hold a new name; the margin only absorbs clock
/// differences between a distributed store's servers.
const PACK_CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Blobs at least this large download as several ranges at once.
const RANGED_DOWNLOAD_MIN: u64 = 64 << 20;

/// How many ranges a large download reads at once. Few and large: some
/// servers (moto) read the whole object for every range request.
const DOWNLOAD_STREAMS: u64 = 4;

/// Bytes gathered per write of a ranged download.
const DOWNLOAD_WRITE: usize = 4 << 20;

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
}

impl fmt::Debug for Lake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lake")
            .field("home", &self.inner.home.root())
            .field("store", &self.inner.store.to_string())
            .finish()
    }
}

/// How `add` treats its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddMode {
    /// Leave the source in place.
    #[default]
    Copy,
    /// Remove the source once the lake holds it.
    Move,
}

/// What an `add` or a commit did. The full record is one
/// [`Lake::record`] away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The name.
    pub name: Name,
    /// Its content digest.
    pub blake3: Digest,
    /// Its content length.
    pub size: u64,
    /// False if the name already held this exact content (a no-op).
    pub created: bool,
}

impl AddOutcome {
    fn of(record: &Record, created: bool) -> Self {
        Self {
            name: record.name.clone(),
            blake3: record.blake3,
            size: record.size,
            created,
        }
    }
}

/// One line of [`Lake::list`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListEntry {
    /// The name.
    pub name: Name,
    /// Content length in bytes.
    pub size: u64,
    /// Content digest.
    pub blake3: Digest,
    /// True if the content is in the home's cache.
    pub local: bool,
    /// True if the store held the name at the last refresh.
    pub in_store: bool,
}

/// Result of [`Lake::pull_async`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PullReport {
    /// Files downloaded.
    pub downloaded: usize,
    /// Bytes downloaded.
    pub bytes: u64,
    /// Files that were already in the home's cache.
    pub already_local: usize,
}

/// Result of [`Lake::verify`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    /// Names whose bytes were hashed and matched.
    pub ok: Vec<Name>,
    /// Problems found, one per name and place.
    pub problems: Vec<VerifyProblem>,
    /// Names whose problems `--repair` fixed.
    pub repaired: Vec<Name>,
}

/// One problem found by [`Lake::verify`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifyProblem {
    /// The name.
    pub name: Name,
    /// `local` or `store`.
    pub place: &'static str,
    /// What is wrong.
    pub message: String,
}

impl VerifyReport {
    /// True if no problem is left unrepaired.
    pub fn is_clean(&self) -> bool {
        self.problems
            .iter()
            .all(|p| self.repaired.contains(&p.name))
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
            }),
        })
    }

    /// The process-wide lake used by [`File::new`], opened on first use with
    /// [`Lake::open`].
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

    /// Reads the store's id and, if it is not the one this lake's index
    /// belongs to (the URL now points at another store, or the store was
    /// emptied and given a new id), switches to that store's index, forgets
    /// the in-process memo and re-binds the URL in the home. Part of every
    /// refresh, so a stale binding lives at most until the next `ls`.
    async fn check_store_id(&self) -> Result<()> {
        let identity = StoreIdentity::read_or_create(&*self.inner.store).await?;
        if identity.id == self.store_id() {
            return Ok(());
        }
        tracing::warn!(
            store = %self.store_display(),
            was = %self.store_id(),
            now = %identity.id,
            "the store at this url has another id than when this home last used it; \
             switching to that store's index"
        );
        let index = Index::open(&self.inner.home.index_path(&identity.id)?)?;
        if let Some(binding) = &self.inner.binding {
            self.inner.home.bind(binding, &identity.id)?;
        }
        // Index first, memo second: a concurrent lookup may still refill the
        // memo from the old index in between, but only with facts that held
        // for that store; the next lookup after the swap asks the new one.
        *self.index() = index;
        *self.memo() = Memo::default();
        *self
            .inner
            .store_id
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = identity.id;
        Ok(())
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

    fn store_display(&self) -> String {
        self.inner.store.to_string()
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

    // ---------------------------------------------------------------- records

    /// The record of `name`, from the index or else the store.
    pub async fn record_async(&self, name: &Name) -> Result<Record> {
        self.try_record(name).await?.ok_or_else(|| Error::NotFound {
            name: name.clone(),
            store: self.store_display(),
        })
    }

    /// Blocking [`Lake::record_async`].
    pub fn record(&self, name: &Name) -> Result<Record> {
        block_on(self.record_async(name))
    }

    pub(crate) async fn try_record(&self, name: &Name) -> Result<Option<Record>> {
        if let Some(record) = self.index().get(name)? {
            self.remember_digest(&record);
            return Ok(Some(record));
        }
        let Some(record) = self.fetch_record_from_store(name).await? else {
            return Ok(None);
        };
        // Caching the record is a favour to the next read: a read must not
        // fail because the index cannot be written (a full disk).
        if let Err(e) = self.index().insert(&record) {
            tracing::debug!(%name, error = %e, "could not cache the record in the index");
        }
        self.remember_digest(&record);
        Ok(Some(record))
    }

    fn memo(&self) -> MutexGuard<'_, Memo> {
        // The memo holds only immutable facts, valid even after a panic.
        self.inner
            .memo
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn remember_digest(&self, record: &Record) {
        self.memo()
            .digests
            .insert(record.name.clone(), (record.blake3, record.size));
    }

    /// The digest of `name` if this process has already seen its record.
    pub(crate) fn cached_digest(&self, name: &Name) -> Option<Digest> {
        self.memo().digests.get(name).map(|(digest, _)| *digest)
    }

    /// Digest and size of `name` without parsing its record, from the memo
    /// or the index only.
    fn indexed_content(&self, name: &Name) -> Result<Option<(Digest, u64)>> {
        if let Some(entry) = self.memo().digests.get(name) {
            return Ok(Some(*entry));
        }
        let entry = self.index().content_of(name)?;
        if let Some(entry) = entry {
            self.memo().digests.insert(name.clone(), entry);
        }
        Ok(entry)
    }

    /// Digest and size of `name` without parsing its record: from the memo,
    /// the index, or else the store.
    async fn existing_content(&self, name: &Name) -> Result<Option<(Digest, u64)>> {
        if let Some(entry) = self.indexed_content(name)? {
            return Ok(Some(entry));
        }
        Ok(self
            .try_record(name)
            .await?
            .map(|record| (record.blake3, record.size)))
    }

    /// The outputs of run `key` if this process has already seen its manifest.
    pub(crate) fn cached_run(&self, key: &RunKey) -> Option<Arc<[Name]>> {
        self.memo().runs.get(key).cloned()
    }

    /// The digest of `name` from the memo or the index, without the store.
    /// Index errors read as "unknown": the caller then takes the slow path,
    /// which reports them.
    pub(crate) fn indexed_digest(&self, name: &Name) -> Option<Digest> {
        self.indexed_content(name).ok().flatten().map(|(d, _)| d)
    }

    /// The outputs of run `key` from the memo or the index, without the store.
    pub(crate) fn indexed_run(&self, key: &RunKey) -> Option<Arc<[Name]>> {
        if let Some(names) = self.cached_run(key) {
            return Some(names);
        }
        let json = self.index().run_manifest(&key.to_hex()).ok()??;
        let manifest: RunManifest = serde_json::from_str(&json).ok()?;
        self.remember_run(&manifest);
        self.cached_run(key)
    }

    /// The key of the run that made `name` (`Some(None)`: `name` was added,
    /// not made by a run), from the memo or the index, without the store;
    /// `None` if this home does not know the name. Index errors read as
    /// unknown: the caller then takes the slow path, which reports them.
    pub(crate) fn indexed_maker(&self, name: &Name) -> Option<Option<RunKey>> {
        if let Some(maker) = self.memo().made_by.get(name) {
            return Some(*maker);
        }
        let record = self.index().get(name).ok()??;
        self.remember_digest(&record);
        Some(self.memo_maker(&record))
    }

    /// [`Lake::indexed_maker`] from the in-process memo alone.
    pub(crate) fn cached_maker(&self, name: &Name) -> Option<Option<RunKey>> {
        self.memo().made_by.get(name).copied()
    }

    fn memo_maker(&self, record: &Record) -> Option<RunKey> {
        let maker = match &record.lineage {
            Lineage::Created(run) => run.run_key.parse().ok(),
            _ => None,
        };
        self.memo().made_by.insert(record.name.clone(), maker);
        maker
    }

    /// The record of `name` as the store has it now, bypassing the index,
    /// which it then corrects: a name deleted from the store (as a refusal
    /// of an explicit output name suggests) is forgotten.
    pub(crate) async fn record_from_store(&self, name: &Name) -> Result<Option<Record>> {
        match self.fetch_record_from_store(name).await? {
            Some(record) => {
                self.index().insert(&record)?;
                self.remember_digest(&record);
                self.memo_maker(&record);
                Ok(Some(record))
            }
            None => {
                self.index()
                    .apply_refresh(&[], std::slice::from_ref(name), false)?;
                let mut memo = self.memo();
                memo.digests.remove(name);
                memo.made_by.remove(name);
                Ok(None)
            }
        }
    }

    fn remember_run(&self, manifest: &RunManifest) {
        let names: Arc<[Name]> = manifest.outputs.iter().map(|o| o.name.clone()).collect();
        self.memo().runs.insert(manifest.key, names);
    }

    async fn fetch_record_from_store(&self, name: &Name) -> Result<Option<Record>> {
        let path = StorePath::name_record(name);
        let bytes = match self.get_small(&path).await {
            Ok(bytes) => bytes,
            Err(Error::Store(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let record = Record::from_json(&bytes).map_err(|e| match e {
            lake_core::Error::Decode { source, .. } => lake_core::Error::Decode {
                what: format!("name record {path}"),
                source,
            },
            other => other,
        })?;
        if &record.name != name {
            return Err(Error::Run(format!(
                "store object {path} holds the record of {:?}, not of {name:?}",
                record.name.as_str()
            )));
        }
        Ok(Some(record))
    }

    async fn get_small(&self, path: &StorePath) -> Result<Vec<u8>> {
        let got = self.inner.store.get(path).await?;
        let chunks: Vec<Bytes> = got.chunks.try_collect().await?;
        Ok(chunks.concat())
    }

    /// True if the store holds `name` (one small request; nothing downloaded).
    pub async fn exists_in_store_async(&self, name: &Name) -> Result<bool> {
        match self.inner.store.head(&StorePath::name_record(name)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// True if the content of `name` is in the home's cache.
    pub fn exists_locally(&self, name: &Name) -> Result<bool> {
        Ok(match self.index().get(name)? {
            Some(record) => self
                .inner
                .home
                .has_blob_of_size(&record.blake3, record.size),
            None => false,
        })
    }

    // ------------------------------------------------------------------ reads

    /// The local path of `name`'s content, downloading and verifying it first
    /// if it is not cached. The file is read-only.
    pub async fn fetch_async(&self, name: &Name) -> Result<PathBuf> {
        let record = self.record_async(name).await?;
        self.fetch_record(&record).await
    }

    /// Downloads every name at or below `prefix` that is not cached yet,
    /// many at a time, each verified like [`Lake::fetch_async`].
    pub async fn pull_async(&self, prefix: &str) -> Result<PullReport> {
        let entries = self.list_async(prefix, true).await?;
        let mut report = PullReport::default();
        let missing: Vec<ListEntry> = entries
            .into_iter()
            .filter(|e| {
                if e.local {
                    report.already_local += 1;
                }
                !e.local
            })
            .collect();
        let sizes: Vec<u64> = futures::stream::iter(missing)
            .map(|entry| async move {
                self.fetch_async(&entry.name).await?;
                Ok::<_, Error>(entry.size)
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect()
            .await?;
        report.downloaded = sizes.len();
        report.bytes = sizes.iter().sum();
        Ok(report)
    }

    /// Blocking [`Lake::fetch_async`].
    pub fn fetch(&self, name: &Name) -> Result<PathBuf> {
        block_on(self.fetch_async(name))
    }

    /// The local copy of `record`'s content, downloaded (and verified)
    /// unless a sound copy is cached.
    ///
    /// A cached copy is served only if it is a regular file of the recorded
    /// size: a truncated or extended copy, a directory, or a symlink put in
    /// its place (to `/etc/hostname`, say) is damaged, and is replaced by a
    /// verified download instead of being served. A same-size edit is left
    /// to `lake verify`, which re-hashes.
    pub(crate) async fn fetch_record(&self, record: &Record) -> Result<PathBuf> {
        let local = self.inner.home.blob_path(&record.blake3);
        match std::fs::symlink_metadata(&local) {
            Ok(meta) if meta.is_file() && meta.len() == record.size => return Ok(local),
            Ok(_) => tracing::warn!(
                name = %record.name,
                path = %local.display(),
                "the local copy is damaged; downloading it again (lake verify --repair checks every copy)"
            ),
            Err(_) => {}
        }
        self.download(record).await
    }

    /// Streams the blob of `record` into staging, hashing as it goes, and
    /// installs it only if digest and size match.
    async fn download(&self, record: &Record) -> Result<PathBuf> {
        let path = StorePath::blob(&record.blake3);
        let missing = |e: lake_core::StoreError| {
            if e.is_not_found() {
                Error::Run(format!(
                    "content of {:?} ({path}) is missing from {}; run `lake verify --store`",
                    record.name.as_str(),
                    self.store_display()
                ))
            } else {
                e.into()
            }
        };
        let progress = Progress::new(
            self.inner.config.progress,
            record.size,
            &format!("get {}", record.name),
        );
        let (tmp_path, actual, size) = if record.size >= RANGED_DOWNLOAD_MIN {
            self.download_ranges(&path, record.size, &progress, missing)
                .await?
        } else {
            let got = self.inner.store.get(&path).await.map_err(missing)?;
            self.stage_stream(got.chunks, &progress).await?
        };
        if actual != record.blake3 || size != record.size {
            tracing::debug!(name = %record.name, %path, "refusing corrupt download");
            return Err(Error::Corrupt {
                what: format!("store object {path} for {:?}", record.name.as_str()),
                expected: record.blake3,
                actual,
            });
        }
        self.inner.home.install(tmp_path, &actual, size)
    }

    /// Downloads the `size` bytes of `path` into a fresh staging file as
    /// [`DOWNLOAD_STREAMS`] ranges at once, then hashes the file on every
    /// core. One stream of a large object is bound by one connection (and,
    /// on some servers, one thread); `aws s3 cp` reads ranges in parallel
    /// too. The caller decides whether the digest is acceptable.
    async fn download_ranges(
        &self,
        path: &StorePath,
        size: u64,
        progress: &Progress,
        store_error: impl Fn(lake_core::StoreError) -> Error,
    ) -> Result<(tempfile::TempPath, Digest, u64)> {
        use std::os::unix::fs::FileExt;
        let (file, tmp_path) = self.inner.home.stage()?.into_parts();
        file.set_len(size)
            .map_err(|e| Error::io("write", &*tmp_path, e))?;
        let file = Arc::new(file);
        let part = size.div_ceil(DOWNLOAD_STREAMS).next_multiple_of(1 << 20);
        let ranges = (0..size)
            .step_by(part as usize)
            .map(|start| start..(start + part).min(size));
        let target: &Path = &tmp_path;
        let store_error = &store_error;
        let fetch = |range: std::ops::Range<u64>| {
            let file = file.clone();
            async move {
                let got = self.inner.store.get_range(path, range.clone()).await;
                let mut chunks = got.map_err(store_error)?.chunks;
                let mut offset = range.start;
                let mut pending = bytes::BytesMut::new();
                loop {
                    let chunk = chunks.next().await.transpose()?;
                    if let Some(chunk) = &chunk {
                        pending.extend_from_slice(chunk);
                    }
                    // Few, large writes: each costs a hand-off to a thread.
                    if pending.len() >= DOWNLOAD_WRITE || (chunk.is_none() && !pending.is_empty()) {
                        let bytes = std::mem::take(&mut pending).freeze();
                        let n = bytes.len() as u64;
                        if offset + n > range.end {
                            return Err(Error::Run(format!(
                                "{} sent more than the {} bytes asked of {path}",
                                self.store_display(),
                                range.end - range.start
                            )));
                        }
                        let file = file.clone();
                        let at = offset;
                        tokio::task::spawn_blocking(move || file.write_all_at(&bytes, at))
                            .await
                            .expect("write task panicked")
                            .map_err(|e| Error::io("write", target, e))?;
                        offset += n;
                        progress.inc(n);
                    }
                    if chunk.is_none() {
                        break;
                    }
                }
                if offset != range.end {
                    return Err(Error::Run(format!(
                        "{} ended bytes {}..{} of {path} after {} bytes: the object is shorter \
                         than its name record says",
                        self.store_display(),
                        range.start,
                        range.end,
                        offset - range.start
                    )));
                }
                Ok(())
            }
        };
        futures::future::try_join_all(ranges.map(fetch)).await?;
        drop(file);
        progress.finish();
        let staged = tmp_path.to_path_buf();
        let (digest, hashed) = tokio::task::spawn_blocking(move || hash_own_file(&staged))
            .await
            .expect("hash task panicked")?;
        Ok((tmp_path, digest, hashed))
    }

    /// Writes a stream of chunks to a fresh staging file, hashing on the
    /// way. The caller decides whether the digest is acceptable.
    pub(crate) async fn stage_stream<E>(
        &self,
        mut chunks: impl futures::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        progress: &Progress,
    ) -> Result<(tempfile::TempPath, Digest, u64)>
    where
        Error: From<E>,
    {
        let (file, tmp_path) = self.inner.home.stage()?.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io("write", &*tmp_path, e))?;
            progress.inc(chunk.len() as u64);
        }
        file.flush()
            .await
            .map_err(|e| Error::io("write", &*tmp_path, e))?;
        drop(file);
        progress.finish();
        Ok((tmp_path, hasher.finalize().into(), size))
    }

    // ------------------------------------------------------------------- adds

    /// Adds the file at `source` as `name`.
    ///
    /// Re-adding identical content is a no-op; different content under an
    /// existing name is refused with [`Error::NameTaken`].
    pub async fn add_path_async(
        &self,
        source: &Path,
        name: &Name,
        mode: AddMode,
    ) -> Result<AddOutcome> {
        self.add_path_with(source, name, mode, Existence::AskTheStore)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// [`Lake::add_path_async`], also returning the record this call
    /// created with its e-tag, for a record pack.
    async fn add_path_with(
        &self,
        source: &Path,
        name: &Name,
        mode: AddMode,
        existence: Existence,
    ) -> Result<(AddOutcome, Option<PackedRecord>)> {
        let source_desc = source.display().to_string();
        let meta = std::fs::metadata(source).map_err(|e| Error::Source {
            source_desc: source_desc.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "no such file".into()
            } else {
                e.to_string()
            },
        })?;
        if meta.is_dir() {
            return Err(Error::Source {
                source_desc,
                message: "it is a directory; add it with -r (recursive)".into(),
            });
        }
        if let Some(kind) = special_file_kind(&meta) {
            // A FIFO blocks forever, a device like /dev/zero never ends:
            // only regular files have content that a digest can name.
            return Err(Error::Source {
                source_desc,
                message: format!("it is a {kind}, not a regular file"),
            });
        }
        let absolute = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
        let stamp = SourceStamp::of(&meta);
        // Re-adding an existing name: compare digests without copying, and
        // without even reading the file when its stamp (size, times, inode)
        // is unchanged since an earlier add hashed it.
        let existing = match existence {
            Existence::AskTheStore => self.existing_content(name).await?,
            Existence::IndexIsComplete => self.indexed_content(name)?,
        };
        if let Some((existing, size)) = existing {
            let known = match &stamp {
                Some(stamp) => self.index().source_digest(&absolute, stamp)?,
                None => None,
            };
            let digest = match known {
                Some(digest) => digest,
                None => {
                    let src = source.to_path_buf();
                    tokio::task::spawn_blocking(move || hash_file(&src))
                        .await
                        .expect("hash task panicked")?
                        .0
                }
            };
            if digest != existing {
                return Err(Error::NameTaken {
                    name: name.clone(),
                    existing,
                    offered: digest,
                });
            }
            if let (Some(stamp), None) = (&stamp, known) {
                self.index().remember_source(&absolute, stamp, &digest)?;
            }
            if self.inner.home.has_blob_of_size(&digest, size) {
                if mode == AddMode::Move {
                    std::fs::remove_file(source).map_err(|e| Error::io("remove", source, e))?;
                }
                let outcome = AddOutcome {
                    name: name.clone(),
                    blake3: digest,
                    size,
                    created: false,
                };
                return Ok((outcome, None));
            }
        }
        let lineage = self.added_lineage(Some(absolute.display().to_string()));

        let home = self.inner.home.clone();
        let src = source.to_path_buf();
        let progress = Progress::new(
            self.inner.config.progress,
            meta.len(),
            &format!("add {name}"),
        );
        let expected = existing.map(|(digest, _)| digest);
        let task_name = name.clone();
        // Staging and installing the local copy share one blocking task:
        // `add -r` pays a thread hand-off per task, per file.
        let staged = tokio::task::spawn_blocking(move || {
            let staged = stage_source(&home, &src, &progress)?;
            if let Some(existing) = expected
                && existing != staged.digest
            {
                // The file changed since it was hashed above.
                return Err(Error::NameTaken {
                    name: task_name,
                    existing,
                    offered: staged.digest,
                });
            }
            let local = home.install(staged.path, &staged.digest, staged.size)?;
            Ok(Installed {
                local,
                digest: staged.digest,
                size: staged.size,
            })
        })
        .await
        .expect("staging task panicked");
        let result = match (staged, existing) {
            (Err(e), _) => Err(e),
            // The name holds these bytes already; only the local copy was
            // missing, and now it is there.
            (Ok(staged), Some((_, size))) => Ok((
                AddOutcome {
                    name: name.clone(),
                    blake3: staged.digest,
                    size,
                    created: false,
                },
                None,
            )),
            (Ok(staged), None) => {
                self.publish_added(name, staged.digest, staged.size, &staged.local, lineage)
                    .await
            }
        };
        if mode == AddMode::Move {
            // The bytes are lake's own copy by now, committed: only the
            // user's path goes (for a symlink, the link, never its target).
            // On failure nothing of the source was touched.
            if result.is_ok() {
                std::fs::remove_file(source).map_err(|e| Error::io("remove", source, e))?;
            }
        } else if let (Ok((outcome, _)), Some(stamp)) = (&result, &stamp) {
            self.index()
                .remember_source(&absolute, stamp, &outcome.blake3)?;
        }
        result
    }

    /// The directories lake itself writes to: the home and, for a
    /// `file://` store, the store. `add -r` never walks into them.
    fn own_directories(&self) -> Vec<PathBuf> {
        let mut own = vec![self.inner.home.root().to_path_buf()];
        if let Ok(url) = url::Url::parse(&self.inner.config.store_url)
            && url.scheme() == "file"
            && let Ok(path) = url.to_file_path()
        {
            own.push(path);
        }
        own
    }

    /// Blocking [`Lake::add_path_async`].
    pub fn add_path(&self, source: &Path, name: &Name, mode: AddMode) -> Result<AddOutcome> {
        block_on(self.add_path_async(source, name, mode))
    }

    /// Adds every file below `dir` as `name/<relative path>`.
    ///
    /// All names are validated before anything is added.
    pub async fn add_dir_async(
        &self,
        dir: &Path,
        name: &Name,
        mode: AddMode,
    ) -> Result<Vec<AddOutcome>> {
        // Absolute from the start: the index remembers sources by absolute
        // path, and resolving each file on its own costs a system call.
        let dir = &std::path::absolute(dir).map_err(|e| Error::io("resolve", dir, e))?;
        // The local copies are listed while the walk runs: both are mostly
        // waiting on the kernel, and the machine has more than one core.
        let excluded = self.own_directories();
        let (walk, local) = std::thread::scope(|scope| {
            let local =
                (mode != AddMode::Move).then(|| scope.spawn(|| self.inner.home.cached_digests()));
            let walk = walk_files(dir, &excluded);
            let local = local.map(|t| t.join().expect("listing local copies panicked"));
            (walk, local)
        });
        let walk = walk?;
        let local = local.transpose()?;
        if !walk.skipped.is_empty() {
            let shown: Vec<String> = walk
                .skipped
                .iter()
                .take(5)
                .map(|(path, why)| format!("{} ({why})", path.display()))
                .collect();
            tracing::warn!(
                "skipped {} entr{} below {}: {}{}",
                walk.skipped.len(),
                if walk.skipped.len() == 1 { "y" } else { "ies" },
                dir.display(),
                shown.join(", "),
                if walk.skipped.len() > 5 { ", …" } else { "" }
            );
        }
        let mut jobs = Vec::with_capacity(walk.files.len());
        for (file, meta) in walk.files {
            let relative = file.strip_prefix(dir).expect("walked below dir");
            // Every name is made before anything is added, so a bad one
            // stops the whole add with nothing committed. Lossy decoding
            // would give `x\xff` and `x\xfe` one name.
            let Some(relative) = relative.to_str() else {
                return Err(Error::Source {
                    source_desc: format!("{:?}", file.as_os_str()),
                    message: "its path is not valid UTF-8, so it has no name in the lake; \
                              rename it (nothing was added)"
                        .into(),
                });
            };
            let relative = relative.replace(std::path::MAIN_SEPARATOR, "/");
            let name = name.join(&relative)?;
            jobs.push(DirJob { file, name, meta });
        }
        // Unchanged files already in the lake are settled from the index in
        // one pass: no hashing, no store request, no task per file.
        let (mut outcomes, slow) = match local {
            Some(local) => self.settle_unchanged(dir, name, jobs, &local)?,
            None => (Vec::new(), jobs),
        };
        if slow.is_empty() {
            return Ok(outcomes);
        }
        // One listing of the prefix instead of one existence check per file.
        self.refresh_below(Some(name)).await?;
        let batch = IndexBatch::begin(self)?;
        let added: Vec<(AddOutcome, Option<PackedRecord>)> = futures::stream::iter(slow)
            .map(|job| async move {
                self.add_path_with(&job.file, &job.name, mode, Existence::IndexIsComplete)
                    .await
            })
            .buffer_unordered(PARALLEL_ADDS)
            .try_collect()
            .await?;
        batch.finish()?;
        let mut packed = Vec::new();
        for (outcome, record) in added {
            outcomes.push(outcome);
            packed.extend(record);
        }
        self.write_record_pack(name, packed).await;
        Ok(outcomes)
    }

    /// Writes the records `add -r` created below `prefix` as one record
    /// pack, so other machines learn them with one GET. Never fails: the
    /// names are committed already, and a missing pack only costs those
    /// machines one GET per name.
    async fn write_record_pack(&self, prefix: &Name, mut entries: Vec<PackedRecord>) {
        // One record saves nothing over its own GET, and a record whose
        // e-tag is not the MD5 of its bytes (Azure, file://, memory) could
        // never be trusted by a reader.
        entries.retain(|e| e_tag_proves(&e.e_tag, &e.record.to_json()));
        if entries.len() < 2 {
            return;
        }
        // Adds finish in any order; the same records give the same pack.
        entries.sort_unstable_by(|a, b| a.record.name.cmp(&b.record.name));
        let count = entries.len();
        let bytes = RecordPack::new(entries).to_json();
        let path = StorePath::record_pack(prefix, &Digest::of(&bytes));
        // Content-addressed: overwriting can only write the same bytes.
        match self
            .inner
            .store
            .put(&path, Bytes::from(bytes), PutMode::Overwrite)
            .await
        {
            Ok(_) => tracing::debug!(%path, records = count, "wrote record pack"),
            Err(e) => tracing::warn!(
                %path,
                error = %e,
                "could not write the record pack; other machines will read the names one by one"
            ),
        }
    }

    /// Splits `jobs` into files whose name already holds their content with
    /// a local copy among `local` (judged by the remembered source stamp, so
    /// nothing is read) and the rest.
    fn settle_unchanged(
        &self,
        dir: &Path,
        prefix: &Name,
        jobs: Vec<DirJob>,
        local: &std::collections::HashSet<Digest>,
    ) -> Result<(Vec<AddOutcome>, Vec<DirJob>)> {
        let (contents, sources) = {
            let index = self.index();
            let contents: std::collections::HashMap<Name, (Digest, u64)> = index
                .list(prefix.as_str())?
                .into_iter()
                .map(|e| (e.name, (e.blake3, e.size)))
                .collect();
            (contents, index.sources_below(dir)?)
        };
        let mut settled = Vec::new();
        let mut slow = Vec::new();
        for job in jobs {
            let unchanged = sources.get(&job.file).and_then(|(stamp, digest)| {
                (SourceStamp::of(&job.meta).as_ref() == Some(stamp)).then_some(*digest)
            });
            match (unchanged, contents.get(&job.name)) {
                (Some(digest), Some(&(existing, size)))
                    if digest == existing && local.contains(&digest) =>
                {
                    settled.push(AddOutcome {
                        name: job.name,
                        blake3: digest,
                        size,
                        created: false,
                    });
                }
                _ => slow.push(job),
            }
        }
        Ok((settled, slow))
    }

    /// Downloads `url` and adds it as `name`. A non-2xx answer is an error
    /// and nothing is stored.
    pub async fn add_url_async(&self, url: &str, name: &Name) -> Result<AddOutcome> {
        let shown = crate::store::redact_url(url);
        let source_err = |message: String| Error::Source {
            source_desc: shown.clone(),
            message,
        };
        let response = reqwest::get(url)
            .await
            .map_err(|e| source_err(scrub(&e.without_url().to_string())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(source_err(format!("the server answered {status}")));
        }
        let progress = Progress::new(
            self.inner.config.progress,
            response.content_length().unwrap_or(0),
            &format!("add {name}"),
        );
        let body = response
            .bytes_stream()
            .map_err(|e| source_err(scrub(&e.without_url().to_string())));
        let (tmp_path, digest, size) = self.stage_stream(body, &progress).await?;
        let lineage = self.added_lineage(Some(shown.clone()));
        self.commit_staged(tmp_path, digest, size, name, lineage)
            .await
    }

    pub(crate) fn added_lineage(&self, source: Option<String>) -> Lineage {
        Lineage::Added(AddedLineage {
            source,
            added_by: self.originator().to_owned(),
            host: crate::lineage::host(),
            added_at: Utc::now(),
            lake_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// Commits staged content as `name`: blob first, then the name record
    /// with a conditional create, so a name never points at missing bytes
    /// and concurrent writers agree on one winner.
    pub(crate) async fn commit_staged(
        &self,
        staged: tempfile::TempPath,
        digest: Digest,
        size: u64,
        name: &Name,
        lineage: Lineage,
    ) -> Result<AddOutcome> {
        if let Some(existing) = self.try_record(name).await? {
            return self.same_content(existing, digest, name, staged, size);
        }
        let local = self.inner.home.install(staged, &digest, size)?;
        self.publish_added(name, digest, size, &local, lineage)
            .await
            .map(|(outcome, _)| outcome)
    }

    /// Publishes the installed local copy `local` as the new name `name`.
    /// If this call created the record and the store gave it an e-tag, the
    /// record comes back with it, for a record pack.
    async fn publish_added(
        &self,
        name: &Name,
        digest: Digest,
        size: u64,
        local: &Path,
        lineage: Lineage,
    ) -> Result<(AddOutcome, Option<PackedRecord>)> {
        let (outcome, packed) = match self.publish(name, digest, size, local, lineage).await? {
            Published::Created(record, e_tag) => (
                AddOutcome::of(&record, true),
                e_tag.map(|e_tag| PackedRecord { e_tag, record }),
            ),
            // Lost a race: the winner's record stands if it has our bytes.
            Published::Existing(existing) if existing.blake3 != digest => {
                return Err(Error::NameTaken {
                    name: name.clone(),
                    existing: existing.blake3,
                    offered: digest,
                });
            }
            Published::Existing(record) => (AddOutcome::of(&record, false), None),
        };
        tracing::debug!(%name, blake3 = %digest, size, "committed");
        Ok((outcome, packed))
    }

    /// Uploads the blob at `local`, then creates the name record with a
    /// conditional create, so a name never points at missing bytes and
    /// concurrent writers agree on one winner. The record that ends up in
    /// the store is also put in the index.
    async fn publish(
        &self,
        name: &Name,
        digest: Digest,
        size: u64,
        local: &Path,
        lineage: Lineage,
    ) -> Result<Published> {
        self.upload_blob(&digest, size, local).await?;
        let record = Record {
            schema_version: RECORD_SCHEMA_VERSION,
            name: name.clone(),
            blake3: digest,
            size,
            created_at: Utc::now(),
            lineage,
        };
        let path = StorePath::name_record(name);
        match self
            .inner
            .store
            .put(&path, Bytes::from(record.to_json()), PutMode::Create)
            .await
        {
            Ok(version) => {
                self.index().insert(&record)?;
                Ok(Published::Created(record, version.e_tag))
            }
            Err(e) if e.is_already_exists() => {
                let existing = self
                    .fetch_record_from_store(name)
                    .await?
                    .ok_or_else(|| Error::Store(e))?;
                self.index().insert(&existing)?;
                Ok(Published::Existing(existing))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn same_content(
        &self,
        existing: Record,
        digest: Digest,
        name: &Name,
        staged: tempfile::TempPath,
        size: u64,
    ) -> Result<AddOutcome> {
        if existing.blake3 != digest {
            return Err(Error::NameTaken {
                name: name.clone(),
                existing: existing.blake3,
                offered: digest,
            });
        }
        // Same bytes: keep them as the local copy if none is cached yet.
        self.inner.home.install(staged, &digest, size)?;
        Ok(AddOutcome::of(&existing, false))
    }

    async fn upload_blob(&self, digest: &Digest, size: u64, local: &Path) -> Result<()> {
        let path = StorePath::blob(digest);
        // The local copy was hashed when it was staged; a copy of another
        // size since then would upload bytes that are not `digest`.
        let local_size = std::fs::metadata(local)
            .map_err(|e| Error::io("read metadata of", local, e))?
            .len();
        if local_size != size {
            return Err(Error::Corrupt {
                what: format!("local copy {}", local.display()),
                expected: *digest,
                actual: hash_own_file(local)?.0,
            });
        }
        if size <= SMALL_FILE {
            // One unconditional put of the same bytes costs less than a
            // head first, and rewriting renews the blob's age for gc.
            self.inner.store.put_file(&path, local).await?;
            return Ok(());
        }
        match self.inner.store.head(&path).await {
            // Content-addressed: same key and size means the same bytes
            // (a tampered blob is `verify --store`'s job, not every add's).
            // An old blob may be an orphan that a concurrent `lake gc` is
            // about to delete, so it is rewritten, which renews its age.
            Ok(meta)
                if meta.size == size
                    && Utc::now().signed_duration_since(meta.last_modified)
                        < chrono::Duration::from_std(crate::gc::BLOB_REUSE_MAX_AGE)
                            .expect("constant fits") =>
            {
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        self.inner.store.put_file(&path, local).await?;
        Ok(())
    }

    // ------------------------------------------------------------------- runs

    /// The manifest of the finished run `key`, from the index or the store.
    pub(crate) async fn run_manifest(&self, key: &RunKey) -> Result<Option<RunManifest>> {
        if let Some(json) = self.index().run_manifest(&key.to_hex())?
            && let Ok(manifest) = serde_json::from_str::<RunManifest>(&json)
        {
            self.remember_run(&manifest);
            return Ok(Some(manifest));
        }
        let path = StorePath::run_manifest(&key.to_hex());
        let bytes = match self.get_small(&path).await {
            Ok(bytes) => bytes,
            Err(Error::Store(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let manifest: RunManifest =
            serde_json::from_slice(&bytes).map_err(|source| lake_core::Error::Decode {
                what: format!("run manifest {path}"),
                source,
            })?;
        // As in `try_record`: caching must not fail the read.
        if let Err(e) = self
            .index()
            .insert_run_manifest(&key.to_hex(), &String::from_utf8_lossy(&bytes))
        {
            tracing::debug!(%path, error = %e, "could not cache the run manifest in the index");
        }
        self.remember_run(&manifest);
        Ok(Some(manifest))
    }

    /// Commits one run output whose content is already in the home: uploads
    /// the blob, then creates the name record. If the name already exists
    /// (an earlier, interrupted run or a concurrent one), its record wins.
    pub(crate) async fn commit_output(
        &self,
        name: &Name,
        digest: Digest,
        size: u64,
        lineage: Lineage,
    ) -> Result<Record> {
        let local = self.inner.home.blob_path(&digest);
        match self.publish(name, digest, size, &local, lineage).await? {
            Published::Created(record, _) => Ok(record),
            Published::Existing(existing) => {
                if existing.blake3 != digest {
                    tracing::warn!(
                        %name,
                        "output already committed with other content by an earlier or concurrent run; keeping it"
                    );
                }
                Ok(existing)
            }
        }
    }

    /// Creates the run manifest, the last step of a run. If another process
    /// finished the same run first, its manifest wins and is returned.
    pub(crate) async fn commit_manifest(&self, manifest: RunManifest) -> Result<RunManifest> {
        let key = manifest.key.to_hex();
        let path = StorePath::run_manifest(&key);
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
        match self
            .inner
            .store
            .put(&path, Bytes::from(json.clone()), PutMode::Create)
            .await
        {
            Ok(_) => {
                self.index()
                    .insert_run_manifest(&key, &String::from_utf8_lossy(&json))?;
                self.remember_run(&manifest);
                Ok(manifest)
            }
            Err(e) if e.is_already_exists() => Ok(self
                .run_manifest(&manifest.key)
                .await?
                .ok_or_else(|| Error::Store(e))?),
            Err(e) => Err(e.into()),
        }
    }

    // ---------------------------------------------------------------- listing

    /// Every name at or below `prefix`, refreshing the index from the store
    /// first if it is older than the configured refresh interval (or if
    /// `refresh` is true).
    pub async fn list_async(&self, prefix: &str, refresh: bool) -> Result<Vec<ListEntry>> {
        let prefix = prefix.trim_end_matches('/');
        if !prefix.is_empty() {
            Name::new(prefix)?;
        }
        if refresh || self.index_is_stale()? {
            self.refresh_async().await?;
        }
        let entries = self.index().list(prefix)?;
        // One directory read beats a stat per entry on large listings.
        let local: Option<std::collections::HashSet<Digest>> = (entries.len() > 256)
            .then(|| self.inner.home.cached_digests())
            .transpose()?;
        let is_local = |digest: &Digest| match &local {
            Some(set) => set.contains(digest),
            None => self.inner.home.has_blob(digest),
        };
        Ok(entries
            .into_iter()
            .map(|e| ListEntry {
                local: is_local(&e.blake3),
                in_store: true,
                name: e.name,
                size: e.size,
                blake3: e.blake3,
            })
            .collect())
    }

    /// Blocking [`Lake::list_async`].
    pub fn list(&self, prefix: &str, refresh: bool) -> Result<Vec<ListEntry>> {
        block_on(self.list_async(prefix, refresh))
    }

    fn index_is_stale(&self) -> Result<bool> {
        let interval = self.inner.config.refresh_interval;
        Ok(match self.index().last_refresh()? {
            None => true,
            Some(at) => {
                let age = Utc::now().signed_duration_since(at);
                age.to_std().is_ok_and(|age| age >= interval)
            }
        })
    }

    /// Rebuilds the index from the store's name records: fetches records of
    /// names it does not know and forgets names the store no longer has.
    /// It also reads the store's id, and switches to that store's index if
    /// the URL has come to point at another store since the home cached it.
    ///
    /// A name record that cannot be decoded is skipped with a warning that
    /// names it (`lake verify --store` reports it, and `lake gc` refuses to
    /// run until it is fixed), so one bad object does not break every
    /// listing of every fresh home.
    pub async fn refresh_async(&self) -> Result<usize> {
        Ok(self.refresh_below(None).await?.count)
    }

    /// [`Lake::refresh_async`] limited to names at or below `prefix`; only a
    /// full refresh stamps the index as fresh.
    pub(crate) async fn refresh_below(&self, prefix: Option<&Name>) -> Result<Refreshed> {
        let list_prefix = match prefix {
            Some(p) => format!("{NAMES_PREFIX}/{p}"),
            None => NAMES_PREFIX.to_owned(),
        };
        // The store's id first: if the URL now points at another store, the
        // index is switched before anything is read from it. One small GET,
        // not overlapped with the listing, because the index must be read
        // before the listing starts (below).
        self.check_store_id().await?;
        // What the index knew *before* the listing: a name that a concurrent
        // add commits while the store is being listed is missing from the
        // listing but present in the index, and must not be dropped from it.
        let known: BTreeSet<Name> = match prefix {
            Some(p) => self
                .index()
                .list(p.as_str())?
                .into_iter()
                .map(|e| e.name)
                // `list` includes the name equal to the prefix, which lives
                // at `names/<prefix>.json`, outside this listing.
                .filter(|n| n != p)
                .collect(),
            None => self.index().names()?.into_iter().collect(),
        };
        let mut in_store: BTreeMap<Name, ListedRecord> = BTreeMap::new();
        for object in self.list_all(&list_prefix).await? {
            if let Some(name) = StorePath::name_from_record_path(object.path.as_str()) {
                let listed = ListedRecord {
                    e_tag: object.version.e_tag,
                    last_modified: object.last_modified,
                };
                in_store.insert(name, listed);
            }
        }
        let new: Vec<Name> = in_store
            .keys()
            .filter(|n| !known.contains(*n))
            .cloned()
            .collect();
        let removed: Vec<Name> = known
            .into_iter()
            .filter(|n| !in_store.contains_key(n))
            .collect();
        let mut packed = if new.len() > PACKS_WORTH_READING {
            self.read_record_packs(prefix, &new, &in_store).await
        } else {
            HashMap::new()
        };
        let mut records = Vec::with_capacity(new.len());
        let mut unpacked = Vec::new();
        for name in new {
            match packed.remove(&name) {
                Some(record) => records.push(record),
                None => unpacked.push(name),
            }
        }
        let from_packs = records.len();
        let results: Vec<(Name, Result<Option<Record>>)> = futures::stream::iter(unpacked)
            .map(|name| async move {
                let record = self.fetch_record_from_store(&name).await;
                (name, record)
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .collect()
            .await;
        let mut fetched = Vec::with_capacity(results.len());
        let mut undecodable = Vec::new();
        for (name, result) in results {
            match result {
                Ok(Some(record)) => fetched.push(record),
                // Deleted since the listing.
                Ok(None) => {}
                Err(e @ (Error::Core(lake_core::Error::Decode { .. }) | Error::Run(_))) => {
                    tracing::warn!("skipping {name:?}: {e}");
                    undecodable.push((name, e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        tracing::debug!(
            from_packs,
            fetched = fetched.len(),
            removed = removed.len(),
            "refreshed the index"
        );
        records.extend(fetched);
        let count = records.len();
        self.index()
            .apply_refresh(&records, &removed, prefix.is_none())?;
        Ok(Refreshed { count, undecodable })
    }

    /// The records of `new` names that record packs related to `prefix`
    /// hold with the e-tag their name object is listed with. Packs that
    /// cannot be listed, read or parsed are skipped: they only save GETs.
    async fn read_record_packs(
        &self,
        prefix: Option<&Name>,
        new: &[Name],
        listed: &BTreeMap<Name, ListedRecord>,
    ) -> HashMap<Name, Record> {
        // An e-tag is what the store says identifies the content of
        // `names/<name>.json` (S3, moto, s3s: the MD5 of its bytes; Azure: a
        // new one on every write; `file://`: inode, mtime and size), so a
        // packed record whose e-tag equals the listed one is the record in
        // the store, byte for byte. Names listed without an e-tag, or with
        // another (deleted and re-created since the pack was written, or a
        // forged pack), are fetched one by one as before.
        let wanted: HashMap<&Name, &str> = new
            .iter()
            .filter_map(|name| Some((name, listed.get(name)?.e_tag.as_deref()?)))
            .collect();
        let oldest = new
            .iter()
            .filter_map(|name| listed.get(name))
            .map(|l| l.last_modified)
            .min();
        let Some(oldest) = oldest.filter(|_| !wanted.is_empty()) else {
            return HashMap::new();
        };
        let packs = match self
            .list_record_packs(prefix, oldest - PACK_CLOCK_MARGIN)
            .await
        {
            Ok(packs) => packs,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list record packs; reading names one by one");
                return HashMap::new();
            }
        };
        let mut trusted = HashMap::new();
        let mut got = futures::stream::iter(packs)
            .map(|path| async move {
                let bytes = self.get_small(&path).await;
                (path, bytes)
            })
            .buffer_unordered(PARALLEL_REQUESTS);
        while let Some((path, bytes)) = got.next().await {
            let pack = match bytes.map(|b| RecordPack::from_json(&b).map_err(Error::from)) {
                Ok(Ok(pack)) => pack,
                // Deleted since the listing, unreadable, or not a pack
                // this lake understands.
                Ok(Err(e)) | Err(e) => {
                    tracing::debug!(%path, error = %e, "skipping record pack");
                    continue;
                }
            };
            for entry in pack.entries {
                // Keyed by the record's own name, so a trusted record is
                // always the record of the name it is filed under. The
                // listed e-tag alone proves nothing about the packed record
                // (a forged pack keeps the real e-tag and changes the
                // digest), so the record's bytes must hash to it.
                if wanted.get(&entry.record.name) == Some(&entry.e_tag.as_str())
                    && e_tag_proves(&entry.e_tag, &entry.record.to_json())
                {
                    trusted.insert(entry.record.name.clone(), entry.record);
                }
            }
        }
        trusted
    }

    /// Every record pack whose prefix equals `prefix`, lies above it or
    /// below it (all packs for `None`), written at `since` or later.
    async fn list_record_packs(
        &self,
        prefix: Option<&Name>,
        since: DateTime<Utc>,
    ) -> Result<Vec<StorePath>> {
        let related = |pack: &Name| match prefix {
            None => true,
            Some(p) => p.has_prefix(pack.as_str()) || pack.has_prefix(p.as_str()),
        };
        let packs = self
            .list_all(PACKS_PREFIX)
            .await?
            .into_iter()
            .filter(|object| {
                StorePath::pack_prefix_from_path(object.path.as_str())
                    .is_some_and(|pack| related(&pack))
                    && object.last_modified >= since
            })
            .map(|object| object.path)
            .collect();
        Ok(packs)
    }

    /// Every object below `prefix` in the store, following the pages.
    pub(crate) async fn list_all(&self, prefix: &str) -> Result<Vec<lake_core::ObjectMeta>> {
        let prefix = StorePath::prefix(prefix);
        let mut out = Vec::new();
        let mut after: Option<StorePath> = None;
        loop {
            let page = self
                .inner
                .store
                .list(&prefix, after.as_ref(), LIST_PAGE)
                .await?;
            out.extend(page.objects);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------ verify and evict

    /// Re-hashes the local copies of `names` (all cached names if empty) and,
    /// with `check_store`, the store's blobs. With `repair`, a bad local copy
    /// is replaced by a verified download, and a bad store blob by a good
    /// local copy.
    pub async fn verify_async(
        &self,
        names: &[Name],
        check_store: bool,
        repair: bool,
    ) -> Result<VerifyReport> {
        let mut undecodable = Vec::new();
        let names = if names.is_empty() {
            if check_store {
                undecodable = self.refresh_below(None).await?.undecodable;
            }
            self.index().names()?
        } else {
            names.to_vec()
        };
        // Names are checked concurrently (small files are mostly system
        // calls, `--store` mostly waiting), and reported in order.
        let checked: Vec<(Name, Vec<VerifyProblem>, bool)> = futures::stream::iter(names)
            .map(|name| async move {
                let (problems, repaired) = self.verify_one(&name, check_store, repair).await?;
                Ok::<_, Error>((name, problems, repaired))
            })
            .buffered(PARALLEL_REQUESTS)
            .try_collect()
            .await?;
        let mut report = VerifyReport::default();
        report.problems.extend(
            undecodable
                .into_iter()
                .map(|(name, message)| VerifyProblem {
                    name,
                    place: "store",
                    message,
                }),
        );
        for (name, problems, repaired) in checked {
            if repaired {
                report.repaired.push(name.clone());
            }
            if problems.is_empty() {
                report.ok.push(name);
            } else {
                report.problems.extend(problems);
            }
        }
        Ok(report)
    }

    /// Checks one name's local copy (and, with `check_store`, its store
    /// object), repairing what it can when asked: the problems found, and
    /// whether anything was repaired.
    async fn verify_one(
        &self,
        name: &Name,
        check_store: bool,
        repair: bool,
    ) -> Result<(Vec<VerifyProblem>, bool)> {
        let mut problems = Vec::new();
        let mut repaired = false;
        let record = self.record_async(name).await?;
        let local_path = self.inner.home.blob_path(&record.blake3);
        // None: no local copy to check.
        let mut local_ok = None;
        if local_path.exists() {
            let path = local_path.clone();
            let (digest, size) = tokio::task::spawn_blocking(move || hash_own_file(&path))
                .await
                .expect("hash task panicked")?;
            let ok = digest == record.blake3 && size == record.size;
            local_ok = Some(ok);
            if !ok {
                problems.push(VerifyProblem {
                    name: name.clone(),
                    place: "local",
                    message: format!(
                        "local copy {} has blake3 {digest}, expected {}",
                        local_path.display(),
                        record.blake3
                    ),
                });
                if repair {
                    self.inner.home.remove_blob(&record.blake3)?;
                    self.download(&record).await?;
                    repaired = true;
                    local_ok = Some(true);
                }
            }
        }
        if check_store && let Some(problem) = self.verify_store_blob(&record).await? {
            problems.push(VerifyProblem {
                name: name.clone(),
                place: "store",
                message: problem,
            });
            if repair && local_ok == Some(true) {
                self.inner
                    .store
                    .put_file(&StorePath::blob(&record.blake3), &local_path)
                    .await?;
                repaired = true;
            }
        }
        Ok((problems, repaired))
    }

    /// Blocking [`Lake::verify_async`].
    pub fn verify(&self, names: &[Name], check_store: bool, repair: bool) -> Result<VerifyReport> {
        block_on(self.verify_async(names, check_store, repair))
    }

    async fn verify_store_blob(&self, record: &Record) -> Result<Option<String>> {
        let path = StorePath::blob(&record.blake3);
        let got = match self.inner.store.get(&path).await {
            Ok(got) => got,
            Err(e) if e.is_not_found() => {
                return Ok(Some(format!("store object {path} is missing")));
            }
            Err(e) => return Err(e.into()),
        };
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let mut chunks = got.chunks;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        let digest: Digest = hasher.finalize().into();
        Ok((digest != record.blake3 || size != record.size).then(|| {
            format!(
                "store object {path} has blake3 {digest} ({size} bytes), expected {} ({} bytes)",
                record.blake3, record.size
            )
        }))
    }

    /// Committed outputs of the creators linked into this program whose
    /// code hash (or `version`) differs from the current one, with the reason.
    /// Outputs of creators this program does not link are not judged.
    pub fn stale_outputs(&self) -> Result<Vec<crate::run::StaleOutput>> {
        if self.index_is_stale()? {
            block_on(self.refresh_async())?;
        }
        let creators: std::collections::HashMap<String, &'static crate::CreatorInfo> =
            crate::creators().map(|c| (c.path(), c)).collect();
        let mut stale = Vec::new();
        for record in self.index().records()? {
            let Lineage::Created(run) = &record.lineage else {
                continue;
            };
            let Some(current) = creators.get(&run.creator) else {
                continue;
            };
            if let Some(reason) = crate::run::staleness(run, current) {
                stale.push(crate::run::StaleOutput {
                    name: record.name.clone(),
                    creator: run.creator.clone(),
                    reason,
                });
            }
        }
        Ok(stale)
    }

    /// Drops the local copies of `names` (all names if empty). Returns the
    /// names whose copy was removed.
    pub fn evict(&self, names: &[Name]) -> Result<Vec<Name>> {
        let names = if names.is_empty() {
            self.index().names()?
        } else {
            names.to_vec()
        };
        let mut evicted = Vec::new();
        for name in names {
            let record = self.record(&name)?;
            if self.inner.home.remove_blob(&record.blake3)? {
                evicted.push(name);
            }
        }
        Ok(evicted)
    }
}

/// Where `add` learns whether a name exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Existence {
    /// The index, else the store (one small request).
    AskTheStore,
    /// The index alone: it was just refreshed for this name's prefix.
    IndexIsComplete,
}

/// Index writes grouped into few transactions while it lives. Dropping it
/// on an error path still commits what was written: every row describes
/// something already in the store.
struct IndexBatch<'a> {
    lake: Option<&'a Lake>,
}

impl<'a> IndexBatch<'a> {
    fn begin(lake: &'a Lake) -> Result<Self> {
        lake.index().begin_batch()?;
        Ok(Self { lake: Some(lake) })
    }

    /// Ends the batch, reporting a failed commit.
    fn finish(mut self) -> Result<()> {
        match self.lake.take() {
            Some(lake) => lake.index().end_batch(),
            None => Ok(()),
        }
    }
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        if let Some(lake) = self.lake.take()
            && let Err(e) = lake.index().end_batch()
        {
            tracing::warn!(error = %e, "could not commit index writes");
        }
    }
}

/// What a listing of `names/` says about one name record.
struct ListedRecord {
    /// Identifies the record's content; see [`Lake::read_record_packs`].
    e_tag: Option<String>,
    last_modified: DateTime<Utc>,
}

/// What [`Lake::publish`] found.
enum Published {
    /// This call created the name record; the store gave it this e-tag.
    Created(Record, Option<String>),
    /// The name already had this record (an earlier or concurrent writer).
    Existing(Record),
}

/// A staged file, installed as the home's local copy.
struct Installed {
    local: PathBuf,
    digest: Digest,
    size: u64,
}

struct Staged {
    path: tempfile::TempPath,
    digest: Digest,
    size: u64,
}

/// Copies `source` into lake's own staging file, hashing on the way, for
/// `--copy` and `--move` alike.
///
/// A move once hard-linked the source into the cache to save the copy. The
/// user's inode then was the cache's: a symlink was linked as a link (its
/// target's later edits became the name's content), a failed move left the
/// cache sharing a writable inode, and a writer still appending changed a
/// committed name. Copying costs one read and write, which the hash needs
/// to read anyway, and the cache only ever holds inodes lake wrote.
fn stage_source(home: &Home, source: &Path, progress: &Progress) -> Result<Staged> {
    copy_into(home.stage()?, source, progress)
}

/// Files up to this size are copied and hashed inline, in one buffer.
const SMALL_FILE: u64 = 1 << 20;

fn copy_small(
    mut reader: std::fs::File,
    mut writer: std::fs::File,
    len: u64,
) -> std::io::Result<(Digest, u64)> {
    use std::io::{Read, Write};
    // Room for one byte past the expected length, so that reading up to
    // end-of-file needs no reallocation.
    let mut buf = Vec::with_capacity(len as usize + 1);
    reader.read_to_end(&mut buf)?;
    writer.write_all(&buf)?;
    Ok((Digest::of(&buf), buf.len() as u64))
}

fn copy_into(
    staged: tempfile::NamedTempFile,
    source: &Path,
    progress: &Progress,
) -> Result<Staged> {
    let reader = std::fs::File::open(source).map_err(|e| Error::io("open", source, e))?;
    let len = reader
        .metadata()
        .map_err(|e| Error::io("read metadata of", source, e))?
        .len();
    let (file, tmp_path) = staged.into_parts();
    let (digest, size) = if len <= SMALL_FILE {
        // A hasher thread and its buffers cost more than hashing a small
        // file inline (this is the `add -r` of many small files case).
        copy_small(reader, file, len)
    } else {
        copy_hashing(reader, file, |n| progress.inc(n))
    }
    .map_err(|e| Error::io("copy", source, e))?;
    if size != len {
        // Another process is writing it: the bytes read are no version of
        // the file anyone saw whole.
        return Err(Error::Source {
            source_desc: source.display().to_string(),
            message: format!(
                "it changed size while being read ({len} bytes when opened, {size} read); \
                 add it again once it is complete"
            ),
        });
    }
    Ok(Staged {
        path: tmp_path,
        digest,
        size,
    })
}

/// The kind of a file that is not regular and not a directory, if it is one.
fn special_file_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return Some("named pipe (FIFO)");
        }
        if kind.is_socket() {
            return Some("socket");
        }
        if kind.is_char_device() {
            return Some("character device");
        }
        if kind.is_block_device() {
            return Some("block device");
        }
    }
    (!meta.is_file() && !meta.is_dir()).then_some("special file")
}

/// A file found by [`Lake::add_dir_async`], with the name it gets.
struct DirJob {
    file: PathBuf,
    name: Name,
    meta: std::fs::Metadata,
}

/// True if `e_tag` is the MD5 of `bytes`, as S3 (and moto) give for an
/// object written in one request. Any other e-tag (Azure's, a file's
/// inode and time, a counter) proves nothing about the bytes.
fn e_tag_proves(e_tag: &str, bytes: &[u8]) -> bool {
    use md5::Digest as _;
    let hex = e_tag.trim_matches('"');
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && hex.eq_ignore_ascii_case(&format!("{:x}", md5::Md5::digest(bytes)))
}

/// What a refresh of the index did.
pub(crate) struct Refreshed {
    /// Records added to the index.
    pub(crate) count: usize,
    /// Names whose store record could not be read as a record, with why.
    pub(crate) undecodable: Vec<(Name, String)>,
}

/// What [`walk_files`] found.
struct Walk {
    /// Every regular file, with its metadata, sorted.
    files: Vec<(PathBuf, std::fs::Metadata)>,
    /// Entries left out, with why: symlink loops and the like.
    skipped: Vec<(PathBuf, String)>,
}

/// Every regular file below `dir` with its metadata, sorted; symlinked
/// directories are not followed, so a cycle cannot make the walk endless.
/// The directories in `excluded` (the home, a `file://` store) and every
/// `.lake*` directory are not entered: adding `.` in a project whose home
/// is `.lake` must not add the index, its locks, or the store into itself.
fn walk_files(dir: &Path, excluded: &[PathBuf]) -> Result<Walk> {
    let mut candidates = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::Source {
            source_desc: d.display().to_string(),
            message: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &d, e))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|e| Error::io("read metadata of", &path, e))?;
            if file_type.is_dir() {
                let own = entry.file_name().as_encoded_bytes().starts_with(b".lake")
                    || excluded.iter().any(|x| same_directory(x, &path));
                if !own {
                    pending.push(path);
                }
            } else if file_type.is_file() || file_type.is_symlink() {
                candidates.push(path);
            }
        }
    }
    // The stats are most of the walk's time: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = candidates.len().div_ceil(threads).max(1);
    let mut walk = Walk {
        files: Vec::with_capacity(candidates.len()),
        skipped: Vec::new(),
    };
    std::thread::scope(|scope| {
        let stats: Vec<_> = candidates
            .chunks(chunk)
            .map(|paths| {
                scope.spawn(move || paths.iter().map(std::fs::metadata).collect::<Vec<_>>())
            })
            .collect();
        for (paths, stats) in candidates.chunks(chunk).zip(stats) {
            for (path, meta) in paths
                .iter()
                .zip(stats.join().expect("stat thread panicked"))
            {
                match meta {
                    // Follows symlinks: one to a regular file counts.
                    Ok(meta) if meta.is_file() => walk.files.push((path.clone(), meta)),
                    // A symlink to a directory, a FIFO, a device: not content.
                    Ok(_) => {}
                    // A dangling symlink is skipped, as before; a file that
                    // vanished mid-walk is not an error either.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // A symlink loop (ELOOP) is reported, not fatal.
                    Err(e) if is_symlink_loop(&e) => {
                        walk.skipped.push((path.clone(), "a symlink loop".into()));
                    }
                    Err(e) => return Err(Error::io("read metadata of", path, e)),
                }
            }
        }
        Ok(())
    })?;
    // Byte order: as stable as component order, and much cheaper to sort.
    walk.files
        .sort_unstable_by(|(a, _), (b, _)| a.as_os_str().cmp(b.as_os_str()));
    Ok(walk)
}

/// ELOOP: `ErrorKind::FilesystemLoop` is not stable on our toolchain.
fn is_symlink_loop(error: &std::io::Error) -> bool {
    const ELOOP: i32 = 40;
    cfg!(target_os = "linux") && error.raw_os_error() == Some(ELOOP)
}

/// True if `a` and `b` are the same directory (same device and inode).
fn same_directory(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        a == b
    }
}

/// Drops anything that looks like a credential from a message.
fn scrub(message: &str) -> String {
    crate::store::redact_url(message)
}
