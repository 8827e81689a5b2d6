//! Many creator calls at once: [`batch`] plans every call on this machine
//! (key, hit check), drops duplicates, skips what is done, and hands the
//! rest to an [`Executor`]: a local thread pool, or Slurm, where each array
//! task re-runs this program as a worker ([`worker_main`]) that reads its
//! call from the store. See docs/design/0012-batch-and-slurm.md.
//!
//! - `options`: [`BatchOptions`], [`Executor`], [`SlurmOptions`];
//! - `spec`: what the store holds for the workers;
//! - `local`, `slurm`: the executors;
//! - `worker`: the worker's side, and the entry points `#[file_creator(remote)]`
//!   registers;
//! - this file: the collection of calls and the driver.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use lake_core::Name;
use lake_core::key::RunKey;

use crate::run::{Call, CreatorInfo, CreatorReturn, Described, Outputs};
use crate::{Error, File, Lake, Result};

mod local;
mod options;
mod slurm;
mod spec;
mod worker;

pub use options::{BatchOptions, Executor, SlurmOptions};
pub use spec::BATCH_GC_MIN_AGE;
pub(crate) use spec::gc_batches;
pub use worker::{
    RemoteArgs, RemoteInput, RemoteRegistration, WORKER_FLAG, remote_block_on, worker_main,
    worker_main_with,
};

thread_local! {
    /// Set while [`Batch::call`] runs its closure: the creator call it
    /// makes is planned and recorded here instead of run.
    static COLLECTING: RefCell<Option<Collected>> = const { RefCell::new(None) };
    /// Set while a worker makes a call: the key the driver computed.
    static EXPECTED_KEY: Cell<Option<RunKey>> = const { Cell::new(None) };
}

/// What one [`Batch::call`] closure did.
enum Collected {
    Nothing,
    One(Box<Result<Described>>),
    Several,
}

/// True inside [`Batch::call`]: `run_file_creator` then hands its call to
/// [`queue`] instead of running it.
pub(crate) fn collecting() -> bool {
    COLLECTING.with(|c| c.borrow().is_some())
}

/// Plans `call` and records it for the batch, returning a stand-in for the
/// closure to return: handles on the outputs' names, derived from the key.
pub(crate) fn queue<R: CreatorReturn>(call: Call) -> R {
    let described = Described::new(call);
    let stand_in = match &described {
        Ok(d) => stand_in::<R>(d),
        Err(e) => Err(Error::BatchFailed {
            what: "could not be planned",
            failed: 1,
            of: 1,
            details: e.to_string(),
        }),
    };
    COLLECTING.with(|c| {
        let mut c = c.borrow_mut();
        *c = Some(match c.take() {
            Some(Collected::Nothing) => Collected::One(Box::new(described)),
            _ => Collected::Several,
        });
    });
    // A plain `File` return panics on an error (it has no error value);
    // `Batch::call` catches that and reports the recorded error.
    stand_in.unwrap_or_else(R::from_lake_error)
}

/// What the closure gets back while collecting: handles on the outputs'
/// names, which the key fixes before any run (an empty list for a
/// `Vec<File>` return, whose length only the run decides).
fn stand_in<R: CreatorReturn>(described: &Described) -> Result<R> {
    let files = match (
        &described.done,
        described.predicted_outputs::<R::Outputs>()?,
    ) {
        (Some(files), _) => files.clone(),
        (None, Some(names)) => handles(described.lake(), names),
        (None, None) => Vec::new(),
    };
    Ok(R::from_outputs(R::Outputs::from_files(files)?))
}

fn handles(lake: &Lake, names: Vec<Name>) -> Vec<File> {
    names
        .into_iter()
        .map(|n| File::from_parts(lake.clone(), n))
        .collect()
}

/// Each dispatched call's files, or why it failed.
type Outcome = std::result::Result<Vec<File>, String>;

/// The key a worker's call must have, read by `Call::new`.
pub(crate) fn expected_key() -> Option<RunKey> {
    EXPECTED_KEY.with(Cell::get)
}

