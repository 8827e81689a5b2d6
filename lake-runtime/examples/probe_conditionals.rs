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

use lake_runtime::store::probe::{ProbeOptions, probe_conditionals};
use lake_runtime::store::{StoreOptions, open_store_with};

struct Args {
    url: String,
    options: StoreOptions,
    probe: ProbeOptions,
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
        probe: ProbeOptions::default(),
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
            "--writers" => args.probe.writers = number("--writers")?,
            "--create-rounds" => args.probe.create_rounds = number("--create-rounds")?,
            "--cas-rounds" => args.probe.cas_rounds = number("--cas-rounds")?,
            "--increments" => args.probe.increments = number("--increments")?,
            "--size" => args.probe.size = number("--size")?,
            "--server" => server = Some(it.next().ok_or("--server needs a name")?),
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag:?}")),
            pair if pair.contains('=') && url.is_some() => pairs.push(pair.to_owned()),
            other if url.is_none() => url = Some(other.to_owned()),
            other => return Err(format!("expected key=value, got {other:?}")),
        }
    }
    if args.probe.writers < 2 {
        return Err(format!(
            "--writers: a race needs 2 or more, got {}",
            args.probe.writers
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

fn yes_no(held: Option<bool>) -> &'static str {
    match held {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown (error)",
    }
}

fn first_error(count: usize, first: Option<&str>) -> String {
    format!(
        "{count}{}",
        first.map(|e| format!(" (first: {e})")).unwrap_or_default()
    )
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
    let p = args.probe;
    println!(
        "probe of {store}: {} writers, {} create rounds of {} bytes, \
         {} compare-and-swap rounds of {} increments each",
        p.writers, p.create_rounds, p.size, p.cas_rounds, p.increments
    );
    let report = probe_conditionals(store.clone(), &p).await;
    let (create, cas) = (&report.create, &report.cas);

    println!();
    println!(
        "conditional create (PutMode::Create, If-None-Match: *), {:.1} s",
        report.create_time.as_secs_f64()
    );
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
        "  other errors                               {}",
        first_error(create.other_errors, create.other_error.as_deref())
    );
    println!("  verdict: {}", report.create_verdict());

    println!();
    println!(
        "compare-and-swap (PutMode::Update, If-Match), {:.1} s",
        report.cas_time.as_secs_f64()
    );
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
        "  other errors                               {}",
        first_error(cas.other_errors, cas.other_error.as_deref())
    );
    println!("  verdict: {}", report.cas_verdict());

    match &report.cleaned {
        Ok(n) => println!("\ndeleted the probe's {n} objects below {}/", report.root),
        Err(e) => eprintln!("probe_conditionals: cleaning up {}: {e}", report.root),
    }
    if report.create_verdict().is_atomic() && report.cas_verdict().is_atomic() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
