//! A name's history in the store: every location change and removal, as
//! append-only objects under `history/` in the default store, which every
//! machine reads (issue 12 part 6, `docs/design/0013-stores-and-history.md`).
//!
//! Creation is not an event: the name record already says when, by whom,
//! on which host and how (its lineage), and writing an event would cost
//! every `add` and every run a request. Removal is both a tombstone (0010)
//! and an event, since a tombstone is overwritten by a later removal and
//! the history keeps them all.

use std::collections::BTreeMap;

use futures::{StreamExt, TryStreamExt};
use lake_core::{
    HISTORY_PREFIX, HistoryEvent, HistoryKind, Locations, Name, PutMode, Record, StoreExt,
    StorePath, StoreRef, Tombstone,
};
use serde::Serialize;

use super::PARALLEL_REQUESTS;
use crate::blocking::block_on;
use crate::{Lake, Result};

/// What [`Lake::history_async`] found for a name.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    /// The name.
    pub name: Name,
    /// Its record, if the name exists now: its creation (time, who, host,
    /// lineage).
    pub record: Option<Record>,
    /// Its latest tombstone, if it was ever removed.
    pub tombstone: Option<Tombstone>,
    /// Every event, oldest first.
    pub events: Vec<HistoryEvent>,
    /// Where its copies are now, by the events.
    pub locations: Vec<StoreRef>,
    /// Copies (and removals of copies) started and never recorded as done
    /// or abandoned: running now, or cut short by a crash, which `lake
    /// verify --store --repair` settles.
    pub open: Vec<HistoryEvent>,
}

impl Lake {
    /// The command line of this process, credentials redacted, for the
    /// `command` of history events.
    pub(crate) fn command_line() -> String {
        let mut args = std::env::args();
        let program = args
            .next()
            .map(|p| {
                std::path::Path::new(&p)
                    .file_name()
                    .map_or(p.clone(), |f| f.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let line = std::iter::once(program)
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
        crate::store::redact_known_secrets(&line)
    }

    /// A fresh event of `kind` for `record`, by this user on this host.
    pub(crate) fn history_event(&self, record: &Record, kind: HistoryKind) -> HistoryEvent {
        HistoryEvent::new(
            record.name.clone(),
            kind,
            record.blake3,
            record.size,
            self.originator(),
            crate::lineage::host(),
            Self::command_line(),
        )
    }

    /// Appends `event` to its name's history: a new object, created with a
    /// conditional create so that it never replaces another.
    pub(crate) async fn append_history(&self, event: &HistoryEvent) -> Result<()> {
        let json = bytes::Bytes::from(event.to_json());
        loop {
            let stem = event.key_stem(&crate::store::random_id()[..12]);
            let path = StorePath::history_event(&event.name, &stem);
            match self
                .inner
                .store
                .put(&path, json.clone(), PutMode::Create)
                .await
            {
                Ok(_) => return Ok(()),
                // 48 random bits in the same nanosecond: try another.
                Err(e) if e.is_already_exists() => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Every event of `name`, oldest first.
    pub(crate) async fn events_of(&self, name: &Name) -> Result<Vec<HistoryEvent>> {
        let listed = self
            .inner
            .store
            .list_all(&StorePath::history_of(name), 1000)
            .await?;
        let keys: Vec<StorePath> = listed
            .into_iter()
            .map(|meta| meta.path)
            .filter(|p| StorePath::name_from_history_path(p.as_str()).as_ref() == Some(name))
            .collect();
        let mut events = self.read_events(keys).await?;
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    /// Every event of every name (one listing of `history/`), by name.
    pub(crate) async fn all_events(&self) -> Result<BTreeMap<Name, Vec<HistoryEvent>>> {
        let listed = self
            .inner
            .store
            .list_all(&StorePath::prefix(HISTORY_PREFIX), 1000)
            .await?;
        let keys = listed.into_iter().map(|meta| meta.path).collect();
        let mut out: BTreeMap<Name, Vec<HistoryEvent>> = BTreeMap::new();
        for event in self.read_events(keys).await? {
            out.entry(event.name.clone()).or_default().push(event);
        }
        for events in out.values_mut() {
            events.sort_by_key(|e| e.at);
        }
        Ok(out)
    }

    async fn read_events(&self, keys: Vec<StorePath>) -> Result<Vec<HistoryEvent>> {
        futures::stream::iter(keys)
            .map(|path| async move {
                let bytes = self.inner.store.read_all(&path).await?;
                HistoryEvent::from_json(&bytes).map_err(|e| crate::Error::StoreInconsistent {
                    store: self.store_display(),
                    path: path.to_string(),
                    problem: format!("not a history event: {e}"),
                })
            })
            .buffer_unordered(PARALLEL_REQUESTS)
            .try_collect()
            .await
    }

    /// The default store as history names it: where every name starts.
    pub(crate) fn home_store_ref(&self) -> StoreRef {
        StoreRef {
            name: self.default_store_name().to_owned(),
            id: self.store_id(),
        }
    }

    /// Where the copies of `record`'s name are, by its history.
    pub(crate) async fn locations_of(&self, record: &Record) -> Result<Locations> {
        let events = self.events_of(&record.name).await?;
        Ok(Locations::fold(&self.home_store_ref(), &events, true))
    }

    /// Where the copies of every name at or below `prefix` are, from one
    /// listing of `history/`: what `lake ls --where` shows.
    pub async fn locations_below_async(
        &self,
        names: &[Name],
    ) -> Result<BTreeMap<Name, Vec<StoreRef>>> {
        let events = self.all_events().await?;
        let home = self.home_store_ref();
        Ok(names
            .iter()
            .map(|name| {
                let events = events.get(name).map(Vec::as_slice).unwrap_or_default();
                let locations = Locations::fold(&home, events, true);
                (name.clone(), locations.stores.into_values().collect())
            })
            .collect())
    }

    /// The history of `name`: its record (creation), its events and its
    /// latest tombstone, with where its copies are now. Works for a removed
    /// name too.
    pub async fn history_async(&self, name: &Name) -> Result<History> {
        let record = self.record_from_store(name).await?;
        let events = self.events_of(name).await?;
        let tombstone = match self.inner.store.read_all(&StorePath::tombstone(name)).await {
            Ok(bytes) => Tombstone::from_json(&bytes).ok(),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        if record.is_none() && events.is_empty() && tombstone.is_none() {
            return Err(crate::Error::NotFound {
                name: name.clone(),
                store: self.store_display(),
            });
        }
        let folded = Locations::fold(&self.home_store_ref(), &events, record.is_some());
        Ok(History {
            name: name.clone(),
            record,
            tombstone,
            events,
            locations: folded.stores.into_values().collect(),
            open: folded.open.into_values().collect(),
        })
    }

    /// Blocking [`Lake::history_async`].
    pub fn history(&self, name: &Name) -> Result<History> {
        block_on(self.history_async(name))
    }
}
