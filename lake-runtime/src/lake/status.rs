//! `lake status` (issue 14 item 3): the outputs that are out of date, and
//! why. An output is stale when the creator that made it is registered in
//! this program with other code (or another version): its next call will
//! run again. An output made from a stale one, at any depth, is stale too:
//! its inputs will change when the upstream step runs again.
//!
//! Only the program's own creators can be compared, so the plain `lake`
//! binary sees none; a pipeline's binary that calls
//! [`crate::cli::main`] (or this function) sees its own.

use std::collections::{BTreeMap, VecDeque};

use lake_core::Name;
use serde::Serialize;

use crate::blocking::block_on;
use crate::{Lake, Result};

/// One out-of-date output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusEntry {
    /// The output.
    pub name: Name,
    /// Why it is out of date: its creator's code changed, or an upstream
    /// output is stale.
    pub reason: String,
    /// For an output stale through its inputs: the stale output upstream
    /// that it was made from (directly or not).
    pub upstream: Option<Name>,
}

impl Lake {
    /// Every stale output of this lake: made by code that differs from the
    /// creators registered in this program, or made from such an output.
    /// Reads the index (refreshed if it is old), never the store's content.
    pub async fn status_async(&self) -> Result<Vec<StatusEntry>> {
        let stale = self.stale_outputs_async().await?;
        let mut found: BTreeMap<Name, StatusEntry> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for output in stale {
            queue.push_back((output.name.clone(), output.name.clone()));
            found.insert(
                output.name.clone(),
                StatusEntry {
                    name: output.name,
                    reason: format!("{}: {}", output.creator, output.reason),
                    upstream: None,
                },
            );
        }
        while let Some((name, root)) = queue.pop_front() {
            for below in self.index().made_from(&name)? {
                if found.contains_key(&below) {
                    continue;
                }
                queue.push_back((below.clone(), root.clone()));
                found.insert(
                    below.clone(),
                    StatusEntry {
                        name: below,
                        reason: format!("made from {name}, which is stale"),
                        upstream: Some(root.clone()),
                    },
                );
            }
        }
        Ok(found.into_values().collect())
    }

    /// Blocking [`Lake::status_async`].
    pub fn status(&self) -> Result<Vec<StatusEntry>> {
        block_on(self.status_async())
    }
}
