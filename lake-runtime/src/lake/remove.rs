//! `rm`: removing names from the store and the home, with their tombstones,
//! the run manifests that listed them, and their bytes once no live name
//! holds them (docs/design/0010-removal.md).
//!
//! Per name, in this order: the tombstone, then the manifest of the run
//! that made it, the name record, and the manifest once more. Then, for each digest no live name
//! holds after a fresh listing, the blob: a local copy is made first, the
//! blob is deleted, the names are listed once more, and a blob that a
//! concurrent `add` adopted in between is put back from that copy.

use std::collections::{BTreeMap, BTreeSet};

use lake_core::{Digest, Lineage, Name, PutMode, Record, StorePath, Tombstone};
use serde::Serialize;

use crate::blocking::block_on;
use crate::{Error, Lake, Result};

/// How [`Lake::remove_async`] treats its targets.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// Each target is a prefix: remove every name at or below it.
    pub recursive: bool,
    /// Also remove every file made from a target, directly or not
    /// (downstream first). Without it, a target others were made from is
    /// refused with [`Error::HasDownstream`].
    pub cascade: bool,
    /// Plan only: report what would go, remove nothing.
    pub dry_run: bool,
    /// Why, kept in each tombstone.
    pub message: Option<String>,
}

/// One name [`Lake::remove_async`] removed (or would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovedName {
    /// The name.
    pub name: Name,
    /// The digest it held.
    pub blake3: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// True if a target named it; false if only the cascade reached it.
    pub target: bool,
}

/// What [`Lake::remove_async`] did, or with `dry_run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RemoveReport {
    /// The names, in the order they were removed: downstream first.
    pub names: Vec<RemovedName>,
    /// Blobs deleted from the store: no live name holds them.
    pub blobs_deleted: Vec<Digest>,
    /// Blobs kept, with the live names that hold them (a name added with
    /// the same bytes, before or during the removal).
    pub blobs_kept: BTreeMap<Digest, Vec<Name>>,
    /// Blobs deleted, then put back because an `add` of the same bytes
    /// created its name while they were being deleted (also in
    /// `blobs_kept`).
    pub blobs_restored: Vec<Digest>,
    /// Bytes of the deleted blobs.
    pub bytes_deleted: u64,
    /// Copies deleted from replica stores (store name, digest): where the
    /// removed names' histories placed them, once no live name holds the
    /// bytes.
    pub replica_blobs_deleted: Vec<(String, Digest)>,
    /// Nothing was removed: this is the plan.
    pub dry_run: bool,
}

impl Lake {
    /// Removes `targets` (names, or prefixes with `recursive`) from the
    /// store and the home; see [`RemoveOptions`] and the module docs.
    ///
    /// Starts with a full refresh of the index, so that downstream files
    /// made on other machines are known, and finds them through the index.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a target that names nothing, and
    /// [`Error::HasDownstream`] for a target others were made from, unless
    /// `cascade`; in both cases nothing is removed.
    pub async fn remove_async(
        &self,
        targets: &[Name],
        options: &RemoveOptions,
    ) -> Result<RemoveReport> {
        self.refresh_below(None).await?;
        let plan = self.removal_plan(targets, options)?;
        let mut report = RemoveReport {
            names: plan.iter().map(|(_, r)| r.clone()).collect(),
            dry_run: options.dry_run,
            ..RemoveReport::default()
        };
        if options.dry_run {
            return Ok(report);
        }
        let records: Vec<Record> = plan.into_iter().map(|(record, _)| record).collect();
        // Where the replicas hold copies, read before the names go: a
        // removed name's bytes must leave every store (a secret, say).
        let mut replica_copies: BTreeMap<Digest, BTreeSet<String>> = BTreeMap::new();
        if self.has_replicas() {
            for record in &records {
                for at in self.locations_of(record).await?.stores.into_values() {
                    if at.id == self.store_id() {
                        continue;
                    }
                    if let Some(name) = self.store_name_of(&at.id).await {
                        replica_copies
                            .entry(record.blake3)
                            .or_default()
                            .insert(name);
                    }
                }
            }
        }
        for record in &records {
            self.remove_one(record, options.message.clone()).await?;
        }
        let digests: BTreeMap<Digest, &Record> = records.iter().map(|r| (r.blake3, r)).collect();
        self.remove_blobs(digests, &mut report).await?;
        for (digest, stores) in replica_copies {
            // `remove_blobs` listed the names afresh: a live name that
            // holds these bytes may have its copy in a replica too.
            if !self.index().names_holding(&digest)?.is_empty() {
                continue;
            }
            for store in stores {
                self.named_store(&store)?
                    .delete(&StorePath::blob(&digest))
                    .await?;
                report.replica_blobs_deleted.push((store, digest));
            }
        }
        Ok(report)
    }

