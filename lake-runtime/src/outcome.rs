//! What each creator call did: hit (and from where) or ran (and why).
//!
//! A lake that tracks outcomes ([`Lake::track_outcomes`]; every
//! [`TempLake`](crate::test::TempLake) does) keeps a log of its calls and
//! per-creator counts, so that tests can ask "was this a hit?" without
//! planting counters in step bodies. A lake that does not track records
//! nothing: the warm hit path then pays one relaxed atomic load.
//!
//! Forced runs ([`Lake::force`], `LAKE_FORCE`) live here too: they are the
//! other half of "why did this run".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use lake_core::Digest;
use lake_core::key::RunKey;

use crate::Lake;
use crate::run::CreatorInfo;

/// Entries kept for [`Lake::outcomes`] when nobody drains them; the oldest
/// go first. Counts are never dropped.
pub const OUTCOME_LOG_CAPACITY: usize = 100_000;

/// Where a hit was answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HitSource {
    /// This process had already seen the run.
    Memory,
    /// The home's index knew the run.
    Index,
    /// The store had the run manifest (or the explicit outputs).
    Store,
}

/// Why a body ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunReason {
    /// No finished run had this key.
    NoRun,
    /// Explicit outputs (`output_uid`/`output_uids`) were missing.
    OutputsMissing,
    /// The creator was forced ([`Lake::force`] or `LAKE_FORCE`).
    Forced,
}

/// What one creator call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The outputs existed; the body did not run.
    Hit(HitSource),
    /// The body ran and its outputs were committed.
    Ran(RunReason),
}

impl Outcome {
    /// True for [`Outcome::Hit`].
    pub fn is_hit(&self) -> bool {
        matches!(self, Self::Hit(_))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hit(HitSource::Memory) => f.write_str("hit (memory)"),
            Self::Hit(HitSource::Index) => f.write_str("hit (index)"),
            Self::Hit(HitSource::Store) => f.write_str("hit (store)"),
            Self::Ran(RunReason::NoRun) => f.write_str("ran (no run with this key)"),
            Self::Ran(RunReason::OutputsMissing) => f.write_str("ran (outputs missing)"),
            Self::Ran(RunReason::Forced) => f.write_str("ran (forced)"),
        }
    }
}

/// One creator call, as recorded by a tracking lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The creator's identity, e.g. `pipeline::clean`.
    pub creator: String,
    /// The creator's function name, e.g. `clean`.
    pub name: &'static str,
    /// What the call did.
    pub outcome: Outcome,
    /// The run key.
    pub key: RunKey,
    /// For a call whose key differs from the previous call of the same
    /// creator on this lake: which key components changed, e.g.
    /// ``argument `n` changed``. `None` for the first call, or when only the
    /// outcome differs.
    pub changed: Option<String>,
}

impl CallOutcome {
    /// True if `pattern` is this creator's name or identity.
    pub fn is_of(&self, pattern: &str) -> bool {
        creator_matches(pattern, &self.creator, self.name)
    }
}

impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.creator, self.outcome)?;
        if let Some(changed) = &self.changed {
            write!(f, "; {changed}")?;
        }
        Ok(())
    }
}

/// Hits and runs of one creator on one lake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Calls answered without running the body.
    pub hits: usize,
    /// Calls that ran the body.
    pub runs: usize,
}

/// What went into a call's key, by component, to explain a changed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyComponents {
    pub(crate) code: String,
    pub(crate) args: Vec<(String, Digest)>,
    pub(crate) inputs: Vec<(String, Digest)>,
}

impl KeyComponents {
    /// The components of `self` that differ from `before`, as one line.
    fn changes_since(&self, before: &KeyComponents) -> Option<String> {
        let mut changes = Vec::new();
        if self.code != before.code {
            changes.push("code identity changed".to_owned());
        }
        diff_named(&mut changes, "argument", &before.args, &self.args);
        diff_named(&mut changes, "input", &before.inputs, &self.inputs);
        (!changes.is_empty()).then(|| changes.join(", "))
    }
}

