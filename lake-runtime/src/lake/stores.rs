//! The named stores of a lake: the default store, which holds the names,
//! and replicas, which hold copies of content (issue 12 part 4,
//! `docs/design/0013-stores-and-history.md`).
//!
//! A replica never holds a name record, a run manifest or an index of
//! this home: the home stays bound to the one store id of its default
//! store (0005), so pointing a home at several stores cannot serve a
//! stale output. What a replica serves is bytes by digest, and every read
//! from any store is hashed against the record's digest
//! (`download::download_from`).

use std::sync::Arc;

use lake_core::{Store, StoreRef};

use crate::store::StoreIdentity;
use crate::{Error, Lake, Result};

impl Lake {
    /// The name of the default store: `default_store` in `lake.toml`, else
    /// `default`.
    pub fn default_store_name(&self) -> &str {
        &self.inner.config.default_store
    }

    /// Every configured store's name, in this host's read order.
    pub fn store_names(&self) -> &[String] {
        &self.inner.config.read_order
    }

    /// The store named `name` (the default store or a replica).
    pub fn named_store(&self, name: &str) -> Result<Arc<dyn Store>> {
        if name == self.default_store_name() {
            return Ok(self.inner.store.clone());
        }
        self.inner
            .replicas
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownStore {
                name: name.to_owned(),
                known: self.store_names().join(", "),
            })
    }

    /// The stores reads try, in order, with their names.
    pub(crate) fn read_stores(&self) -> Vec<(&str, Arc<dyn Store>)> {
        self.store_names()
            .iter()
            .filter_map(|name| Some((name.as_str(), self.named_store(name).ok()?)))
            .collect()
    }

    /// True if the lake has replicas: only then is there anything to fall
    /// back to, or any history of locations to consult.
    pub(crate) fn has_replicas(&self) -> bool {
        !self.inner.replicas.is_empty()
    }

    /// The store named `name` as history records it: its name and id. A
    /// replica's id is read (or created, on first use) once per process.
    pub(crate) async fn store_ref(&self, name: &str) -> Result<StoreRef> {
        if name == self.default_store_name() {
            return Ok(StoreRef {
                name: name.to_owned(),
                id: self.store_id(),
            });
        }
        let store = self.named_store(name)?;
        let cached = self
            .inner
            .replica_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        let id = match cached {
            Some(id) if id.is_empty() => {
                return Err(Error::StoreChoice {
                    message: format!("store {name} could not be reached earlier in this command"),
                });
            }
            Some(id) => id,
            None => {
                let id = StoreIdentity::read_or_create(&*store).await?.id;
                self.inner
                    .replica_ids
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.to_owned(), id.clone());
                id
            }
        };
        Ok(StoreRef {
            name: name.to_owned(),
            id,
        })
    }

    /// The configured name of the store with id `id`, if this host has it,
    /// asking each replica for its id at most once. A replica that cannot
    /// be reached is skipped, with a warning, and not asked again by this
    /// process: it cannot be acted on anyway, and each attempt may wait
    /// out the store's retries.
    pub(crate) async fn store_name_of(&self, id: &str) -> Option<String> {
        for name in self.store_names().to_vec() {
            let unreachable = self
                .inner
                .replica_ids
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&name)
                .is_some_and(String::is_empty);
            if unreachable {
                continue;
            }
            match self.store_ref(&name).await {
                Ok(r) if r.id == id => return Some(name),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(store = %name, error = %e, "cannot read the store's id; its copies are not checked or used by this command");
                    // An empty id marks it unreachable (ids are never
                    // empty: `StoreIdentity::is_valid_id`).
                    self.inner
                        .replica_ids
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(name, String::new());
                }
            }
        }
        None
    }
}