/// Refuses a worker's call whose key is not the driver's: the arguments
/// did not survive the trip through the store unchanged.
pub(crate) fn check_key(info: &CreatorInfo, expected: RunKey, actual: RunKey) -> Result<()> {
    if expected == actual {
        return Ok(());
    }
    Err(Error::RemoteCall {
        creator: info.path(),
        message: format!(
            "the call decoded by this worker has key {}, the driver's had {}; an argument \
             does not survive the JSON round trip unchanged (a float, a map with non-string \
             keys, a custom Deserialize?), so the call is refused rather than run under \
             another key",
            actual.short(),
            expected.short()
        ),
    })
}

/// Sets [`expected_key`] for the current thread until dropped.
pub(crate) struct ExpectKey(Option<RunKey>);

impl ExpectKey {
    pub(crate) fn set(key: RunKey) -> Self {
        Self(EXPECTED_KEY.with(|k| k.replace(Some(key))))
    }
}

impl Drop for ExpectKey {
    fn drop(&mut self) {
        EXPECTED_KEY.with(|k| k.set(self.0));
    }
}

/// The calls of a batch, gathered by the closure given to [`batch`].
pub struct Batch<'a, R> {
    entries: Vec<Entry<'a, R>>,
}

struct Entry<'a, R> {
    /// Makes the call; run again by the local executor.
    run: Box<dyn Fn() -> R + Send + Sync + 'a>,
    planned: Result<Described>,
}

impl<R> fmt::Debug for Batch<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("calls", &self.entries.len())
            .finish()
    }
}

impl<'a, R: CreatorReturn> Batch<'a, R> {
    /// Adds one creator call: `b.call(|| step(&x, 3))`. The closure is run
    /// at once, but the creator's body is not: the call's key is computed
    /// and looked up, and the call is queued.
    ///
    /// The closure must make exactly one creator call; it is run again by
    /// the local executor, so it must not have other effects.
    pub fn call(&mut self, f: impl Fn() -> R + Send + Sync + 'a) {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                COLLECTING.with(|c| *c.borrow_mut() = None);
            }
        }
        COLLECTING.with(|c| *c.borrow_mut() = Some(Collected::Nothing));
        let reset = Reset;
        let outcome = catch_unwind(AssertUnwindSafe(&f));
        let collected = COLLECTING.with(|c| c.borrow_mut().take());
        drop(reset);
        let planned = match collected {
            Some(Collected::One(planned)) => *planned,
            // A panic that is not the stand-in's is the closure's own.
            _ if outcome.is_err() => resume_unwind(outcome.err().expect("checked")),
            Some(Collected::Several) => Err(Error::BatchMisuse {
                problem: "made more than one creator call; make one call per Batch::call",
            }),
            Some(Collected::Nothing) | None => Err(Error::BatchMisuse {
                problem: "made no creator call; pass the call itself, e.g. \
                          `b.call(|| step(&x, 3))`",
            }),
        };
        self.entries.push(Entry {
            run: Box::new(f),
            planned,
        });
    }

    /// Adds one call of an async creator: `b.call_async(|| fetch(&url))`.
    /// As with [`call`](Self::call), the future is driven at once but the
    /// creator's body is not run: the call is planned and queued. The local
    /// executor drives the future again to make the call, on its own
    /// threads; a Slurm worker runs the creator as it runs any remote one.
    ///
    /// Like the rest of [`batch`], this blocks, from plain threads and from
    /// inside a tokio runtime alike.
    pub fn call_async<Fut>(&mut self, f: impl Fn() -> Fut + Send + Sync + 'a)
    where
        Fut: Future<Output = R> + Send,
        R: Send,
    {
        self.call(move || block_on_collecting(f()));
    }

    /// The number of calls added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no call was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Drives `future` to its end, carrying this thread's collecting state
/// into whichever thread polls it: `block_on` polls on a helper thread when
/// called inside a tokio runtime, where [`collecting`] would otherwise be
/// false and the creator would run instead of being queued.
fn block_on_collecting<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    struct Carry<'s, F> {
        inner: Pin<Box<F>>,
        state: &'s Mutex<Option<Collected>>,
    }
    impl<F: Future> Future for Carry<'_, F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            /// Puts the state back even when the poll panics (the stand-in
            /// of a plain `File` return does), so that `Batch::call`
            /// reports the recorded error rather than the panic.
            struct Restore<'g> {
                slot: MutexGuard<'g, Option<Collected>>,
                outer: Option<Collected>,
            }
            impl Drop for Restore<'_> {
                fn drop(&mut self) {
                    *self.slot = COLLECTING.with(|c| c.replace(self.outer.take()));
                }
            }
            let state = self.state;
            let mut slot = state.lock().unwrap_or_else(PoisonError::into_inner);
            let outer = COLLECTING.with(|c| c.replace(slot.take()));
            let _restore = Restore { slot, outer };
            self.inner.as_mut().poll(cx)
        }
    }
    let state = Mutex::new(COLLECTING.with(|c| c.borrow_mut().take()));
    let output = catch_unwind(AssertUnwindSafe(|| {
        crate::blocking::block_on(Carry {
            inner: Box::pin(future),
            state: &state,
        })
    }));
    let state = state.into_inner().unwrap_or_else(PoisonError::into_inner);
    COLLECTING.with(|c| *c.borrow_mut() = state);
    output.unwrap_or_else(|panic| resume_unwind(panic))
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchReport {
    /// Calls added.
    pub calls: usize,
    /// Distinct calls (by key and explicit output names).
    pub unique: usize,
    /// Distinct calls already done before the batch: nothing ran for them.
    pub already_done: usize,
    /// Distinct calls handed to the executor.
    pub dispatched: usize,
    /// Slurm job ids submitted (none for the local executor, or when every
    /// call was done).
    pub jobs: Vec<String>,
    /// Calls submitted again after a failure.
    pub retried: usize,
}