fn diff_named<N: AsRef<str> + PartialEq>(
    changes: &mut Vec<String>,
    what: &str,
    before: &[(N, Digest)],
    after: &[(N, Digest)],
) {
    for (name, digest) in after {
        match before.iter().find(|(n, _)| n == name) {
            Some((_, old)) if old == digest => {}
            Some(_) => changes.push(format!("{what} `{}` changed", name.as_ref())),
            None => changes.push(format!("{what} `{}` is new", name.as_ref())),
        }
    }
    for (name, _) in before {
        if !after.iter().any(|(n, _)| n == name) {
            changes.push(format!("{what} `{}` is gone", name.as_ref()));
        }
    }
}

fn creator_matches(pattern: &str, path: &str, name: &str) -> bool {
    pattern == "*" || pattern == path || pattern == name
}

/// The per-lake log; see the module docs.
#[derive(Debug)]
pub(crate) struct OutcomeLog {
    tracking: AtomicBool,
    /// Set once any creator is forced, so that the common case checks no lock.
    any_forced: AtomicBool,
    state: Mutex<LogState>,
}

#[derive(Debug, Default)]
struct LogState {
    next_seq: u64,
    entries: VecDeque<(u64, CallOutcome)>,
    counts: HashMap<String, OutcomeCounts>,
    last: HashMap<String, KeyComponents>,
    forced: Vec<String>,
}

