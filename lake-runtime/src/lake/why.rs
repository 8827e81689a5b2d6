//! `lake why`: why a step ran, told by comparing its run with the nearest
//! earlier run of the same creator that this home's index knows.

use chrono::{DateTime, Utc};
use lake_core::{Lineage, Name, RunLineage};
use serde::Serialize;

use crate::blocking::block_on;
use crate::{Error, Lake, Result};

/// Why the run that made a file happened; see [`Lake::why`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunExplanation {
    /// The file asked about.
    pub name: Name,
    /// The creator's path.
    pub creator: String,
    /// The key of the run that made it, hex.
    pub run_key: String,
    /// When that run started.
    pub started_at: DateTime<Utc>,
    /// The nearest earlier run of the same creator, if this home knows one.
    pub previous: Option<EarlierRun>,
    /// What differs from `previous` to this run, one phrase per key
    /// component (`argument x differs (was 1, now 2)`, `code identity
    /// differs (…): fn helper changed`). Empty without `previous`.
    pub differences: Vec<String>,
}

/// A run of the same creator before the one explained.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EarlierRun {
    /// Its first output.
    pub name: Name,
    /// Its key, hex.
    pub run_key: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

impl Lake {
    /// Why the run that made `name` happened: it is compared with the
    /// latest earlier run of the same creator in this home's index (the
    /// store is not scanned), naming each key component that differs.
    ///
    /// # Errors
    /// [`Error::NotMadeByRun`] if `name` was added rather than made by a
    /// creator; [`Error::NotFound`] if there is no such name.
    ///
    /// # Example
    /// ```
    /// use std::io::Write;
    /// use lake_runtime::{File, Lake, file_creator};
    ///
    /// #[file_creator]
    /// fn repeat(text: &File, times: usize) -> lake_runtime::Result<File> {
    ///     let mut out = File::create_output()?;
    ///     out.write_all(text.read_to_string()?.repeat(times).as_bytes())?;
    ///     out.commit()
    /// }
    ///
    /// let lake = Lake::temporary()?;
    /// let mut w = lake.create("raw/a.txt")?;
    /// w.write_all(b"a")?;
    /// let a = w.commit()?;
    /// repeat(&a, 2)?;
    /// let three = repeat(&a, 3)?;
    /// let why = lake.why(three.name())?;
    /// assert_eq!(why.differences, ["argument times differs (was 2, now 3)"]);
    /// # Ok::<(), lake_runtime::Error>(())
    /// ```
    pub fn why(&self, name: &Name) -> Result<RunExplanation> {
        block_on(self.why_async(name))
    }

    /// [`Lake::why`], async.
    pub async fn why_async(&self, name: &Name) -> Result<RunExplanation> {
        let record = self.record_async(name).await?;
        let Lineage::Created(run) = &record.lineage else {
            return Err(Error::NotMadeByRun { name: name.clone() });
        };
        if self.index_is_stale()? {
            self.refresh_async().await?;
        }
        let previous = self
            .index()
            .records()?
            .into_iter()
            .filter_map(|other| match other.lineage {
                Lineage::Created(earlier) => Some((other.name, earlier)),
                _ => None,
            })
            .filter(|(_, earlier)| {
                earlier.creator == run.creator
                    && earlier.run_key != run.run_key
                    && earlier.started_at <= run.started_at
            })
            .max_by_key(|(_, earlier)| (earlier.started_at, earlier.output_index == 0));
        Ok(explain(&record.name, run, previous))
    }
}

fn explain(
    name: &Name,
    run: &RunLineage,
    previous: Option<(Name, Box<RunLineage>)>,
) -> RunExplanation {
    let differences = previous
        .as_ref()
        .map(|(_, earlier)| crate::run::run_differences(earlier, run))
        .unwrap_or_default();
    RunExplanation {
        name: name.clone(),
        creator: run.creator.clone(),
        run_key: run.run_key.clone(),
        started_at: run.started_at,
        previous: previous.map(|(name, earlier)| EarlierRun {
            name: earlier.outputs.first().cloned().unwrap_or(name),
            run_key: earlier.run_key,
            started_at: earlier.started_at,
        }),
        differences,
    }
}
