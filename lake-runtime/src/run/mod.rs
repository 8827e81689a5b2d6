//! Runs of `#[file_creator]` functions: key, hit check, body, commit.
//!
//! The macro emits a [`Call`] that gathers the run's inputs and arguments,
//! then hands the body to [`run_file_creator`] (or the async twin). Order of
//! a miss: compute the key → look for `runs/<key>.json` → run the body with a
//! [`RunContext`] that hands out output names → upload blobs → create name
//! records → create the run manifest last. A crash anywhere before the
//! manifest leaves at most unreferenced blobs or complete name records, and
//! the next call finishes the run.
//!
//! One file per part:
//! - `creators`: what the macro knows about a creator ([`CreatorInfo`]),
//!   the registry of creators, and how a stored lineage differs from it;
//! - `io`: the traits that carry inputs, outputs and output names across
//!   the macro boundary;
//! - `manifest`: the stored run manifest;
//! - `call`: a [`Call`] gathered by generated code, its key (built in one
//!   place), and the hit answered by the home alone;
//! - `plan`: the key's lookup against the store, and refusals of explicit
//!   output names;
//! - `context`: the [`RunContext`] the body runs in;
//! - `commit`: what a finished body publishes (the protocol itself is
//!   `lake/publish.rs`);
//! - `describe`: a call planned for a batch instead of run (`batch/`);
//! - this file: the entry points the generated code calls.

use std::future::Future;
use std::ops::ControlFlow;

use chrono::Utc;

use crate::blocking::block_on;
use crate::outcome::{HitSource, Outcome, RunReason};
use crate::{File, Lake, Result};

mod call;
mod commit;
mod context;
mod creators;
mod describe;
mod differences;
mod io;
mod plan;

pub use call::Call;
use context::{CURRENT_ASYNC_RUN, enter};
pub(crate) use context::{RunContext, current_run};
pub(crate) use creators::staleness;
pub use creators::{CodeIdentityCell, CreatorInfo, Registration, StaleOutput, creators};
pub(crate) use describe::Described;
pub(crate) use differences::run_differences;
pub use io::{CreatorReturn, InputFiles, OutputName, OutputNames, Outputs};
pub use lake_core::{MANIFEST_SCHEMA_VERSION, ManifestOutput, RunManifest};
use plan::Plan;

/// A call after its key and hit check.
enum Prepared {
    /// The run is done: its outputs.
    Hit(Vec<File>),
    /// The body must run, for this reason.
    Miss(Box<Plan>, RunReason),
}

/// Computes the key and checks for a finished run (no content downloaded),
/// unless the creator is forced.
async fn prepare(call: Call, lake: Result<Lake>, forced: bool) -> Result<Prepared> {
    let mut plan = call.plan(lake).await?;
    let reason = if forced {
        plan.forced = true;
        RunReason::Forced
    } else {
        match plan.lookup().await? {
            Some(files) => {
                plan.record(Outcome::Hit(HitSource::Store));
                return Ok(Prepared::Hit(files));
            }
            None if plan.call.explicit_outputs.is_some() => RunReason::OutputsMissing,
            None => RunReason::NoRun,
        }
    };
    // The run's lineage names its inputs: a local source among them is
    // uploaded now, and only now that the body is sure to run.
    plan.lake
        .upload_local_sources(plan.call.input_files())
        .await?;
    Ok(Prepared::Miss(Box::new(plan), reason))
}

/// What the fast path shared by both entry points found.
enum Start {
    /// This home alone answered the call.
    LocalHit(Vec<File>),
    /// The store must be asked, or the call is forced (`LAKE_FORCE`,
    /// `Lake::force`) and runs anyway.
    Slow { lake: Result<Lake>, forced: bool },
}

/// The fast path shared by both entry points: the lake, whether the call
/// is forced, and a hit answered by this home alone.
fn start(call: &Call) -> Start {
    let lake = call.lake();
    let Ok(lake_ref) = &lake else {
        return Start::Slow {
            lake,
            forced: false,
        };
    };
    let log = lake_ref.outcome_log();
    let forced = log.is_forced(call.info);
    let local = if forced {
        None
    } else {
        call.local_hit(lake_ref)
    };
    let Some(local) = local else {
        return Start::Slow { lake, forced };
    };
    if log.is_tracking() {
        log.record(
            call.info,
            Outcome::Hit(local.source),
            local.key,
            call.components(&local.digests),
        );
    }
    Start::LocalHit(local.files)
}

