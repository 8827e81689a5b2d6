//! A probe of what a store's conditional writes guarantee under
//! concurrency, for `lake doctor` and `scripts/probe-conditionals`.
//!
//! lake relies on two of them: a conditional create (`PutMode::Create`,
//! S3's `If-None-Match: *`) that exactly one of many racing writers wins,
//! and a compare-and-swap (`PutMode::Update`, S3's `If-Match`) that never
//! loses an update. Emulators differ; some check the condition and then
//! write, so racing writers all pass the check. [`probe_conditionals`]
//! races writers against both below a fresh `lake-probe/` prefix, deletes
//! what it wrote, and says what held. No violation in N rounds is evidence,
//! not proof: a race lost once in a thousand rounds needs many rounds to
//! show. See `docs/design/0003-test-servers.md`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::join_all;
use lake_core::{PutMode, Store, StoreError, StoreExt, StorePath};
use tokio::sync::Barrier;

/// How hard [`probe_conditionals`] races.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Racing writers (at least 2).
    pub writers: usize,
    /// Rounds of racing creates.
    pub create_rounds: usize,
    /// Rounds of compare-and-swap increments.
    pub cas_rounds: usize,
    /// Increments per writer per round.
    pub increments: usize,
    /// Body size of each racing create, in bytes.
    pub size: usize,
}

impl Default for ProbeOptions {
    /// The thorough probe of `scripts/probe-conditionals`.
    fn default() -> Self {
        Self {
            writers: 8,
            create_rounds: 50,
            cas_rounds: 10,
            increments: 10,
            size: 256 * 1024,
        }
    }
}

impl ProbeOptions {
    /// A quick probe (seconds on a real bucket), as `lake doctor` runs it.
    pub fn quick() -> Self {
        Self {
            writers: 8,
            create_rounds: 10,
            cas_rounds: 3,
            increments: 5,
            size: 4096,
        }
    }
}

/// What one kind of conditional write did under the race.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No race was lost in all these rounds (evidence, not proof).
    Atomic {
        /// Rounds raced.
        rounds: usize,
    },
    /// Racing writers passed the check together: the store checks, then
    /// writes.
    CheckThenWrite {
        /// Rounds in which that happened.
        lost: usize,
        /// Rounds raced.
        rounds: usize,
    },
    /// Rounds ended in a state no kind of conditional write explains.
    Broken {
        /// How many.
        rounds: usize,
    },
    /// A lone write against a stale condition was accepted.
    Ignored,
    /// No race was lost, but requests failed.
    Inconclusive {
        /// Failed requests.
        errors: usize,
    },
    /// The probe met an error before it could race.
    Unknown,
}

impl Verdict {
    fn of(
        sequential: Option<bool>,
        broken: usize,
        lost: usize,
        errors: usize,
        rounds: usize,
    ) -> Self {
        match sequential {
            None => Self::Unknown,
            Some(false) => Self::Ignored,
            Some(true) if broken > 0 => Self::Broken { rounds: broken },
            Some(true) if lost > 0 => Self::CheckThenWrite { lost, rounds },
            Some(true) if errors > 0 => Self::Inconclusive { errors },
            Some(true) => Self::Atomic { rounds },
        }
    }

    /// True for [`Verdict::Atomic`].
    pub fn is_atomic(&self) -> bool {
        matches!(self, Self::Atomic { .. })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown: the probe met an error (see other errors)"),
            Self::Ignored => f.write_str("ignored: the condition is not enforced at all"),
            Self::Broken { rounds } => {
                write!(
                    f,
                    "broken: {rounds} rounds ended in a state no winner explains"
                )
            }
            Self::CheckThenWrite { lost, rounds } => write!(
                f,
                "check-then-write: racing writers passed the check together in {lost} of {rounds} rounds"
            ),
            Self::Inconclusive { errors } => {
                write!(
                    f,
                    "inconclusive: no race lost, but {errors} requests failed"
                )
            }
            Self::Atomic { rounds } => {
                write!(f, "atomic in all {rounds} rounds (evidence, not proof)")
            }
        }
    }
}

/// What [`probe_conditionals`] found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// The prefix it wrote below (and deleted).
    pub root: String,
    /// The conditional create.
    pub create: CreateProbe,
    /// How long the creates took.
    pub create_time: Duration,
    /// The compare-and-swap.
    pub cas: CasProbe,
    /// How long the compare-and-swap rounds took.
    pub cas_time: Duration,
    /// Objects deleted afterwards, or why they could not be.
    pub cleaned: Result<usize, String>,
}

impl ProbeReport {
    /// What the conditional create guarantees.
    pub fn create_verdict(&self) -> Verdict {
        let c = &self.create;
        Verdict::of(
            c.sequential_refused,
            c.torn + c.loser_visible + c.none_won,
            c.several_won,
            c.other_errors,
            c.rounds,
        )
    }