    /// Blocking [`Lake::remove_async`].
    pub fn remove(&self, targets: &[Name], options: &RemoveOptions) -> Result<RemoveReport> {
        block_on(self.remove_async(targets, options))
    }

    /// The records to remove, downstream first, from the (fresh) index.
    fn removal_plan(
        &self,
        targets: &[Name],
        options: &RemoveOptions,
    ) -> Result<Vec<(Record, RemovedName)>> {
        let index = self.index();
        let mut chosen: BTreeSet<Name> = BTreeSet::new();
        for target in targets {
            let found: Vec<Name> = if options.recursive {
                index
                    .list(target.as_str())?
                    .into_iter()
                    .map(|e| e.name)
                    .collect()
            } else {
                index.get(target)?.map(|r| r.name).into_iter().collect()
            };
            if found.is_empty() {
                return Err(Error::NotFound {
                    name: target.clone(),
                    store: self.store_display(),
                });
            }
            chosen.extend(found);
        }
        let targeted = chosen.clone();
        // Downstream edges within the closure: name -> names made from it.
        let mut made_from: BTreeMap<Name, Vec<Name>> = BTreeMap::new();
        let mut queue: Vec<Name> = chosen.iter().cloned().collect();
        let mut refused: Vec<(Name, Vec<Name>)> = Vec::new();
        while let Some(name) = queue.pop() {
            let downstream = index.made_from(&name)?;
            let outside: Vec<Name> = downstream
                .iter()
                .filter(|d| !chosen.contains(*d))
                .cloned()
                .collect();
            if !outside.is_empty() {
                if options.cascade {
                    for d in &outside {
                        chosen.insert(d.clone());
                        queue.push(d.clone());
                    }
                } else {
                    refused.push((name.clone(), outside));
                }
            }
            made_from.insert(name, downstream);
        }
        if !refused.is_empty() {
            refused.sort();
            let (name, mut downstream) = refused.remove(0);
            for (_, more) in refused {
                downstream.extend(more);
            }
            downstream.sort();
            downstream.dedup();
            return Err(Error::HasDownstream { name, downstream });
        }
        // Downstream first: a name goes once nothing left in the plan was
        // made from it. Lineage has no cycles (an input exists before the
        // run that reads it); the fallback only guards against bad data.
        let mut left = chosen;
        let mut order = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let ready: Vec<Name> = left
                .iter()
                .filter(|n| {
                    made_from
                        .get(*n)
                        .is_none_or(|ds| ds.iter().all(|d| !left.contains(d)))
                })
                .cloned()
                .collect();
            let ready = if ready.is_empty() {
                left.iter().cloned().collect()
            } else {
                ready
            };
            for name in ready {
                left.remove(&name);
                order.push(name);
            }
        }
        let mut plan = Vec::with_capacity(order.len());
        for name in order {
            let Some(record) = index.get(&name)? else {
                continue;
            };
            let removed = RemovedName {
                name: record.name.clone(),
                blake3: record.blake3,
                size: record.size,
                target: targeted.contains(&name),
            };
            plan.push((record, removed));
        }
        Ok(plan)
    }

    /// Tombstone, then the manifest of the run that made it, the name
    /// record, the manifest once more; then the index and the memo.
    async fn remove_one(&self, record: &Record, message: Option<String>) -> Result<()> {
        let run_key = match &record.lineage {
            Lineage::Created(run) => Some(run.run_key.clone()),
            Lineage::Added(_) => None,
        };
        let tombstone = Tombstone::new(
            record.name.clone(),
            record.blake3,
            record.size,
            self.originator(),
            crate::lineage::host(),
            message,
            run_key,
        );
        // Overwrite: a name removed, restored and removed again keeps one
        // tombstone, the latest; its digest is the same each time.
        self.inner
            .store
            .put(
                &StorePath::tombstone(&record.name),
                tombstone.to_json().into(),
                PutMode::Overwrite,
            )
            .await?;
        // The manifest before the record, and again after it. Before: a
        // kill between the two leaves a live record and an unfinished run,
        // which the next call finishes by adopting the record (a manifest
        // left listing a removed name would be answered as a hit forever).
        // After: a call that adopted the record in between, and wrote the
        // manifest again, is undone.
        let manifest = tombstone.run_key.as_deref().map(StorePath::run_manifest);
        if let Some(manifest) = &manifest {
            self.inner.store.delete(manifest).await?;
        }
        self.inner
            .store
            .delete(&StorePath::name_record(&record.name))
            .await?;
        if let Some(manifest) = &manifest {
            self.inner.store.delete(manifest).await?;
        }
        // History: after the record's delete, so that a kill before it
        // leaves a live name whose history does not say it was removed.
        let mut removed = self.history_event(record, lake_core::HistoryKind::Removed);
        if let Some(message) = &tombstone.message {
            removed = removed.with_note(message.clone());
        }
        self.append_history(&removed).await?;
        // Annotations describe the file and go with it: a restored name
        // starts bare, and a secret written into a tag leaves too.
        self.inner
            .store
            .delete(&lake_core::notes_path(&record.name))
            .await?;
        self.index()
            .forget_names(std::slice::from_ref(&record.name))?;
        // Stamped "" so that this home's next refresh reads it back once
        // and records the store's stamp.
        self.forget_removed(&tombstone, "")?;
        tracing::debug!(name = %record.name, "removed");
        Ok(())
    }

    /// Remembers `tombstone` (listed with stamp `seen`) and forgets what it
    /// removed: the run that made the name, in the index and the memo,
    /// even if this home learnt of that run without the name's record (a
    /// hit answered from a manifest reads no record).
    pub(super) fn forget_removed(&self, tombstone: &Tombstone, seen: &str) -> Result<()> {
        {
            let mut index = self.index();
            index.insert_tombstone(tombstone, seen)?;
            if let Some(key) = &tombstone.run_key {
                index.forget_run(key)?;
            }
        }
        if let Some(key) = tombstone.run_key.as_deref().and_then(|k| k.parse().ok()) {
            self.memo().runs.remove(&key);
        }
        self.forget_in_memo(std::slice::from_ref(&tombstone.name));
        Ok(())
    }

    /// Forgets `names` in the in-process memo, with every run that listed
    /// one of them, so that no warm hit returns a removed name.
    pub(super) fn forget_in_memo(&self, names: &[Name]) {
        if names.is_empty() {
            return;
        }
        let gone: BTreeSet<&Name> = names.iter().collect();
        let mut memo = self.memo();
        for name in names {
            memo.digests.remove(name);
            memo.made_by.remove(name);
        }
        memo.runs
            .retain(|_, outputs| !outputs.iter().any(|n| gone.contains(n)));
    }

    /// Deletes the blobs of `digests` that no live name holds, safely
    /// against a concurrent `add` of the same bytes (see the module docs),
    /// and the home's copies with them.
    async fn remove_blobs(
        &self,
        digests: BTreeMap<Digest, &Record>,
        report: &mut RemoveReport,
    ) -> Result<()> {
        // 1. Who holds each digest now, after a fresh listing.
        let fresh = self.refresh_below(None).await?;
        let mut candidates = Vec::new();
        for (digest, record) in digests {
            let holders = self.index().names_holding(&digest)?;
            if !holders.is_empty() {
                report.blobs_kept.insert(digest, holders);
            } else if !fresh.undecodable.is_empty() {
                // A record that does not parse may hold it: keep it, as gc
                // would (`lake verify --store` names the record).
                tracing::warn!(%digest, "kept: some name records cannot be read");
                report.blobs_kept.insert(digest, Vec::new());
            } else {
                candidates.push(record);
            }
        }
        // 2. A local copy of each, to put back if an add adopts the blob
        //    while it is being deleted; then the deletes.
        let mut deleted = Vec::new();
        for record in candidates {
            let path = StorePath::blob(&record.blake3);
            match self.inner.store.head(&path).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    // Already gone (gc, or an earlier rm): only the home's
                    // copy is left to drop.
                    self.inner.home.remove_blob(&record.blake3)?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            self.fetch_record(record).await?;
            self.inner.store.delete(&path).await?;
            deleted.push(record);
        }
        if deleted.is_empty() {
            return Ok(());
        }
        // 3. Listed once more: an add that created its record after step 1
        //    and checked its blob before step 2 gets its blob back here.
        self.refresh_below(None).await?;
        for record in deleted {
            let digest = record.blake3;
            let holders = self.index().names_holding(&digest)?;
            let local = self.inner.home.blob_path(&digest);
            if holders.is_empty() {
                self.inner.home.remove_blob(&digest)?;
                report.bytes_deleted += record.size;
                report.blobs_deleted.push(digest);
            } else {
                tracing::info!(%digest, ?holders, "a concurrent add adopted the blob; putting it back");
                self.inner
                    .store
                    .put_file(&StorePath::blob(&digest), &local)
                    .await?;
                report.blobs_restored.push(digest);
                report.blobs_kept.insert(digest, holders);
            }
        }
        Ok(())
    }
}