impl fmt::Display for BatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calls, {} distinct, {} done before, {} dispatched, {} job(s) submitted",
            self.calls,
            self.unique,
            self.already_done,
            self.dispatched,
            self.jobs.len()
        )?;
        if !self.jobs.is_empty() {
            write!(f, " ({})", self.jobs.join(", "))?;
        }
        if self.retried > 0 {
            write!(f, ", {} retried", self.retried)?;
        }
        Ok(())
    }
}

/// The outputs of a batch, in the order the calls were added, and what it
/// did.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchRun<T> {
    /// Each call's outputs, in order.
    pub outputs: Vec<T>,
    /// What ran where.
    pub report: BatchReport,
}

/// Makes many creator calls at once, on the executor the environment
/// chooses ([`BatchOptions::from_env`]), and returns their outputs in
/// order.
///
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
/// # let lake = Lake::temporary()?;
/// # let mut w = lake.create("raw/a.txt")?;
/// # w.write_all(b"ab")?;
/// let text = w.commit()?;
/// let outputs: Vec<File> = lake_runtime::batch(|b| {
///     for times in 1..=3 {
///         let text = &text;
///         b.call(move || repeat(text, times));
///     }
/// })?;
/// assert_eq!(outputs[2].read_to_string()?, "ababab");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// When a call cannot be planned (a missing input, an argument that does
/// not serialize), before anything runs; when calls fail, after every
/// other call finished, naming each failure (and for Slurm, the tail of
/// its task's log).
pub fn batch<'a, R, F>(f: F) -> Result<Vec<R::Outputs>>
where
    R: CreatorReturn + Send + fmt::Debug,
    F: FnOnce(&mut Batch<'a, R>),
{
    Ok(batch_with(&BatchOptions::from_env()?, f)?.outputs)
}

/// [`batch`] with explicit options, returning what it did as well.
pub fn batch_with<'a, R, F>(options: &BatchOptions, f: F) -> Result<BatchRun<R::Outputs>>
where
    R: CreatorReturn + Send + fmt::Debug,
    F: FnOnce(&mut Batch<'a, R>),
{
    let mut batch = Batch {
        entries: Vec::new(),
    };
    f(&mut batch);
    let mut report = BatchReport {
        calls: batch.entries.len(),
        ..BatchReport::default()
    };

    // Every call is planned before anything runs: a bad call fails the
    // batch while nothing has been spent on it.
    let mut planned = Vec::with_capacity(batch.entries.len());
    let mut errors = Vec::new();
    for (i, entry) in batch.entries.iter().enumerate() {
        match &entry.planned {
            Ok(d) => planned.push(d),
            Err(e) => errors.push(format!("call {i}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(failed(
            errors.len(),
            report.calls,
            "could not be planned",
            &errors,
        ));
    }

    // One run per distinct call; `slot[i]` is call i's distinct call.
    let mut distinct: Vec<usize> = Vec::new();
    let mut seen: HashMap<(RunKey, Option<Vec<Name>>), usize> = HashMap::new();
    let mut slot = Vec::with_capacity(planned.len());
    for (i, d) in planned.iter().enumerate() {
        let id = (d.key(), d.explicit_outputs().map(<[Name]>::to_vec));
        let next = distinct.len();
        let s = *seen.entry(id).or_insert(next);
        if s == next {
            distinct.push(i);
        }
        slot.push(s);
    }
    report.unique = distinct.len();
    let pending: Vec<usize> = distinct
        .iter()
        .copied()
        .filter(|&i| planned[i].done.is_none())
        .collect();
    report.already_done = distinct.len() - pending.len();
    report.dispatched = pending.len();

    // The files of each distinct call, once it is done.
    let mut files: Vec<Option<Vec<File>>> =
        distinct.iter().map(|&i| planned[i].done.clone()).collect();
    let position = |call: usize| slot[call];
    let mut failures = Vec::new();
    if !pending.is_empty() {
        let outcomes = match options.executor {
            Executor::Local => {
                let entries: Vec<(&Entry<'a, R>, &Described)> = pending
                    .iter()
                    .map(|&i| (&batch.entries[i], planned[i]))
                    .collect();
                local::run(options.jobs, &entries)
            }
            Executor::Slurm => {
                let described: Vec<&Described> = pending.iter().map(|&i| planned[i]).collect();
                let run = slurm::run(&options.slurm, options.progress, &described)?;
                report.jobs = run.jobs;
                report.retried = run.retried;
                run.outcomes
            }
        };
        for (&i, outcome) in pending.iter().zip(outcomes) {
            match outcome {
                Ok(done) => files[position(i)] = Some(done),
                Err(message) => failures.push(format!(
                    "call {i} ({} key {}): {message}",
                    planned[i].info().path(),
                    planned[i].key().short()
                )),
            }
        }
    }
    if !failures.is_empty() {
        return Err(failed(failures.len(), report.unique, "failed", &failures));
    }
    let outputs = slot
        .iter()
        .map(|&s| {
            let files = files[s].clone().expect("every distinct call is done");
            R::Outputs::from_files(files)
        })
        .collect::<Result<Vec<_>>>()?;
    tracing::info!("batch: {report}");
    Ok(BatchRun { outputs, report })
}

/// How many failures an error lists; a batch of thousands failing for one
/// reason would otherwise bury the message under the same line repeated.
const FAILURES_LISTED: usize = 20;

fn failed(count: usize, of: usize, what: &'static str, each: &[String]) -> Error {
    let mut details = each[..each.len().min(FAILURES_LISTED)].join("\n  ");
    if each.len() > FAILURES_LISTED {
        details.push_str(&format!("\n  … and {} more", each.len() - FAILURES_LISTED));
    }
    Error::BatchFailed {
        what,
        failed: count,
        of,
        details,
    }
}
