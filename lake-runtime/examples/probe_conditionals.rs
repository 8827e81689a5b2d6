//! Measures what a store's conditional writes guarantee under concurrency.
//!
//! lake relies on two of them: a conditional create (`PutMode::Create`,
//! S3's `If-None-Match: *`) that exactly one of many racing writers wins,
//! and a compare-and-swap (`PutMode::Update`, S3's `If-Match`) that never
//! loses an update. Emulators differ; some check the condition and then
//! write, so racing writers all pass the check. This probe opens any store
//! lake can open (same URLs and options as `lake`), races writers against
//! both, and prints what held. See `docs/design/0003-test-servers.md`.
//!
//! ```text
//! cargo run -p lake-runtime --example probe_conditionals -- URL [KEY=VALUE ...] [FLAGS]
//!   --server NAME       URL and options from LAKE_TEST_<NAME>_URL/_OPTS (scripts/servers)
//!   --writers N         racing writers (8)
//!   --create-rounds N   rounds of racing creates (50)
//!   --cas-rounds N      rounds of compare-and-swap increments (10)
//!   --increments N      increments per writer per round (10)
//!   --size BYTES        body of each racing create (262144)
//! ```
//!
//! Everything is written below a fresh `lake-probe/<pid>-<time>/` prefix of
//! the URL and deleted at the end. The exit status is 0 when no violation
//! was seen, 1 when one was, and 2 when the probe could not run. No
//! violation in N rounds is evidence, not proof: a race that is lost once
//! in a thousand rounds needs many rounds to show.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::join_all;
use lake_core::{PutMode, Store, StoreError, StoreExt, StorePath};
use lake_runtime::store::{StoreOptions, open_store_with};
use tokio::sync::Barrier;

struct Args {
    url: String,
    options: StoreOptions,
    writers: usize,
    create_rounds: usize,
    cas_rounds: usize,
    increments: usize,
    size: usize,
}

fn usage() -> &'static str {
    "usage: probe_conditionals URL [KEY=VALUE ...] [--server NAME] [--writers N] \
     [--create-rounds N] [--cas-rounds N] [--increments N] [--size BYTES]"
}

fn parse_args() -> Result<Args, String> {
    let mut url = None;
    let mut pairs = Vec::new();
    let mut server = None;
    let mut args = Args {
        url: String::new(),
        options: StoreOptions::new(),
        writers: 8,
        create_rounds: 50,
        cas_rounds: 10,
        increments: 10,
        size: 256 * 1024,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |flag: &str| -> Result<usize, String> {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match value.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{flag}: expected a positive number, got {value:?}")),
            }
        };
        match arg.as_str() {
            "-h" | "--help" => return Err(usage().to_owned()),
            "--writers" => args.writers = number("--writers")?,
            "--create-rounds" => args.create_rounds = number("--create-rounds")?,
            "--cas-rounds" => args.cas_rounds = number("--cas-rounds")?,
            "--increments" => args.increments = number("--increments")?,
            "--size" => args.size = number("--size")?,
            "--server" => server = Some(it.next().ok_or("--server needs a name")?),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag:?}")),
            pair if pair.contains('=') && url.is_some() => pairs.push(pair.to_owned()),
            other if url.is_none() => url = Some(other.to_owned()),
            other => return Err(format!("expected key=value, got {other:?}")),
        }
    }
    if args.writers < 2 {
        return Err(format!(
            "--writers: a race needs 2 or more, got {}",
            args.writers
        ));
    }
    if let Some(name) = server {
        // The test servers' contract (scripts/servers): comma-separated
        // key=value options, and nothing from the shell's AWS_* and co.
        let name = name.to_ascii_uppercase();
        let url_var = format!("LAKE_TEST_{name}_URL");
        let opts_var = format!("LAKE_TEST_{name}_OPTS");
        url =
            Some(std::env::var(&url_var).map_err(|_| {
                format!("{url_var} is unset; source target/test-servers/env.sh first")
            })?);
        args.options = args.options.without_env();
        let raw = std::env::var(&opts_var).unwrap_or_default();
        pairs.extend(
            raw.split(',')
                .filter(|p| !p.trim().is_empty())
                .map(str::to_owned),
        );
    }
    args.url = url.ok_or_else(|| usage().to_owned())?;
    for pair in pairs {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, got {:?}", pair.split(':').next()))?;
        args.options = args.options.with(k.trim(), v.trim());
    }
    Ok(args)
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

#[derive(Default)]
struct CreateTally {
    rounds: usize,
    /// Rounds in which more than one writer was told it won.
    several_won: usize,
    max_winners: usize,
    /// Rounds in which nobody won.
    none_won: usize,
    /// Rounds whose object was no writer's whole body.
    torn: usize,
    /// Rounds whose object was the body of a writer told it lost.
    loser_visible: usize,
    /// The first answer that was neither success nor `AlreadyExists`.
    other_error: Option<String>,
    other_errors: usize,
    /// A second, sequential create of an existing key was refused and
    /// changed nothing.
    sequential_refused: Option<bool>,
}

