//! What `add` and a refresh learn of tombstones (docs/design/0010-removal.md):
//! the index first, the store when a new name is added.

use futures::StreamExt;
use lake_core::{Digest, Name, StorePath, TOMBSTONES_PREFIX, Tombstone};

use super::PARALLEL_REQUESTS;
use crate::{Error, Lake, Result};

impl Lake {
    /// Refuses to give `name` other bytes than its tombstone says it held.
    /// Called after the name was found absent: a tombstone is written
    /// before its record is deleted, so a remove that raced the absence
    /// check has its tombstone in the store by now. With `ask_store`
    /// false the index alone is asked (it was just refreshed with the
    /// tombstones of this prefix).
    pub(super) async fn check_tombstone(
        &self,
        name: &Name,
        offered: Digest,
        ask_store: bool,
    ) -> Result<()> {
        let mut tombstone = self.index().tombstone(name)?;
        if tombstone.is_none() && ask_store {
            tombstone = self.fetch_tombstone(name).await?;
            if let Some(t) = &tombstone {
                self.index().insert_tombstone(t, "")?;
            }
        }
        match tombstone {
            Some(t) if t.blake3 != offered => Err(Error::Removed {
                name: name.clone(),
                tombstone: Box::new(t),
                offered,
            }),
            _ => Ok(()),
        }
    }

    /// The tombstone of `name` in the store, if any.
    pub(crate) async fn fetch_tombstone(&self, name: &Name) -> Result<Option<Tombstone>> {
        let path = StorePath::tombstone(name);
        let bytes = match self.get_small(&path).await {
            Ok(bytes) => bytes,
            Err(Error::Store(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(Some(Tombstone::from_json(&bytes)?))
    }

    /// Lists the tombstones at or below `prefix` and reads those the index
    /// does not know yet, or knows with another stamp (removed again):
    /// few, one per removal, each read once per home. Each one read makes
    /// this home forget the run that made the name ([`Lake::forget_removed`]).
    pub(super) async fn learn_tombstones(&self, prefix: Option<&Name>) -> Result<()> {
        let list_prefix = match prefix {
            Some(p) => format!("{TOMBSTONES_PREFIX}/{p}"),
            None => TOMBSTONES_PREFIX.to_owned(),
        };
        let known = self
            .index()
            .tombstoned_below(prefix.map_or("", |p| p.as_str()))?;
        let new: Vec<(Name, String)> = self
            .list_all(&list_prefix)
            .await?
            .into_iter()
            .filter_map(|o| {
                let name = StorePath::name_from_tombstone_path(o.path.as_str())?;
                let seen = o
                    .version
                    .e_tag
                    .unwrap_or_else(|| o.last_modified.to_rfc3339());
                (known.get(&name) != Some(&seen)).then_some((name, seen))
            })
            .collect();
        let fetched: Vec<(String, Result<Option<Tombstone>>)> = futures::stream::iter(new)
            .map(|(name, seen)| async move { (seen, self.fetch_tombstone(&name).await) })
            .buffer_unordered(PARALLEL_REQUESTS)
            .collect()
            .await;
        for (seen, tombstone) in fetched {
            match tombstone {
                Ok(Some(t)) => self.forget_removed(&t, &seen)?,
                Ok(None) => {}
                // One bad tombstone must not break every refresh; the add
                // of that name asks the store again and reports it.
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable tombstone"),
            }
        }
        Ok(())
    }
}