    /// What the compare-and-swap guarantees.
    pub fn cas_verdict(&self) -> Verdict {
        let c = &self.cas;
        Verdict::of(
            c.stale_refused,
            c.torn,
            c.rounds_losing,
            c.other_errors,
            c.rounds,
        )
    }
}

/// Races `options.writers` writers against `store`'s conditional create and
/// compare-and-swap, below a fresh `lake-probe/<pid>-<time>/` prefix, then
/// deletes everything it wrote.
pub async fn probe_conditionals(store: Arc<dyn Store>, options: &ProbeOptions) -> ProbeReport {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let root = format!("lake-probe/{}-{nanos:x}", std::process::id());
    let options = ProbeOptions {
        writers: options.writers.max(2),
        ..*options
    };
    let started = Instant::now();
    let create = probe_create(store.clone(), &root, &options).await;
    let create_time = started.elapsed();
    let started = Instant::now();
    let cas = probe_cas(store.clone(), &root, &options).await;
    let cas_time = started.elapsed();
    let cleaned = clean_up(&*store, &root).await.map_err(|e| e.to_string());
    ProbeReport {
        root,
        create,
        create_time,
        cas,
        cas_time,
        cleaned,
    }
}

fn key(raw: &str) -> StorePath {
    StorePath::parse(raw).unwrap_or_else(|e| panic!("bad probe key {raw:?}: {e}"))
}

/// The body writer `i` races with: distinct per writer in every byte, so a
/// mix of two bodies is never mistaken for one.
fn body(i: usize, size: usize) -> Bytes {
    let header = format!("writer {i}\n");
    let mut bytes = header.into_bytes();
    bytes.resize(size.max(bytes.len()), b'a' + (i % 26) as u8);
    Bytes::from(bytes)
}

/// What the race of conditional creates showed.
#[derive(Debug, Clone, Default)]
pub struct CreateProbe {
    /// Rounds raced.
    pub rounds: usize,
    /// Rounds in which more than one writer was told it won.
    pub several_won: usize,
    /// The most writers told they won in one round.
    pub max_winners: usize,
    /// Rounds in which nobody won.
    pub none_won: usize,
    /// Rounds whose object was no writer's whole body.
    pub torn: usize,
    /// Rounds whose object was the body of a writer told it lost.
    pub loser_visible: usize,
    /// The first answer that was neither success nor `AlreadyExists`.
    pub other_error: Option<String>,
    /// How many such answers.
    pub other_errors: usize,
    /// A second, sequential create of an existing key was refused and
    /// changed nothing.
    pub sequential_refused: Option<bool>,
}