async fn probe_create(store: Arc<dyn Store>, root: &str, args: &Args) -> CreateTally {
    let mut tally = CreateTally::default();

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

#[derive(Default)]
struct CasTally {
    rounds: usize,
    /// Increments that were told they succeeded.
    acknowledged: u64,
    /// Acknowledged increments missing from the final counters.
    lost: u64,
    /// Rounds that lost at least one.
    rounds_losing: usize,
    /// Refused attempts (`Precondition`), retried.
    refused: u64,
    /// Rounds whose counter was not a number.
    torn: usize,
    other_error: Option<String>,
    other_errors: usize,
    /// An update with a stale version was refused and changed nothing.
    stale_refused: Option<bool>,
}

async fn probe_cas(store: Arc<dyn Store>, root: &str, args: &Args) -> CasTally {
    let mut tally = CasTally::default();

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

/// One line on what held: `sequential` is whether a lone write against a
/// stale condition was refused, `broken` counts rounds that no kind of
/// conditional write explains (a torn object, a loser's body, no winner),
/// `lost` rounds that a check-then-write explains.
fn verdict(
    sequential: Option<bool>,
    broken: usize,
    lost: usize,
    errors: usize,
    rounds: usize,
) -> String {
    match sequential {
        None => "unknown: the probe met an error (see other errors)".to_owned(),
        Some(false) => "ignored: the condition is not enforced at all".to_owned(),
        Some(true) if broken > 0 => {
            format!("broken: {broken} rounds ended in a state no winner explains")
        }
        Some(true) if lost > 0 => {
            format!(
                "check-then-write: racing writers passed the check together in {lost} of {rounds} rounds"
            )
        }
        Some(true) if errors > 0 => {
            format!("inconclusive: no race lost, but {errors} requests failed")
        }
        Some(true) => format!("atomic in all {rounds} rounds (evidence, not proof)"),
    }
}

fn yes_no(held: Option<bool>) -> &'static str {
    match held {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown (error)",
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("probe_conditionals: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match open_store_with(&args.url, &args.options) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("probe_conditionals: {e}");
            return ExitCode::from(2);
        }
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let root = format!("lake-probe/{}-{nanos:x}", std::process::id());
    println!(
        "probe of {store} below {root}/: {} writers, {} create rounds of {} bytes, \
         {} compare-and-swap rounds of {} increments each",
        args.writers, args.create_rounds, args.size, args.cas_rounds, args.increments
    );

    let started = Instant::now();
    let create = probe_create(store.clone(), &root, &args).await;
    let create_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let cas = probe_cas(store.clone(), &root, &args).await;
    let cas_secs = started.elapsed().as_secs_f64();

    let create_verdict = verdict(
        create.sequential_refused,
        create.torn + create.loser_visible + create.none_won,
        create.several_won,
        create.other_errors,
        create.rounds,
    );
    let cas_verdict = verdict(
        cas.stale_refused,
        cas.torn,
        cas.rounds_losing,
        cas.other_errors,
        cas.rounds,
    );
    let atomic = create_verdict.starts_with("atomic") && cas_verdict.starts_with("atomic");

    println!();
    println!("conditional create (PutMode::Create, If-None-Match: *), {create_secs:.1} s");
    println!(
        "  a second create is refused, content kept   {}",
        yes_no(create.sequential_refused)
    );
    println!(
        "  rounds with more than one winner           {} of {} (most winners in one round: {})",
        create.several_won, create.rounds, create.max_winners
    );
    println!(
        "  rounds with no winner                      {}",
        create.none_won
    );
    println!(
        "  rounds ending with a loser's body          {}",
        create.loser_visible
    );
    println!(
        "  rounds ending with no writer's whole body  {}",
        create.torn
    );
    println!(
        "  other errors                               {}{}",
        create.other_errors,
        create
            .other_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!("  verdict: {create_verdict}");

    println!();
    println!("compare-and-swap (PutMode::Update, If-Match), {cas_secs:.1} s");
    println!(
        "  an update with a stale version is refused  {}",
        yes_no(cas.stale_refused)
    );
    println!(
        "  acknowledged increments lost               {} of {} (in {} of {} rounds)",
        cas.lost, cas.acknowledged, cas.rounds_losing, cas.rounds
    );
    println!(
        "  refused attempts, retried                  {}",
        cas.refused
    );
    println!("  rounds ending with a torn counter          {}", cas.torn);
    println!(
        "  other errors                               {}{}",
        cas.other_errors,
        cas.other_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    );
    println!("  verdict: {cas_verdict}");

    match clean_up(&*store, &root).await {
        Ok(n) => println!("\ndeleted the probe's {n} objects"),
        Err(e) => eprintln!("probe_conditionals: cleaning up {root}: {e}"),
    }
    if atomic {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
