//! A multi-step pipeline for the many-processes concurrency test
//! (`tests/tests/concurrency.rs`): run it from several homes against one
//! store at once, and every process must print the same outputs.
//!
//! Steps: `seed` (no inputs) → `roll` (random bytes on every run: only one
//! result may ever be committed) → `split` (two outputs) → `combine`.
//!
//! Prints one line per output, `output <name> <blake3 hex> <run key>`, sorted.
//! With `--list-runs`, prints instead `manifest <key>` for every object
//! under `runs/` in the store.
//!
//! ```text
//! LAKE_STORE=s3://bucket/prefix cargo run -p lake-examples --example concurrent
//! ```

use std::hash::{BuildHasher, Hasher};
use std::io::Write;

use lake_runtime::{File, Lake, Lineage, StorePath, file_creator};

/// Deterministic content from a number.
#[file_creator]
fn seed(n: u32) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    for i in 0..1000u32 {
        writeln!(out, "seed {n} line {i}")?;
    }
    out.commit()
}

/// Random bytes on every run: a different result each time it executes.
#[file_creator]
fn roll(seed: &File) -> lake_runtime::Result<File> {
    let size = seed.size()?;
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    // The concurrency test counts these to show that the runs really raced.
    eprintln!("computing roll");
    let mut out = File::create_output()?;
    writeln!(
        out,
        "random {:016x} from a seed of {size} bytes",
        hasher.finish()
    )?;
    // Widen the window in which concurrent processes all miss.
    std::thread::sleep(std::time::Duration::from_millis(30));
    out.commit()
}

/// Two outputs: the seed's lines that mention an even or an odd number.
#[file_creator]
fn split(seed: &File, roll: &File) -> lake_runtime::Result<(File, File)> {
    let text = seed.read_to_string()?;
    let salt = roll.read_to_string()?;
    let mut even = File::create_output()?;
    let mut odd = File::create_output()?;
    for (i, line) in text.lines().enumerate() {
        let out = if i % 2 == 0 { &mut even } else { &mut odd };
        writeln!(out, "{salt}{line}")?;
    }
    Ok((even.commit()?, odd.commit()?))
}

/// Concatenates its inputs.
#[file_creator]
fn combine(a: &File, b: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(&a.read()?)?;
    out.write_all(&b.read()?)?;
    out.commit()
}

fn list_runs(lake: &Lake) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let store = lake.store().clone();
    let mut keys = Vec::new();
    runtime.block_on(async {
        let prefix = StorePath::prefix("runs");
        let mut after: Option<StorePath> = None;
        loop {
            let page = store.list(&prefix, after.as_ref(), 1000).await?;
            keys.extend(page.objects.iter().map(|o| o.path.as_str().to_owned()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(keys)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lake = Lake::open()?;
    if std::env::args().any(|a| a == "--list-runs") {
        for key in list_runs(&lake)? {
            println!("manifest {key}");
        }
        return Ok(());
    }
    let outputs = lake.scope(|| -> lake_runtime::Result<Vec<File>> {
        let s = seed(7)?;
        let r = roll(&s)?;
        let (even, odd) = split(&s, &r)?;
        let all = combine(&even, &odd)?;
        Ok(vec![s, r, even, odd, all])
    })?;
    let mut lines = Vec::new();
    for file in &outputs {
        let record = file.record()?;
        let key = match &record.lineage {
            Lineage::Created(run) => run.run_key.clone(),
            Lineage::Added(_) => "-".to_owned(),
        };
        // Reading proves the content is there and matches its digest.
        let bytes = file.read()?;
        assert_eq!(bytes.len() as u64, record.size);
        lines.push(format!("output {} {} {key}", file.name(), record.blake3));
    }
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
