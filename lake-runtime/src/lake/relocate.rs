//! `cp`, `mv` and `rm --from`: copies of a name's content between named
//! stores, each step recorded in the name's history (issue 12 part 5,
//! `docs/design/0013-stores-and-history.md`).
//!
//! A copy is: `copy_started` (an intent), the upload, a verifying read of
//! the destination, `copied`. A move is a copy, then the delete at the
//! source, then `location_removed`. Nothing is deleted before a verified
//! copy elsewhere is recorded, so a kill at any instant loses no data; the
//! history it leaves (an open intent, or a location whose copy is gone) is
//! settled by `lake verify --store --repair` (`verify.rs`).

use lake_core::{HistoryKind, Locations, Name, Record, Store, StoreExt, StorePath, StoreRef};
use serde::Serialize;

use crate::blocking::block_on;
use crate::{Error, Lake, Result};

/// What [`Lake::copy_names_async`], [`Lake::move_names_async`] and
/// [`Lake::remove_copies_async`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelocateReport {
    /// Names whose bytes were uploaded to the destination.
    pub copied: Vec<Name>,
    /// Names the destination already held a verified copy of.
    pub already_there: Vec<Name>,
    /// Names whose copy left the source store.
    pub removed_from: Vec<Name>,
    /// Names whose copy left the source store by history only: the blob
    /// stays there, since another name located there holds the same bytes.
    pub kept_shared: Vec<Name>,
    /// Bytes uploaded.
    pub bytes: u64,
}

