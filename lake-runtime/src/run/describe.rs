//! A call planned for a batch instead of run: its key, what a worker needs
//! to make the same call elsewhere, and whether it is already done
//! (docs/design/0012-batch-and-slurm.md).

use lake_core::key::{CodeIdentity, RunKey, output_name};
use lake_core::{InputRef, Name, ParamRecord};

use super::call::Call;
use super::plan::Plan;
use super::{CreatorInfo, Outputs};
use crate::blocking::block_on;
use crate::{File, Lake, Result};

/// A call with its key, looked up against the store.
pub(crate) struct Described {
    plan: Plan,
    /// The outputs of the finished run, if it is done already.
    pub(crate) done: Option<Vec<File>>,
}

impl Described {
    /// Plans `call` (input digests, key) and looks its run up, exactly as a
    /// call outside a batch would before deciding to run.
    pub(crate) fn new(call: Call) -> Result<Self> {
        let lake = call.lake();
        block_on(async move {
            let plan = call.plan(lake).await?;
            let done = plan.lookup().await?;
            if done.is_none() {
                // A worker elsewhere reads its inputs from the store: a
                // local source among them goes up now, and only for a call
                // that will run.
                plan.lake
                    .upload_local_sources(plan.call.input_files())
                    .await?;
            }
            Ok(Self { plan, done })
        })
    }

    pub(crate) fn info(&self) -> &'static CreatorInfo {
        self.plan.call.info
    }

    pub(crate) fn key(&self) -> RunKey {
        self.plan.key
    }

    pub(crate) fn lake(&self) -> &Lake {
        &self.plan.lake
    }

    pub(crate) fn code_identity(&self) -> CodeIdentity {
        self.plan.call.info.code_identity()
    }

    pub(crate) fn params(&self) -> Vec<ParamRecord> {
        self.plan.call.params()
    }

    pub(crate) fn inputs(&self) -> Vec<InputRef> {
        self.plan.call.input_refs(&self.plan.digests)
    }

    pub(crate) fn explicit_outputs(&self) -> Option<&[Name]> {
        self.plan.call.explicit_outputs.as_deref()
    }

    /// The names the run will give its outputs, known before it runs: the
    /// explicit names, or the names derived from the key (`None` for a
    /// `Vec<File>` return, whose count only the run knows).
    pub(crate) fn predicted_outputs<O: Outputs>(&self) -> Result<Option<Vec<Name>>> {
        if let Some(names) = self.explicit_outputs() {
            return Ok(Some(names.to_vec()));
        }
        let name = self.plan.call.info.name;
        let key = &self.plan.key;
        Ok(match O::ARITY {
            Some(1) => Some(vec![output_name(name, key, None)?]),
            Some(n) => Some(
                (0..n)
                    .map(|i| output_name(name, key, Some((i, n))))
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        })
    }

    /// The outputs of the finished run, read again from the store (a run
    /// that a worker elsewhere committed is not in this home's index).
    pub(crate) fn lookup(&self) -> Result<Option<Vec<File>>> {
        block_on(self.plan.lookup())
    }
}
