//! The [`RunContext`] a creator's body runs in: it hands out output names
//! and collects what the body wrote. Found through a thread-local (sync
//! bodies) or a task-local (async bodies).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use lake_core::Name;
use lake_core::key::{RunKey, open_output_name, output_name};

use super::ManifestOutput;
use crate::{Error, Lake, Result};

/// The run in progress on this thread or task: hands out output names and
/// collects what the body wrote.
#[derive(Debug)]
pub(crate) struct RunContext {
    pub(crate) lake: Lake,
    pub(super) creator: String,
    pub(super) creator_name: &'static str,
    pub(super) key: RunKey,
    pub(super) arity: Option<usize>,
    pub(super) explicit: Option<Vec<Name>>,
    pub(super) issued: Mutex<usize>,
    pub(super) pending: Mutex<Vec<ManifestOutput>>,
}

impl RunContext {
    /// The name of the next implicit output.
    pub(crate) fn next_output_name(&self) -> Result<Name> {
        let index = {
            let mut issued = self.issued.lock().expect("run context poisoned");
            *issued += 1;
            *issued - 1
        };
        if let Some(names) = &self.explicit {
            return names
                .get(index)
                .cloned()
                .ok_or_else(|| Error::TooManyOutputs {
                    creator: self.creator.clone(),
                    limit: names.len(),
                    limited_by: "name(s) given in output_uid(s)",
                });
        }
        let name = match self.arity {
            Some(1) if index == 0 => output_name(self.creator_name, &self.key, None),
            Some(n) if index < n => output_name(self.creator_name, &self.key, Some((index, n))),
            Some(n) => {
                return Err(Error::TooManyOutputs {
                    creator: self.creator.clone(),
                    limit: n,
                    limited_by: "output(s) its return type holds",
                });
            }
            None => open_output_name(self.creator_name, &self.key, index),
        };
        Ok(name?)
    }

    /// Checks that the body may create `name`.
    pub(crate) fn check_explicit_name(&self, name: &Name) -> Result<()> {
        match &self.explicit {
            Some(names) if names.contains(name) => Ok(()),
            _ => Err(Error::UndeclaredOutput {
                creator: self.creator.clone(),
                name: name.clone(),
            }),
        }
    }

    /// Everything the body wrote, leaving none behind.
    pub(super) fn take_pending(&self) -> Vec<ManifestOutput> {
        std::mem::take(&mut *self.pending.lock().expect("run context poisoned"))
    }

    pub(crate) fn add_pending(&self, output: ManifestOutput) {
        self.pending
            .lock()
            .expect("run context poisoned")
            .push(output);
    }
}

thread_local! {
    static CURRENT_RUN: RefCell<Option<Arc<RunContext>>> = const { RefCell::new(None) };
}

tokio::task_local! {
    pub(super) static CURRENT_ASYNC_RUN: Arc<RunContext>;
}

/// The run the caller is inside, if any.
pub(crate) fn current_run() -> Option<Arc<RunContext>> {
    CURRENT_ASYNC_RUN
        .try_with(Arc::clone)
        .ok()
        .or_else(|| CURRENT_RUN.with(|c| c.borrow().clone()))
}

pub(super) struct RunGuard(Option<Arc<RunContext>>);

impl Drop for RunGuard {
    fn drop(&mut self) {
        CURRENT_RUN.with(|c| *c.borrow_mut() = self.0.take());
    }
}

pub(super) fn enter(context: Arc<RunContext>) -> RunGuard {
    RunGuard(CURRENT_RUN.with(|c| c.borrow_mut().replace(context)))
}
