//! A pipeline for the batch tests (`tests/tests/batch.rs`,
//! `tests/tests/slurm.rs`): the driver, and under Slurm each worker, since
//! a worker is the driver's own program started with `--lake-worker`.
//!
//! ```text
//! lake-batch-pipeline put <name> <text>            adds an input file
//! lake-batch-pipeline run <name,name,…> <factors>  batches scale(input, f)
//!                                                  for each input and f in 1..=factors
//! lake-batch-pipeline run-async <names> <factors>  the same with scale_async
//! ```
//! `run` prints `REPORT calls=… distinct=… done_before=… dispatched=… jobs=…
//! retried=…` and one `OUT <name> <content>` per call, in order.
//!
//! The lake: home `BATCH_HOME` (a worker uses `BATCH_HOME/worker-<task>`,
//! so that the store is the only state it shares with the driver), store
//! `BATCH_STORE` with `BATCH_STORE_OPTS` (comma-separated `key=value`). The
//! executor comes from `LAKE_EXECUTOR` and `LAKE_SLURM_*`.

use std::io::Write;
use std::path::PathBuf;

use lake_runtime::{BatchOptions, File, Lake, LakeConfigBuilder, batch_with, file_creator};

/// The sum of the whitespace-separated numbers in `numbers`, times
/// `factor`, labelled. An input containing `fail` fails the call; one
/// containing `hang` never finishes (for Ctrl-C while tasks run).
#[file_creator(remote)]
fn scale(numbers: &File, factor: u32, label: &str) -> lake_runtime::Result<File> {
    let text = numbers.read_to_string()?;
    if text.contains("hang") {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    if text.contains("fail") {
        let why = format!("input {} asks to fail", numbers.name().as_str());
        return Err(std::io::Error::other(why).into());
    }
    let sum: u64 = text
        .split_whitespace()
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let mut out = File::create_output()?;
    write!(out, "{label}: {}", sum * u64::from(factor))?;
    out.commit()
}

/// [`scale`] as an async creator, batched with `Batch::call_async`; a
/// worker drives it with `remote_block_on`.
#[file_creator(remote)]
async fn scale_async(numbers: &File, factor: u32) -> lake_runtime::Result<File> {
    let text = numbers.read_to_string()?;
    let sum: u64 = text
        .split_whitespace()
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let mut out = File::create_output()?;
    write!(out, "async: {}", sum * u64::from(factor))?;
    out.commit()
}

fn open(home: PathBuf) -> lake_runtime::Result<Lake> {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let mut config = LakeConfigBuilder::new()
        .with_home(home)
        .with_store(var("BATCH_STORE"));
    for pair in var("BATCH_STORE_OPTS").split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = pair.split_once('=') {
            config = config.with_store_option(k.trim(), v.trim());
        }
    }
    Lake::open_with(config.build()?)
}

fn home() -> PathBuf {
    PathBuf::from(std::env::var("BATCH_HOME").expect("BATCH_HOME is set"))
}

fn main() {
    lake_runtime::worker_main_with(|| {
        let task = std::env::var("SLURM_ARRAY_TASK_ID").unwrap_or_else(|_| "0".into());
        open(home().join(format!("worker-{task}")))
    });
    if let Err(e) = drive(std::env::args().skip(1).collect()) {
        eprintln!("lake-batch-pipeline: {e}");
        std::process::exit(1);
    }
}

fn drive(args: Vec<String>) -> lake_runtime::Result<()> {
    let lake = open(home())?;
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["put", name, text] => {
            let mut w = lake.create(name)?;
            w.write_all(text.as_bytes())?;
            w.commit()?;
        }
        [mode @ ("run" | "run-async"), names, factors] => {
            let factors: u32 = factors.parse().expect("factors is a number");
            let inputs = names
                .split(',')
                .map(|n| lake.file(n))
                .collect::<lake_runtime::Result<Vec<File>>>()?;
            let options = BatchOptions::from_env()?;
            let run = lake.scope(|| {
                batch_with(&options, |b| {
                    for input in &inputs {
                        for factor in 1..=factors {
                            if mode == "run" {
                                b.call(move || scale(input, factor, "sum"));
                            } else {
                                b.call_async(move || scale_async(input, factor));
                            }
                        }
                    }
                })
            })?;
            let r = &run.report;
            println!(
                "REPORT calls={} distinct={} done_before={} dispatched={} jobs={} retried={}",
                r.calls,
                r.unique,
                r.already_done,
                r.dispatched,
                r.jobs.len(),
                r.retried
            );
            for out in &run.outputs {
                println!("OUT {} {}", out.name().as_str(), out.read_to_string()?);
            }
        }
        _ => {
            eprintln!(
                "usage: lake-batch-pipeline put <name> <text> | run|run-async <names> <factors>"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