/// The run to make, or the value to return at once: the outputs of a hit,
/// or the error that stopped the lookup.
fn run_or_return<R: CreatorReturn>(
    info: &CreatorInfo,
    prepared: Result<Prepared>,
) -> ControlFlow<R, (Box<Plan>, RunReason)> {
    match prepared {
        Ok(Prepared::Hit(files)) => ControlFlow::Break(hit(info, files)),
        Ok(Prepared::Miss(plan, reason)) => ControlFlow::Continue((plan, reason)),
        Err(e) => ControlFlow::Break(R::from_lake_error(e)),
    }
}

fn hit<R: CreatorReturn>(info: &CreatorInfo, files: Vec<File>) -> R {
    tracing::info!("skipping {}: outputs exist", info.path());
    from_files::<R>(files)
}

/// Runs a sync creator: skip on a hit, else run `body` and commit.
pub fn run_file_creator<R, F>(call: Call, body: F) -> R
where
    R: CreatorReturn,
    F: FnOnce() -> R,
{
    // Inside `batch(..)`, the call is planned and queued, not run.
    if crate::batch::collecting() {
        return crate::batch::queue::<R>(call);
    }
    let info = call.info;
    let prepared = match start(&call) {
        Start::LocalHit(files) => return hit(info, files),
        Start::Slow { lake, forced } => block_on(prepare(call, lake, forced)),
    };
    let (plan, reason) = match run_or_return(info, prepared) {
        ControlFlow::Continue(run) => run,
        ControlFlow::Break(value) => return value,
    };
    let context = plan.context(<R::Outputs as Outputs>::ARITY);
    let started_at = Utc::now();
    let result = {
        let _guard = enter(context.clone());
        body()
    };
    let ended_at = Utc::now();
    match result.into_outputs() {
        Ok(outputs) => {
            let committed =
                block_on(plan.commit(&context, outputs.into_files(), started_at, ended_at));
            if committed.is_ok() {
                plan.record(Outcome::Ran(reason));
            }
            from_commit(committed)
        }
        // The body failed: its staged outputs are dropped uncommitted.
        Err(user_error) => user_error,
    }
}

/// Runs an async creator: skip on a hit, else await `body` and commit.
pub async fn run_file_creator_async<R, Fut>(call: Call, body: Fut) -> R
where
    R: CreatorReturn,
    Fut: Future<Output = R>,
{
    if crate::batch::collecting() {
        return crate::batch::queue::<R>(call);
    }
    let info = call.info;
    let prepared = match start(&call) {
        Start::LocalHit(files) => return hit(info, files),
        Start::Slow { lake, forced } => prepare(call, lake, forced).await,
    };
    let (plan, reason) = match run_or_return(info, prepared) {
        ControlFlow::Continue(run) => run,
        ControlFlow::Break(value) => return value,
    };
    let context = plan.context(<R::Outputs as Outputs>::ARITY);
    let started_at = Utc::now();
    let result = CURRENT_ASYNC_RUN.scope(context.clone(), body).await;
    let ended_at = Utc::now();
    match result.into_outputs() {
        Ok(outputs) => {
            let committed = plan
                .commit(&context, outputs.into_files(), started_at, ended_at)
                .await;
            if committed.is_ok() {
                plan.record(Outcome::Ran(reason));
            }
            from_commit(committed)
        }
        Err(user_error) => user_error,
    }
}

fn from_commit<R: CreatorReturn>(committed: Result<Vec<File>>) -> R {
    match committed {
        Ok(files) => from_files::<R>(files),
        Err(e) => R::from_lake_error(e),
    }
}

fn from_files<R: CreatorReturn>(files: Vec<File>) -> R {
    match R::Outputs::from_files(files) {
        Ok(outputs) => R::from_outputs(outputs),
        Err(e) => R::from_lake_error(e),
    }
}
