//! A chain of trivial copy steps, for `bench/run`: `seed → step 1 → … →
//! step N`, each step copying its input to its output. The last output has
//! N ancestors (N - 1 steps and the seed), so `lake info` on it walks a
//! lineage of that depth.
//!
//! ```text
//! chain run [N]     # runs (or skips) the chain of N steps (default 100);
//!                   # prints JSON: {"ran": steps executed, "last": name, "secs": …}
//! chain hit [CALLS] # one creator call in this fresh process (open + first
//!                   # hit), then CALLS warm hits; prints JSON with both times
//! chain pull PREFIX # downloads every name below PREFIX into the home, 32 at
//!                   # a time (the CLI's `get` takes one name)
//! ```
//!
//! Uses the same configuration as the `lake` binary (`LAKE_HOME`,
//! `LAKE_STORE`, `LAKE_STORE_OPT_*`, `lake.toml`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use lake_runtime::{File, Lake, file_creator};

/// Steps whose body ran in this process (not skipped as cached).
static RAN: AtomicUsize = AtomicUsize::new(0);

/// The chain's first file: `bytes` bytes of deterministic text.
#[file_creator]
fn seed(bytes: u32) -> lake_runtime::Result<File> {
    RAN.fetch_add(1, Ordering::Relaxed);
    let mut out = File::create_output()?;
    let line = b"lake chain seed 0123456789abcdef\n";
    let mut left = bytes as usize;
    while left > 0 {
        let n = left.min(line.len());
        out.write_all(&line[..n])?;
        left -= n;
    }
    out.commit()
}

/// A trivial copy: the step's own work is as small as a `cp`.
#[file_creator]
fn step(input: &File, index: u32) -> lake_runtime::Result<File> {
    let _ = index; // part of the key: each step is distinct
    RAN.fetch_add(1, Ordering::Relaxed);
    let mut source = std::fs::File::open(input.local_path()?)?;
    let mut out = File::create_output()?;
    std::io::copy(&mut source, &mut out)?;
    out.commit()
}

/// A creator with small arguments, for the cache-hit timings.
#[file_creator]
fn tiny(factor: u32, label: String) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    write!(out, "{factor} {label}")?;
    out.commit()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") | None => {
            let steps: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
            let lake = Lake::open()?;
            let mut file = lake.scope(|| seed(1024))?;
            for i in 1..=steps {
                file = step(&file, i)?;
            }
            println!(
                "{{\"ran\": {}, \"last\": \"{}\", \"secs\": {:.6}}}",
                RAN.load(Ordering::Relaxed),
                file.name(),
                started.elapsed().as_secs_f64()
            );
        }
        Some("hit") => {
            let calls: u32 = args
                .get(1)
                .map(|s| s.parse())
                .transpose()?
                .unwrap_or(100_000);
            let lake = Lake::open()?;
            let first = lake.scope(|| tiny(3, "x".to_owned()))?;
            let first_hit = started.elapsed().as_secs_f64();
            // Warm hits, in batches; the median batch gives the per-call time.
            let mut per_call = Vec::new();
            let batch = (calls / 20).max(1);
            lake.scope(|| -> lake_runtime::Result<()> {
                for _ in 0..20 {
                    let t = Instant::now();
                    for _ in 0..batch {
                        let out = tiny(
                            std::hint::black_box(3),
                            std::hint::black_box("x".to_owned()),
                        )?;
                        debug_assert_eq!(out, first);
                    }
                    per_call.push(t.elapsed().as_secs_f64() / f64::from(batch));
                }
                Ok(())
            })?;
            per_call.sort_by(f64::total_cmp);
            println!(
                "{{\"first_hit_s\": {first_hit:.9}, \"warm_hit_s\": {:.12}, \"name\": \"{}\"}}",
                per_call[per_call.len() / 2],
                first.name()
            );
        }
        Some("pull") => {
            let prefix = args.get(1).ok_or("pull needs a PREFIX")?.clone();
            let lake = Lake::open()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let count = runtime.block_on(async move {
                let names = lake.list_async(&prefix, true).await?;
                let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
                let mut tasks = tokio::task::JoinSet::new();
                for entry in &names {
                    let (lake, name) = (lake.clone(), entry.name.clone());
                    let permit = permits.clone().acquire_owned().await.expect("open");
                    tasks.spawn(async move {
                        let _permit = permit;
                        lake.fetch_async(&name).await
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("task")?;
                }
                lake_runtime::Result::<usize>::Ok(names.len())
            })?;
            println!(
                "{{\"fetched\": {count}, \"secs\": {:.6}}}",
                started.elapsed().as_secs_f64()
            );
        }
        Some(other) => return Err(format!("unknown mode {other:?}: use run, hit or pull").into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(lake: &Lake, seed_bytes: u32, steps: u32) -> lake_runtime::Result<File> {
        let mut file = lake.scope(|| seed(seed_bytes))?;
        for i in 1..=steps {
            file = step(&file, i)?;
        }
        Ok(file)
    }

    /// A changed seed re-runs every step below it; the same seed none.
    #[test]
    fn a_changed_seed_reruns_every_step_the_same_seed_none() {
        let lake = Lake::temporary().unwrap();
        let steps = ["seed", "step", "step", "step", "step", "step"];
        let last = lake.expect_runs(&steps, || chain(&lake, 64, 5)).unwrap();
        assert_eq!(lake.expect_runs(&[], || chain(&lake, 64, 5)).unwrap(), last);
        let longer = lake.expect_runs(&steps, || chain(&lake, 65, 5)).unwrap();
        assert_eq!(longer.size().unwrap(), 65);
    }
}
