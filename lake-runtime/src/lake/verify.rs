//! Checks of what is committed: `verify` re-hashes local copies and store
//! blobs (and repairs them), `stale_outputs` finds outputs whose
//! creator's code has changed.

use futures::{StreamExt, TryStreamExt};
use lake_core::{Lineage, Name, Record, StoreExt, StorePath};
use serde::Serialize;

use super::PARALLEL_REQUESTS;
use crate::blocking::block_on;
use crate::home::hash_own_file;
use crate::{Error, Lake, Result};

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

    async fn verify_store_blob(&self, record: &Record) -> Result<Option<String>> {
        let path = StorePath::blob(&record.blake3);
        let (digest, size) = match self.inner.store.hash_object(&path).await {
            Ok(hashed) => hashed,
            Err(e) if e.is_not_found() => {
                return Ok(Some(format!("store object {path} is missing")));
            }
            Err(e) => return Err(e.into()),
        };
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