impl Lake {
    /// Copies the content of `names` to the store named `to`, verifies it
    /// there by reading it back, then records the new location in each
    /// name's history.
    ///
    /// # Errors
    /// [`Error::UnknownStore`] for a store this host has not configured;
    /// [`Error::DestinationMismatch`] when the copy does not hash to the
    /// record's digest (the intent is then recorded as abandoned).
    pub async fn copy_names_async(&self, names: &[Name], to: &str) -> Result<RelocateReport> {
        let to_store = self.named_store(to)?;
        let to_ref = self.store_ref(to).await?;
        let mut report = RelocateReport::default();
        for name in names {
            let record = self.record_async(name).await?;
            let locations = self.locations_of(&record).await?;
            self.copy_one(&record, &locations, &to_ref, &*to_store, None, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Blocking [`Lake::copy_names_async`].
    ///
    /// # Example
    /// ```
    /// use lake_runtime::{Lake, LakeConfigBuilder, Name};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let lake = Lake::open_with(
    ///     LakeConfigBuilder::new()
    ///         .with_home(dir.path())
    ///         .with_store("memory://copy-doc-main")
    ///         .with_replica("archive", "memory://copy-doc-archive", [])
    ///         .build()?,
    /// )?;
    /// let mut writer = lake.create("raw/a.txt")?;
    /// std::io::Write::write_all(&mut writer, b"alpha")?;
    /// writer.commit()?;
    /// let name = Name::new("raw/a.txt")?;
    ///
    /// lake.move_names(std::slice::from_ref(&name), "default", "archive")?;
    /// let history = lake.history(&name)?;
    /// assert_eq!(history.locations[0].name, "archive");
    /// // Read from the archive, verified: the default store has no copy.
    /// assert_eq!(lake.file("raw/a.txt")?.read_to_string()?, "alpha");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_names(&self, names: &[Name], to: &str) -> Result<RelocateReport> {
        block_on(self.copy_names_async(names, to))
    }

    /// Moves the content of `names` from the store named `from` to the
    /// one named `to`: a verified copy at `to`, recorded, and only then the
    /// delete at `from`, recorded too.
    ///
    /// # Errors
    /// As [`Lake::copy_names_async`], plus [`Error::NotInStore`] for a name
    /// whose history places no copy at `from`. A copy that does not verify
    /// aborts the move before anything is deleted.
    pub async fn move_names_async(
        &self,
        names: &[Name],
        from: &str,
        to: &str,
    ) -> Result<RelocateReport> {
        if from == to {
            return Err(Error::StoreChoice {
                message: format!("cannot move from store {from} to itself"),
            });
        }
        let from_store = self.named_store(from)?;
        let to_store = self.named_store(to)?;
        let from_ref = self.store_ref(from).await?;
        let to_ref = self.store_ref(to).await?;
        if from_ref.id == to_ref.id {
            // Two names for one store (two URLs, or a prefix configured
            // twice): the "copy" would be the source itself, and the delete
            // would lose it.
            return Err(Error::StoreChoice {
                message: format!(
                    "stores {from} and {to} are the same store (id {}); nothing to move",
                    from_ref.id
                ),
            });
        }
        let mut report = RelocateReport::default();
        for name in names {
            let record = self.record_async(name).await?;
            let locations = self.locations_of(&record).await?;
            if !locations.stores.contains_key(&from_ref.id) {
                // Already moved (a rerun after a kill and a repair, say):
                // done, as long as the destination holds it.
                if locations.stores.contains_key(&to_ref.id) {
                    report.already_there.push(record.name.clone());
                    continue;
                }
                return Err(not_in_store(&record, from, &locations));
            }
            self.copy_one(
                &record,
                &locations,
                &to_ref,
                &*to_store,
                Some(&from_ref),
                &mut report,
            )
            .await?;
            self.remove_location(
                &record,
                &from_ref,
                &*from_store,
                Keep::At(&to_ref),
                &mut report,
            )
            .await?;
        }
        Ok(report)
    }

    /// Blocking [`Lake::move_names_async`].
    pub fn move_names(&self, names: &[Name], from: &str, to: &str) -> Result<RelocateReport> {
        block_on(self.move_names_async(names, from, to))
    }

    /// Deletes the copies of `names` in the store named `from`, keeping the
    /// names. Refuses to delete a last copy: one whose history records no
    /// other location, or none whose copy verifies now, unless
    /// `force_last`.
    pub async fn remove_copies_async(
        &self,
        names: &[Name],
        from: &str,
        force_last: bool,
    ) -> Result<RelocateReport> {
        let from_store = self.named_store(from)?;
        let from_ref = self.store_ref(from).await?;
        let mut report = RelocateReport::default();
        // Every name is checked before anything is deleted, so a refusal
        // of one leaves all of them in place.
        let mut plan = Vec::new();
        for name in names {
            let record = self.record_async(name).await?;
            let locations = self.locations_of(&record).await?;
            if !locations.stores.contains_key(&from_ref.id) {
                return Err(not_in_store(&record, from, &locations));
            }
            if !force_last {
                self.check_other_copy(&record, &locations, &from_ref)
                    .await?;
            }
            plan.push(record);
        }
        let keep = if force_last {
            Keep::Nothing
        } else {
            Keep::Verified
        };
        for record in &plan {
            self.remove_location(record, &from_ref, &*from_store, keep, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Blocking [`Lake::remove_copies_async`].
    pub fn remove_copies(
        &self,
        names: &[Name],
        from: &str,
        force_last: bool,
    ) -> Result<RelocateReport> {
        block_on(self.remove_copies_async(names, from, force_last))
    }

    /// `Ok` if a location other than `leaving` holds a copy that verifies
    /// now (the first such store this host has, in read order).
    async fn check_other_copy(
        &self,
        record: &Record,
        locations: &Locations,
        leaving: &StoreRef,
    ) -> Result<()> {
        let others: Vec<&StoreRef> = locations
            .stores
            .values()
            .filter(|s| s.id != leaving.id)
            .collect();
        let refuse = |why: String| Error::LastCopy {
            name: record.name.clone(),
            store: leaving.name.clone(),
            why,
        };
        if others.is_empty() {
            return Err(refuse("its history records no other copy".into()));
        }
        let mut checked = Vec::new();
        for other in &others {
            let Some(name) = self.store_name_of(&other.id).await else {
                continue;
            };
            let store = self.named_store(&name)?;
            match self.copy_verifies(record, &*store).await {
                Ok(true) => return Ok(()),
                Ok(false) => checked.push(format!("{name}: missing or corrupt")),
                Err(e) => checked.push(format!("{name}: {e}")),
            }
        }
        if checked.is_empty() {
            let names: Vec<&str> = others.iter().map(|s| s.name.as_str()).collect();
            return Err(refuse(format!(
                "its other copies ({}) are in stores this host has not configured, so none \
                 could be verified",
                names.join(", ")
            )));
        }
        Err(refuse(format!(
            "no other copy verifies ({})",
            checked.join("; ")
        )))
    }

    /// True if `store` holds `record`'s bytes, hashed now.
    pub(crate) async fn copy_verifies(&self, record: &Record, store: &dyn Store) -> Result<bool> {
        match store.hash_object(&StorePath::blob(&record.blake3)).await {
            Ok((digest, size)) => Ok(digest == record.blake3 && size == record.size),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Makes a verified copy of `record` at `to` and records it, unless its
    /// history already places one there (a move then still verifies it,
    /// since it deletes the source next).
    async fn copy_one(
        &self,
        record: &Record,
        locations: &Locations,
        to: &StoreRef,
        to_store: &dyn Store,
        from: Option<&StoreRef>,
        report: &mut RelocateReport,
    ) -> Result<()> {
        let dest = StorePath::blob(&record.blake3);
        if locations.stores.contains_key(&to.id) {
            if from.is_some() {
                self.check_copy(record, to, to_store).await?;
            }
            report.already_there.push(record.name.clone());
            return Ok(());
        }
        let op = crate::store::random_id()[..16].to_owned();
        let mut started = self
            .history_event(record, HistoryKind::CopyStarted)
            .with_store(to.clone())
            .with_op(&op);
        if let Some(from) = from {
            started = started.with_from(from.clone());
        }
        self.append_history(&started).await?;
        // Content-addressed: the bytes may be there already (another name,
        // an earlier interrupted copy). Hashing them costs a read, and
        // saves an upload.
        if self.copy_verifies(record, to_store).await? {
            report.already_there.push(record.name.clone());
        } else {
            let local = self.fetch_record(record).await?;
            to_store.put_file(&dest, &local).await?;
            report.bytes += record.size;
            if let Err(e) = self.check_copy(record, to, to_store).await {
                let abandoned = self
                    .history_event(record, HistoryKind::Abandoned)
                    .with_store(to.clone())
                    .with_op(&op)
                    .with_note(e.to_string());
                self.append_history(&abandoned).await?;
                return Err(e);
            }
            report.copied.push(record.name.clone());
        }
        let copied = self
            .history_event(record, HistoryKind::Copied)
            .with_store(to.clone())
            .with_op(&op);
        self.append_history(&copied).await
    }

    /// Reads the copy at `to` back and hashes it:
    /// [`Error::DestinationMismatch`] unless it is the record's bytes.
    async fn check_copy(&self, record: &Record, to: &StoreRef, store: &dyn Store) -> Result<()> {
        let (actual, actual_size) = store.hash_object(&StorePath::blob(&record.blake3)).await?;
        if actual == record.blake3 && actual_size == record.size {
            return Ok(());
        }
        Err(Error::DestinationMismatch {
            name: record.name.clone(),
            store: to.name.clone(),
            expected: record.blake3,
            size: record.size,
            found: format!("blake3 {actual} ({actual_size} bytes)"),
        })
    }

    /// Deletes `record`'s copy at `from` and records it. The blob itself
    /// stays when another live name located at `from` holds the same bytes
    /// (blobs are shared by digest). At the default store, where `add`
    /// writes, this follows rm's blob protocol (0010): a local copy first,
    /// and after the delete, a fresh listing; a name that took the bytes
    /// meanwhile gets the blob back.
    ///
    /// Two machines removing two copies of a name at once could each see
    /// the other's copy and delete their own, losing both. So a removal
    /// first records its intent (`remove_started`), then reads the
    /// history again: if another removal is open it backs off (recording
    /// `abandoned`). Of two concurrent removals at least one sees the
    /// other's intent (each writes before it reads, and listings are
    /// strongly consistent), so they never both delete. The copy that must
    /// stay (`keep`) is checked against that fresh history.
    async fn remove_location(
        &self,
        record: &Record,
        from: &StoreRef,
        from_store: &dyn Store,
        keep: Keep<'_>,
        report: &mut RelocateReport,
    ) -> Result<()> {
        let op = crate::store::random_id()[..16].to_owned();
        let started = self
            .history_event(record, HistoryKind::RemoveStarted)
            .with_store(from.clone())
            .with_op(&op);
        self.append_history(&started).await?;
        let events = self.events_of(&record.name).await?;
        let fresh = Locations::fold(&self.home_store_ref(), &events, true);
        let refused = self
            .removal_refused(record, &fresh, from, &op, keep)
            .await
            .err();
        if let Some(e) = refused {
            let abandoned = self
                .history_event(record, HistoryKind::Abandoned)
                .with_store(from.clone())
                .with_op(&op)
                .with_note(e.to_string());
            self.append_history(&abandoned).await?;
            return Err(e);
        }
        let at_home = from.id == self.store_id();
        let blob = StorePath::blob(&record.blake3);
        self.refresh_below(None).await?;
        if self.another_name_holds(record, from).await? {
            report.kept_shared.push(record.name.clone());
        } else {
            if at_home {
                self.fetch_record(record).await?;
            }
            from_store.delete(&blob).await?;
            if at_home {
                self.refresh_below(None).await?;
                if self.another_name_holds(record, from).await? {
                    tracing::info!(name = %record.name, "a name took the same bytes meanwhile; putting the blob back");
                    let local = self.inner.home.blob_path(&record.blake3);
                    from_store.put_file(&blob, &local).await?;
                }
            }
        }
        let removed = self
            .history_event(record, HistoryKind::LocationRemoved)
            .with_store(from.clone())
            .with_op(&op);
        self.append_history(&removed).await?;
        report.removed_from.push(record.name.clone());
        Ok(())
    }

    /// `Ok` if the removal `op` of the copy at `from` may go on, by the
    /// history read after its intent (`fresh`): no other removal is open,
    /// and what must stay (`keep`) is still there.
    async fn removal_refused(
        &self,
        record: &Record,
        fresh: &Locations,
        from: &StoreRef,
        op: &str,
        keep: Keep<'_>,
    ) -> Result<()> {
        if let Some(other) = fresh
            .open
            .values()
            .find(|e| e.event == HistoryKind::RemoveStarted && e.op.as_deref() != Some(op))
        {
            return Err(Error::RemovalInProgress {
                name: record.name.clone(),
                store: other
                    .store
                    .as_ref()
                    .map_or("?", |s| s.name.as_str())
                    .to_owned(),
                since: format!("{} by {} on {}", other.at, other.by, other.host),
            });
        }
        match keep {
            Keep::Nothing => Ok(()),
            Keep::At(to) if fresh.stores.contains_key(&to.id) => Ok(()),
            Keep::At(to) => Err(Error::LastCopy {
                name: record.name.clone(),
                store: from.name.clone(),
                why: format!("the copy in {} is no longer recorded", to.name),
            }),
            Keep::Verified => self.check_other_copy(record, fresh, from).await,
        }
    }

    /// True if a live name other than `record`'s holds its bytes and has a
    /// copy at `store` by its history (from the index, fresh by the
    /// caller).
    async fn another_name_holds(&self, record: &Record, store: &StoreRef) -> Result<bool> {
        let holders = self.index().names_holding(&record.blake3)?;
        for other in holders.iter().filter(|n| **n != record.name) {
            let Some(other) = self.index().get(other)? else {
                continue;
            };
            if self
                .locations_of(&other)
                .await?
                .stores
                .contains_key(&store.id)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What must remain when a copy is removed.
#[derive(Debug, Clone, Copy)]
enum Keep<'a> {
    /// Nothing (`--force-last`).
    Nothing,
    /// Another location whose copy verifies now (`rm --from`).
    Verified,
    /// The location a move just copied to and verified.
    At(&'a StoreRef),
}

fn not_in_store(record: &Record, store: &str, locations: &Locations) -> Error {
    let names: Vec<&str> = locations.stores.values().map(|s| s.name.as_str()).collect();
    Error::NotInStore {
        name: record.name.clone(),
        store: store.to_owned(),
        locations: if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        },
    }
}
