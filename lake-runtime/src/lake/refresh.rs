//! Listing, and keeping the home's index in step with the store: a
//! refresh lists the name records, fetches those it does not know (from
//! record packs where it can) and forgets those the store no longer has.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lake_core::{Digest, NAMES_PREFIX, Name, Record, StoreExt, StorePath};
use serde::Serialize;

use super::{Memo, PARALLEL_REQUESTS};
use crate::blocking::block_on;
use crate::index::Index;
use crate::store::StoreIdentity;
use crate::{Error, Lake, Result};

/// A refresh that meets more new names than this looks for record packs
/// first: below it, listing `packs/` costs about what it saves.
const PACKS_WORTH_READING: usize = 8;

/// Objects asked for per listing page. Large, because a local store walks
/// its whole directory for every page; S3 and Azure still page by 1,000
/// underneath, so memory stays bounded by this many small entries.
const LIST_PAGE: usize = 100_000;

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

/// What a listing of `names/` says about one name record.
pub(super) struct ListedRecord {
    /// Identifies the record's content; see [`Lake::read_record_packs`].
    pub(super) e_tag: Option<String>,
    pub(super) last_modified: DateTime<Utc>,
}

/// What a refresh of the index did.
pub(crate) struct Refreshed {
    /// Records added to the index.
    pub(crate) count: usize,
    /// Names whose store record could not be read as a record, with why.
    pub(crate) undecodable: Vec<(Name, String)>,
}

impl Lake {
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
            .then(|| self.inner.home.local_copy_digests())
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

    pub(super) fn index_is_stale(&self) -> Result<bool> {
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

    /// [`Lake::refresh_async`], blocking.
    pub fn refresh(&self) -> Result<usize> {
        block_on(self.refresh_async())
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
                Err(
                    e @ (Error::Core(lake_core::Error::Decode { .. })
                    | Error::StoreInconsistent { .. }),
                ) => {
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
        // Removed elsewhere: no warm hit may answer with them any more.
        self.forget_in_memo(&removed);
        self.learn_tombstones(prefix).await?;
        Ok(Refreshed { count, undecodable })
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

    /// Every object below `prefix` in the store, following the pages.
    pub(crate) async fn list_all(&self, prefix: &str) -> Result<Vec<lake_core::ObjectMeta>> {
        Ok(self
            .inner
            .store
            .list_all(&StorePath::prefix(prefix), LIST_PAGE)
            .await?)
    }
}
