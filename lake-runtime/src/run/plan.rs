//! A [`Plan`]: a call with its key, looked up against the store, and the
//! refusal of an explicit output name that another call made.

use std::sync::{Arc, Mutex};

use lake_core::key::RunKey;
use lake_core::{Digest, Lineage, Record};

use super::call::Call;
use super::context::RunContext;
use super::differences::key_differences;
use crate::outcome::{KeyComponents, Outcome};
use crate::{Error, File, Lake, Result};

/// A call with its key: what the slow path looks up, runs and commits.
pub(super) struct Plan {
    /// The call, which the key was built from.
    pub(super) call: Call,
    /// Its inputs' digests, in order.
    pub(super) digests: Vec<Digest>,
    pub(super) lake: Lake,
    pub(super) key: RunKey,
    /// A forced re-run ([`Lake::force`]) must reproduce the committed bytes.
    pub(super) forced: bool,
}

impl Plan {
    /// The outputs of a finished run, if there is one. Downloads no content.
    pub(super) async fn lookup(&self) -> Result<Option<Vec<File>>> {
        if let Some(names) = &self.call.explicit_outputs {
            // Explicit names keep the key that made them (issue 10): they
            // are a hit only when every one exists with this run's key. A
            // name made with another key, or added, is refused rather than
            // returned (a false hit) or overwritten (names are immutable).
            // A missing name means a miss: the run (re)makes it.
            let mut all_exist = true;
            for name in names {
                match self.lake.try_record(name).await? {
                    Some(record) if self.made_this_run(&record) => {}
                    Some(_) => {
                        // The index may remember a name that was removed
                        // from the store since, as the refusal suggests.
                        match self.lake.record_from_store(name).await? {
                            Some(record) => self.check_explicit(&record)?,
                            None => all_exist = false,
                        }
                    }
                    None => all_exist = false,
                }
            }
            if !all_exist {
                return Ok(None);
            }
            return Ok(Some(
                names
                    .iter()
                    .map(|n| File::from_parts(self.lake.clone(), n.clone()))
                    .collect(),
            ));
        }
        let Some(manifest) = self.lake.run_manifest(&self.key).await? else {
            return Ok(None);
        };
        Ok(Some(
            manifest
                .outputs
                .into_iter()
                .map(|o| File::from_parts(self.lake.clone(), o.name))
                .collect(),
        ))
    }

    /// What went into the key, for a tracking lake.
    pub(super) fn components(&self) -> KeyComponents {
        self.call.components(&self.digests)
    }

    /// Records `outcome` if the lake tracks outcomes.
    pub(super) fn record(&self, outcome: Outcome) {
        let log = self.lake.outcome_log();
        if log.is_tracking() {
            log.record(self.call.info, outcome, self.key, self.components());
        }
    }

    /// True if `record` was made by a run with this plan's key.
    pub(super) fn made_this_run(&self, record: &Record) -> bool {
        matches!(&record.lineage, Lineage::Created(run) if run.run_key == self.key.to_hex())
    }

    /// Refuses the existing explicit output `record` unless this plan's run
    /// made it, naming what differs.
    pub(super) fn check_explicit(&self, record: &Record) -> Result<()> {
        if self.made_this_run(record) {
            return Ok(());
        }
        let why = match &record.lineage {
            Lineage::Created(run) => format!(
                "was made by another call: {}",
                key_differences(
                    run,
                    self.call.info,
                    &self.call.params(),
                    &self.call.input_refs(&self.digests)
                )
                .join("; ")
            ),
            _ => "was added (lake add or File::create), not made by a run".to_owned(),
        };
        Err(Error::ExplicitNameTaken {
            name: record.name.clone(),
            creator: self.call.info.path(),
            why,
            path: lake_core::StorePath::name_record(&record.name).to_string(),
        })
    }

    pub(super) fn context(&self, arity: Option<usize>) -> Arc<RunContext> {
        Arc::new(RunContext {
            lake: self.lake.clone(),
            creator: self.call.info.path(),
            creator_name: self.call.info.name,
            key: self.key,
            arity,
            explicit: self.call.explicit_outputs.clone(),
            issued: Mutex::new(0),
            pending: Mutex::new(Vec::new()),
        })
    }
}