async fn probe_create(store: Arc<dyn Store>, root: &str, args: &ProbeOptions) -> CreateProbe {
    let mut tally = CreateProbe::default();

    let path = key(&format!("{root}/create-sequential"));
    let first = store
        .put(&path, Bytes::from_static(b"first"), PutMode::Create)
        .await;
    let second = store
        .put(&path, Bytes::from_static(b"second"), PutMode::Create)
        .await;
    let content = store.read_all(&path).await.map(Vec::from);
    tally.sequential_refused = match (&first, &second, &content) {
        (Ok(_), Err(e), Ok(c)) if e.is_already_exists() => Some(c == b"first"),
        (Ok(_), Ok(_), _) => Some(false),
        _ => {
            let e = [first.err(), second.err(), content.err()]
                .into_iter()
                .flatten()
                .next();
            tally.other_error = e.map(|e| e.to_string());
            None
        }
    };

    for round in 0..args.create_rounds {
        let path = key(&format!("{root}/create-{round}"));
        let barrier = Arc::new(Barrier::new(args.writers));
        let tasks: Vec<_> = (0..args.writers)
            .map(|i| {
                let (store, path, barrier) = (store.clone(), path.clone(), barrier.clone());
                let bytes = body(i, args.size);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.put(&path, bytes, PutMode::Create).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for (i, task) in join_all(tasks).await.into_iter().enumerate() {
            match task.expect("a writer panicked") {
                Ok(_) => winners.push(i),
                Err(e) if e.is_already_exists() => losers.push(i),
                Err(e) => {
                    tally.other_errors += 1;
                    tally.other_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        tally.rounds += 1;
        tally.max_winners = tally.max_winners.max(winners.len());
        if winners.len() > 1 {
            tally.several_won += 1;
        }
        if winners.is_empty() {
            tally.none_won += 1;
        }
        match store.read_all(&path).await.map(Vec::from) {
            Ok(content) => {
                let whose = (0..args.writers).find(|&i| content == body(i, args.size));
                match whose {
                    None => tally.torn += 1,
                    Some(i) if losers.contains(&i) => tally.loser_visible += 1,
                    Some(_) => {}
                }
            }
            Err(e) => {
                tally.other_errors += 1;
                tally.other_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    tally
}

/// What the race of compare-and-swap increments showed.
#[derive(Debug, Clone, Default)]
pub struct CasProbe {
    /// Rounds raced.
    pub rounds: usize,
    /// Increments that were told they succeeded.
    pub acknowledged: u64,
    /// Acknowledged increments missing from the final counters.
    pub lost: u64,
    /// Rounds that lost at least one.
    pub rounds_losing: usize,
    /// Refused attempts (`Precondition`), retried.
    pub refused: u64,
    /// Rounds whose counter was not a number.
    pub torn: usize,
    /// The first answer that was neither success nor `Precondition`.
    pub other_error: Option<String>,
    /// How many such answers.
    pub other_errors: usize,
    /// An update with a stale version was refused and changed nothing.
    pub stale_refused: Option<bool>,
}

async fn probe_cas(store: Arc<dyn Store>, root: &str, args: &ProbeOptions) -> CasProbe {
    let mut tally = CasProbe::default();

    let path = key(&format!("{root}/cas-sequential"));
    let stale = async {
        let v1 = store
            .put(&path, Bytes::from_static(b"old"), PutMode::Create)
            .await?;
        store
            .put(
                &path,
                Bytes::from_static(b"new"),
                PutMode::Update(v1.clone()),
            )
            .await?;
        let late = store
            .put(&path, Bytes::from_static(b"lost"), PutMode::Update(v1))
            .await;
        Ok::<_, StoreError>((late, store.read_all(&path).await.map(Vec::from)?))
    };
    tally.stale_refused = match stale.await {
        Ok((Err(StoreError::Precondition { .. }), content)) => Some(content == b"new"),
        Ok((Ok(_), _)) => Some(false),
        Ok((Err(e), _)) | Err(e) => {
            tally.other_error = Some(e.to_string());
            None
        }
    };

    for round in 0..args.cas_rounds {
        let path = key(&format!("{root}/cas-{round}"));
        if let Err(e) = store
            .put(&path, Bytes::from_static(b"0"), PutMode::Create)
            .await
        {
            tally.other_errors += 1;
            tally.other_error.get_or_insert_with(|| e.to_string());
            continue;
        }
        let barrier = Arc::new(Barrier::new(args.writers));
        let tasks: Vec<_> = (0..args.writers)
            .map(|_| {
                let (store, path, barrier) = (store.clone(), path.clone(), barrier.clone());
                let increments = args.increments;
                tokio::spawn(async move {
                    barrier.wait().await;
                    let (mut done, mut refused) = (0u64, 0u64);
                    for _ in 0..increments {
                        loop {
                            let attempt = async {
                                let got = store.get(&path).await?;
                                let version = got.meta.version.clone();
                                let bytes = got.into_bytes().await?;
                                let n: u64 = String::from_utf8_lossy(&bytes).parse().unwrap_or(0);
                                let next = Bytes::from((n + 1).to_string());
                                store.put(&path, next, PutMode::Update(version)).await
                            };
                            match attempt.await {
                                Ok(_) => break,
                                Err(StoreError::Precondition { .. }) => refused += 1,
                                // Stop this writer; what it did still counts.
                                Err(e) => return (done, refused, Some(e)),
                            }
                        }
                        done += 1;
                    }
                    (done, refused, None)
                })
            })
            .collect();
        let mut acknowledged = 0;
        for task in join_all(tasks).await {
            let (done, refused, error) = task.expect("a writer panicked");
            acknowledged += done;
            tally.refused += refused;
            if let Some(e) = error {
                tally.other_errors += 1;
                tally.other_error.get_or_insert_with(|| e.to_string());
            }
        }
        tally.rounds += 1;
        tally.acknowledged += acknowledged;
        match store.read_all(&path).await.map(Vec::from) {
            Ok(content) => match String::from_utf8_lossy(&content).parse::<u64>() {
                Ok(n) => {
                    let lost = acknowledged.saturating_sub(n);
                    tally.lost += lost;
                    if lost > 0 {
                        tally.rounds_losing += 1;
                    }
                }
                Err(_) => tally.torn += 1,
            },
            Err(e) => {
                tally.other_errors += 1;
                tally.other_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    tally
}

/// Deletes everything below `root`.
async fn clean_up(store: &dyn Store, root: &str) -> Result<usize, StoreError> {
    let objects = store.list_all(&key(root), 1000).await?;
    for meta in &objects {
        store.delete(&meta.path).await?;
    }
    Ok(objects.len())
}
