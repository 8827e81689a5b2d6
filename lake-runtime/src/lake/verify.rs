//! Checks of what is committed: `verify` re-hashes local copies and store
//! blobs (and repairs them), `stale_outputs` finds outputs whose
//! creator's code has changed.

use futures::{StreamExt, TryStreamExt};
use lake_core::{
    HistoryEvent, HistoryKind, Lineage, Locations, Name, Record, StoreExt, StorePath, StoreRef,
};
use serde::Serialize;

use super::PARALLEL_REQUESTS;
use crate::blocking::block_on;
use crate::home::hash_own_file;
use crate::{Error, Lake, Result};

/// What one store holds under a record's blob key.
enum BlobState {
    /// The record's bytes.
    Good,
    /// Nothing.
    Missing(String),
    /// Other bytes.
    Corrupt(String),
    /// The store failed to answer (a replica that is down).
    Unreadable(String),
}

/// How `verify --store --repair` settled an unfinished copy.
enum Settled {
    /// The destination holds a verified copy: recorded as copied there.
    Copied(StoreRef),
    /// An interrupted removal's store no longer holds the blob: recorded
    /// as removed there (the store's id).
    Removed(String),
    /// It does not: recorded as abandoned.
    Abandoned,
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

impl VerifyReport {
    /// True if no problem is left unrepaired.
    pub fn is_clean(&self) -> bool {
        self.problems
            .iter()
            .all(|p| self.repaired.contains(&p.name))
    }
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

impl Lake {
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
        // With --store, every name's locations: one listing of history/.
        let events = if check_store {
            self.all_events().await?
        } else {
            std::collections::BTreeMap::new()
        };
        let events = &events;
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
        let overall =
            crate::progress::Overall::new(self.inner.config.progress, names.len(), "verify");
        let overall = &overall;
        let checked: Vec<(Name, Vec<VerifyProblem>, bool)> = futures::stream::iter(names)
            .map(|name| async move {
                let events = events.get(&name).map(Vec::as_slice).unwrap_or_default();
                let (problems, repaired) =
                    self.verify_one(&name, check_store, repair, events).await?;
                overall.inc();
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

    /// Blocking [`Lake::verify_async`].
    pub fn verify(&self, names: &[Name], check_store: bool, repair: bool) -> Result<VerifyReport> {
        block_on(self.verify_async(names, check_store, repair))
    }

    /// Checks one name's local copy (and, with `check_store`, its store
    /// object), repairing what it can when asked: the problems found, and
    /// whether anything was repaired.
    async fn verify_one(
        &self,
        name: &Name,
        check_store: bool,
        repair: bool,
        events: &[HistoryEvent],
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
        if check_store {
            let mut locations = Locations::fold(&self.home_store_ref(), events, true);
            // Settled first: a repaired intent adds a location to check.
            for started in locations.open.clone().into_values() {
                let (problem, settled) = self.settle_intent(&record, &started, repair).await?;
                problems.push(problem);
                match settled {
                    Some(Settled::Copied(dest)) => {
                        locations.stores.insert(dest.id.clone(), dest);
                        repaired = true;
                    }
                    Some(Settled::Removed(id)) => {
                        locations.stores.remove(&id);
                        repaired = true;
                    }
                    Some(Settled::Abandoned) => repaired = true,
                    None => {}
                }
            }
            let (mut found, fixed) = self
                .verify_locations(&record, &locations, local_ok == Some(true), repair)
                .await?;
            problems.append(&mut found);
            repaired |= fixed;
        }
        Ok((problems, repaired))
    }

    /// Checks the copy at every location of `record` that this host has
    /// configured (locations elsewhere cannot be reached from here). With
    /// `repair`: a copy holding other bytes is replaced from a good local
    /// copy; a copy that is gone is recorded as removed when another
    /// location verifies (a move cut short after its delete), so the
    /// history says where the bytes really are, and is uploaded again from
    /// a good local copy when none does. Nothing is deleted.
    async fn verify_locations(
        &self,
        record: &Record,
        locations: &Locations,
        local_ok: bool,
        repair: bool,
    ) -> Result<(Vec<VerifyProblem>, bool)> {
        let home_id = self.store_id();
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (id, at) in &locations.stores {
            let (store, label) = if *id == home_id {
                (self.inner.store.clone(), None)
            } else {
                match self.store_name_of(id).await {
                    Some(name) => (self.named_store(&name)?, Some(name)),
                    None => {
                        tracing::debug!(name = %record.name, store = %at.name, "a location this host has not configured; not checked");
                        continue;
                    }
                }
            };
            let state = match self.verify_store_blob_in(&*store, record).await {
                Ok(state) => state,
                // A replica that fails is a problem to report, not a
                // reason to stop checking the others; the default store's
                // failures end the command, as before replicas.
                Err(e) if label.is_some() => BlobState::Unreadable(e.to_string()),
                Err(e) => return Err(e),
            };
            match state {
                BlobState::Good => good.push(at.clone()),
                bad_state => bad.push((at.clone(), store, label, bad_state)),
            }
        }
        let mut problems = Vec::new();
        let mut repaired = false;
        for (at, store, label, state) in bad {
            let (problem, missing) = match state {
                BlobState::Missing(p) => (p, true),
                BlobState::Corrupt(p) => (p, false),
                BlobState::Unreadable(p) => (format!("cannot be read: {p}"), false),
                BlobState::Good => unreachable!("only bad states are kept"),
            };
            let message = match &label {
                None => problem.clone(),
                Some(name) => format!("in store {name}: {problem}"),
            };
            problems.push(VerifyProblem {
                name: record.name.clone(),
                place: "store",
                message,
            });
            if !repair {
                continue;
            }
            let blob = StorePath::blob(&record.blake3);
            if !missing && local_ok {
                // Other bytes under the digest's key: put the right ones
                // back, keeping the copy where the user put it.
                store
                    .put_file(&blob, &self.inner.home.blob_path(&record.blake3))
                    .await?;
                repaired = true;
            } else if missing && !good.is_empty() {
                // The bytes are safe elsewhere: record the truth rather
                // than guess which copy the user wanted (a move cut short
                // after its delete lands here).
                let kept: Vec<&str> = good.iter().map(|s| s.name.as_str()).collect();
                let event = self
                    .history_event(record, HistoryKind::LocationRemoved)
                    .with_store(at.clone())
                    .with_note(format!(
                        "lake verify --store --repair: {problem}; verified copies remain in {}",
                        kept.join(", ")
                    ));
                self.append_history(&event).await?;
                repaired = true;
            } else if missing && local_ok {
                store
                    .put_file(&blob, &self.inner.home.blob_path(&record.blake3))
                    .await?;
                repaired = true;
            }
        }
        Ok((problems, repaired))
    }

    /// A copy (or a removal of one) that was started and never recorded as
    /// done or abandoned (a crash between "copied" and "recorded"): the
    /// problem, and with `repair`, the outcome recorded from what the
    /// store holds now.
    async fn settle_intent(
        &self,
        record: &Record,
        started: &HistoryEvent,
        repair: bool,
    ) -> Result<(VerifyProblem, Option<Settled>)> {
        let op = started.op.clone().unwrap_or_default();
        let Some(dest) = started.store.clone() else {
            return Err(Error::StoreInconsistent {
                store: self.store_display(),
                path: StorePath::history_of(&record.name).to_string(),
                problem: format!("copy {op} names no destination store"),
            });
        };
        let removal = started.event == HistoryKind::RemoveStarted;
        let what = if removal {
            "the removal of the copy in store"
        } else {
            "the copy to store"
        };
        let problem = |message: String| VerifyProblem {
            name: record.name.clone(),
            place: "history",
            message: format!(
                "{what} {} started at {} by {} on {} (op {op}) was never recorded as done: \
                 {message}",
                dest.name, started.at, started.by, started.host
            ),
        };
        let Some(dest_name) = self.store_name_of(&dest.id).await else {
            return Ok((
                problem(
                    "that store is not configured on this host, so it cannot be checked".into(),
                ),
                None,
            ));
        };
        let store = self.named_store(&dest_name)?;
        if removal {
            return self
                .settle_removal(record, started, &*store, dest.clone(), repair, problem)
                .await;
        }
        let verifies = self.copy_verifies(record, &*store).await?;
        let found = if verifies {
            "the copy there verifies"
        } else {
            "the copy there is missing or corrupt"
        };
        if !repair {
            return Ok((problem(found.into()), None));
        }
        let kind = if verifies {
            HistoryKind::Copied
        } else {
            HistoryKind::Abandoned
        };
        let event = self
            .history_event(record, kind)
            .with_store(dest.clone())
            .with_op(&op)
            .with_note(format!("lake verify --store --repair: {found}"));
        self.append_history(&event).await?;
        let settled = if verifies {
            Settled::Copied(dest.clone())
        } else {
            Settled::Abandoned
        };
        Ok((problem(found.into()), Some(settled)))
    }

    /// An interrupted removal: settled as done if the store no longer
    /// holds the blob, else as abandoned (the copy is still there).
    async fn settle_removal(
        &self,
        record: &Record,
        started: &HistoryEvent,
        store: &dyn lake_core::Store,
        at: StoreRef,
        repair: bool,
        problem: impl Fn(String) -> VerifyProblem,
    ) -> Result<(VerifyProblem, Option<Settled>)> {
        let op = started.op.clone().unwrap_or_default();
        let gone = match store.head(&StorePath::blob(&record.blake3)).await {
            Ok(_) => false,
            Err(e) if e.is_not_found() => true,
            Err(e) => return Err(e.into()),
        };
        let found = if gone {
            "the copy there is gone"
        } else {
            "the copy there is still present"
        };
        if !repair {
            return Ok((problem(found.into()), None));
        }
        let (kind, settled) = if gone {
            (
                HistoryKind::LocationRemoved,
                Settled::Removed(at.id.clone()),
            )
        } else {
            (HistoryKind::Abandoned, Settled::Abandoned)
        };
        let event = self
            .history_event(record, kind)
            .with_store(at)
            .with_op(&op)
            .with_note(format!("lake verify --store --repair: {found}"));
        self.append_history(&event).await?;
        Ok((problem(found.into()), Some(settled)))
    }

    async fn verify_store_blob_in(
        &self,
        store: &dyn lake_core::Store,
        record: &Record,
    ) -> Result<BlobState> {
        let path = StorePath::blob(&record.blake3);
        let (digest, size) = match store.hash_object(&path).await {
            Ok(hashed) => hashed,
            Err(e) if e.is_not_found() => {
                return Ok(BlobState::Missing(format!(
                    "store object {path} is missing"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(if digest != record.blake3 || size != record.size {
            BlobState::Corrupt(format!(
                "store object {path} has blake3 {digest} ({size} bytes), expected {} ({} bytes)",
                record.blake3, record.size
            ))
        } else {
            BlobState::Good
        })
    }

    /// Committed outputs of the creators linked into this program whose
    /// code hash (or `version`) differs from the current one, with the reason.
    /// Outputs of creators this program does not link are not judged.
    pub fn stale_outputs(&self) -> Result<Vec<crate::run::StaleOutput>> {
        block_on(self.stale_outputs_async())
    }

    /// [`Lake::stale_outputs`], refreshing the index asynchronously.
    pub async fn stale_outputs_async(&self) -> Result<Vec<crate::run::StaleOutput>> {
        if self.index_is_stale()? {
            self.refresh_async().await?;
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
}