impl OutcomeLog {
    /// A log that tracks nothing, with the creators named by `LAKE_FORCE`
    /// (comma-separated names or identities, or `*`) forced.
    pub(crate) fn from_env() -> Self {
        let log = Self {
            tracking: AtomicBool::new(false),
            any_forced: AtomicBool::new(false),
            state: Mutex::default(),
        };
        if let Ok(list) = std::env::var("LAKE_FORCE") {
            for creator in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                log.force(creator);
            }
        }
        log
    }

    fn state(&self) -> MutexGuard<'_, LogState> {
        // Plain data, consistent after any panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    pub(crate) fn set_tracking(&self, on: bool) {
        self.tracking.store(on, Ordering::Relaxed);
    }

    pub(crate) fn force(&self, creator: &str) {
        self.state().forced.push(creator.to_owned());
        self.any_forced.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_forced(&self, info: &CreatorInfo) -> bool {
        self.any_forced.load(Ordering::Relaxed)
            && self
                .state()
                .forced
                .iter()
                .any(|p| creator_matches(p, &info.path(), info.name))
    }

    pub(crate) fn record(
        &self,
        info: &CreatorInfo,
        outcome: Outcome,
        key: RunKey,
        components: KeyComponents,
    ) {
        let creator = info.path();
        let mut state = self.state();
        let changed = state
            .last
            .get(&creator)
            .and_then(|before| components.changes_since(before));
        state.last.insert(creator.clone(), components);
        let counts = state.counts.entry(creator.clone()).or_default();
        match outcome {
            Outcome::Hit(_) => counts.hits += 1,
            Outcome::Ran(_) => counts.runs += 1,
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        if state.entries.len() == OUTCOME_LOG_CAPACITY {
            state.entries.pop_front();
        }
        state.entries.push_back((
            seq,
            CallOutcome {
                creator,
                name: info.name,
                outcome,
                key,
                changed,
            },
        ));
    }

    /// The sequence number the next outcome will get.
    pub(crate) fn mark(&self) -> u64 {
        self.state().next_seq
    }

    /// The outcomes recorded since `mark`, left in the log.
    pub(crate) fn since(&self, mark: u64) -> Vec<CallOutcome> {
        self.state()
            .entries
            .iter()
            .filter(|(seq, _)| *seq >= mark)
            .map(|(_, o)| o.clone())
            .collect()
    }

    fn drain(&self) -> Vec<CallOutcome> {
        self.state().entries.drain(..).map(|(_, o)| o).collect()
    }

    fn counts(&self) -> BTreeMap<String, OutcomeCounts> {
        self.state()
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }
}

impl Lake {
    /// Starts or stops recording what each creator call on this lake did.
    ///
    /// Off by default, so a production pipeline keeps no log;
    /// [`Lake::temporary`] turns it on.
    pub fn track_outcomes(&self, on: bool) {
        self.outcome_log().set_tracking(on);
    }

    /// The outcomes recorded since the last call, oldest first, removed
    /// from the log (at most [`OUTCOME_LOG_CAPACITY`] are kept).
    ///
    /// # Example
    /// ```
    /// use lake_runtime::{File, Lake, file_creator};
    /// use lake_runtime::test::{HitSource, Outcome, RunReason};
    ///
    /// #[file_creator]
    /// fn greet(name: String) -> File {
    ///     let mut out = File::create_output().unwrap();
    ///     std::io::Write::write_all(&mut out, format!("hello {name}").as_bytes()).unwrap();
    ///     out.commit().unwrap()
    /// }
    ///
    /// let lake = Lake::temporary()?;
    /// greet("ada".into());
    /// greet("ada".into());
    /// let outcomes: Vec<Outcome> = lake.outcomes().iter().map(|o| o.outcome).collect();
    /// assert_eq!(outcomes, [Outcome::Ran(RunReason::NoRun), Outcome::Hit(HitSource::Memory)]);
    /// assert_eq!(lake.outcome_counts_of("greet").hits, 1);
    /// # Ok::<(), lake_runtime::Error>(())
    /// ```
    pub fn outcomes(&self) -> Vec<CallOutcome> {
        self.outcome_log().drain()
    }

    /// Hits and runs per creator identity since tracking started.
    pub fn outcome_counts(&self) -> BTreeMap<String, OutcomeCounts> {
        self.outcome_log().counts()
    }

    /// Hits and runs of the creators matching `creator` (a name, an
    /// identity, or `*`), added up.
    pub fn outcome_counts_of(&self, creator: &str) -> OutcomeCounts {
        let state = self.outcome_log().state();
        let mut total = OutcomeCounts::default();
        for (path, counts) in &state.counts {
            let name = path.rsplit("::").next().unwrap_or(path);
            if creator_matches(creator, path, name) {
                total.hits += counts.hits;
                total.runs += counts.runs;
            }
        }
        total
    }

    /// Makes every later call of `creator` (its name, its identity, or `*`
    /// for all) on this lake run its body instead of hitting. For debugging
    /// a step: a forced run replaces nothing other homes trust, since its
    /// outputs keep their names; if its bytes differ from the committed
    /// ones, the call fails naming the output. `LAKE_FORCE=clean,report`
    /// does the same for every lake the process opens.
    pub fn force(&self, creator: &str) {
        self.outcome_log().force(creator);
    }

    /// Runs `f` and checks that exactly the creators in `expected` (names or
    /// identities, each once per expected run, in any order) ran their body
    /// on this lake meanwhile; every other call must have been a hit.
    ///
    /// # Panics
    /// When the runs differ, naming each unexpected run with why it ran and
    /// which key component changed, and each expected run that did not
    /// happen. Tracking is turned on for the duration if it was off.
    pub fn expect_runs<R>(&self, expected: &[&str], f: impl FnOnce() -> R) -> R {
        let log = self.outcome_log();
        let was_tracking = log.is_tracking();
        log.set_tracking(true);
        let mark = log.mark();
        let value = self.scope(f);
        log.set_tracking(was_tracking);
        if let Err(message) = check_runs(expected, &log.since(mark)) {
            panic!("{message}");
        }
        value
    }
}

/// `Ok` when the runs among `outcomes` are exactly `expected`.
pub(crate) fn check_runs(expected: &[&str], outcomes: &[CallOutcome]) -> Result<(), String> {
    let mut missing: Vec<&str> = expected.to_vec();
    let mut unexpected = Vec::new();
    for outcome in outcomes.iter().filter(|o| !o.outcome.is_hit()) {
        match missing.iter().position(|p| outcome.is_of(p)) {
            Some(i) => {
                missing.remove(i);
            }
            None => unexpected.push(outcome),
        }
    }
    if missing.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    let mut message = format!("expected runs of {expected:?}");
    for outcome in unexpected {
        message.push_str(&format!("\n  unexpected: {outcome}"));
    }
    for creator in missing {
        let seen: Vec<String> = outcomes
            .iter()
            .filter(|o| o.is_of(creator))
            .map(|o| o.outcome.to_string())
            .collect();
        if seen.is_empty() {
            message.push_str(&format!("\n  did not run: {creator} (not called)"));
        } else {
            message.push_str(&format!("\n  did not run: {creator} ({})", seen.join(", ")));
        }
    }
    Err(message)
}

/// Checks that the calls since `mark` on the current lake were all hits
/// (`want_hit`) or include a run; the engine of `assert_hit!`/`assert_ran!`.
pub(crate) fn check_outcome(
    lake: &Lake,
    mark: u64,
    want_hit: bool,
    expr: &str,
) -> Result<(), String> {
    let outcomes = lake.outcome_log().since(mark);
    let Some(last) = outcomes.last() else {
        return Err(format!(
            "`{expr}` called no creator on the lake in scope ({}); was the call made on another lake?",
            lake.home_dir().display()
        ));
    };
    let ran: Vec<&CallOutcome> = outcomes.iter().filter(|o| !o.outcome.is_hit()).collect();
    match (want_hit, ran.first()) {
        (true, None) | (false, Some(_)) => Ok(()),
        (true, Some(first)) => Err(format!("`{expr}` was expected to hit, but {first}")),
        (false, None) => Err(format!(
            "`{expr}` was expected to run, but {last}{}",
            if outcomes.len() > 1 {
                " (and every other call hit)"
            } else {
                ""
            }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &'static str, outcome: Outcome, changed: Option<&str>) -> CallOutcome {
        CallOutcome {
            creator: format!("p::{name}"),
            name,
            outcome,
            key: RunKey::from_bytes([0; 32]),
            changed: changed.map(str::to_owned),
        }
    }

    #[test]
    fn changes_name_each_component() {
        let d = |b| Digest::of(&[b]);
        let before = KeyComponents {
            code: "c1".into(),
            args: vec![("n".into(), d(1)), ("gone".into(), d(2))],
            inputs: vec![("raw".into(), d(3))],
        };
        let after = KeyComponents {
            code: "c2".into(),
            args: vec![("n".into(), d(9)), ("new".into(), d(2))],
            inputs: vec![("raw".into(), d(3))],
        };
        assert_eq!(
            after.changes_since(&before).as_deref(),
            Some(
                "code identity changed, argument `n` changed, argument `new` is new, \
                 argument `gone` is gone"
            )
        );
        assert_eq!(before.changes_since(&before), None);
    }

    #[test]
    fn check_runs_names_unexpected_and_missing_runs() {
        let ran = Outcome::Ran(RunReason::NoRun);
        let hit = Outcome::Hit(HitSource::Memory);
        let log = [
            outcome("clean", ran, Some("argument `n` changed")),
            outcome("report", hit, None),
        ];
        assert_eq!(check_runs(&["clean"], &log), Ok(()));
        assert_eq!(check_runs(&["p::clean"], &log), Ok(()));
        let err = check_runs(&["report"], &log).unwrap_err();
        assert!(
            err.contains("unexpected: p::clean: ran (no run with this key); argument `n` changed"),
            "{err}"
        );
        assert!(err.contains("did not run: report (hit (memory))"), "{err}");
        let err = check_runs(&["clean", "clean", "fetch"], &log).unwrap_err();
        assert!(err.contains("did not run: clean (ran"), "{err}");
        assert!(err.contains("did not run: fetch (not called)"), "{err}");
    }
}
