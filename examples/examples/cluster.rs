//! Fanning a pipeline out over a cluster: 220 creator calls in two stages,
//! run by [`lake_runtime::batch_with`] on a local pool or on Slurm.
//!
//! ```text
//! stations/station-00.csv … station-19.csv      (the raw data, one file each)
//!        │  added by content: cluster/raw/station-07/<digest>
//!        ▼
//! stage 1: smooth(raw, window)   20 stations × 10 windows = 200 calls
//!        │  a moving average; its residual error and anomalies
//!        ▼
//! stage 2: choose(station, fits)  20 calls, each reading its station's 10 fits
//!        │  the window that best trades error against smoothing
//!        ▼
//!   one line per station
//! ```
//!
//! Run it in an empty directory: the first run writes 20 synthetic station
//! files into `stations/` (`--data DIR` elsewhere). Run it again and nothing
//! runs. Edit one station's file and exactly that station's 10 + 1 calls
//! run again; add only a `#` comment line to one and its 10 stage 1 calls
//! run, produce the same bytes, and stage 2 has nothing to do.
//!
//! The executor comes from `LAKE_EXECUTOR` or the `[executor]` table of
//! `lake.toml` (docs/design/0012-batch-and-slurm.md): the local pool by
//! default, or one `sbatch --array` job per stage with
//!
//! ```toml
//! # lake.toml
//! store = "s3://my-bucket/lake"     # a store every node can reach
//! [executor]
//! kind = "slurm"
//! partition = "short"
//! time = "10:00"
//! ```
//!
//! On Slurm each task runs this program again as a worker (`worker_main`,
//! first thing in `main`) with the driver's environment; put `LAKE_HOME` on
//! a disk local to each node, as the home is a cache and an SQLite index.
//!
//! Stages run one after the other: stage 2 is planned once stage 1 is done,
//! because its keys contain the digests of stage 1's outputs; which also
//! means a stage 2 call whose inputs came out unchanged is not submitted.
//!
//! ```text
//! cargo run -p lake-examples --example cluster
//! LAKE_EXECUTOR=slurm cargo run -p lake-examples --example cluster
//! ```
//!
//! Prints `stage 1: <report> in <time>` and `stage 2: …` (see
//! `BatchReport`), then `<station> window=<w> rmse=<e> anomalies=<n>` per
//! station. `--stations N` writes N stations instead of 20 on the first run;
//! `cluster plain <i>` makes stage 1's call `i` without the lake (the
//! baseline of `bench/run`'s cluster rows).

use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use lake_runtime::{BatchOptions, Digest, File, Lake, batch_with, file_creator};

/// The moving-average windows stage 1 tries for every station.
const WINDOWS: [u32; 10] = [3, 5, 7, 9, 11, 15, 19, 25, 31, 41];

/// Stations written by the first run.
const STATIONS: usize = 20;

/// Days of readings per generated station.
const DAYS: usize = 3000;

/// One station's daily readings smoothed over `window` days: the fit's
/// root-mean-square residual and how many days lie more than 3 residual
/// deviations off. Lines starting with `#` are comments, which is what
/// lets an edit to them leave this step's output unchanged.
#[file_creator(remote)]
fn smooth(raw: &File, window: u32) -> lake_runtime::Result<File> {
    let text = raw.read_to_string()?;
    let line = fit(&text, window)
        .map_err(|why| std::io::Error::other(format!("{}: {why}", raw.name())))?;
    let mut out = File::create_output()?;
    out.write_all(line.as_bytes())?;
    out.commit()
}

/// What [`smooth`] computes, without the lake: also what `cluster plain`
/// runs, the baseline of `bench/run`'s cluster rows.
fn fit(text: &str, window: u32) -> Result<String, String> {
    let values = readings(text)?;
    let w = window as usize;
    if w < 2 || values.len() < w {
        return Err(format!("{} readings, window {w}", values.len()));
    }
    // A centred moving average over a running sum, leaving the centre day
    // out (else a narrow window would fit the noise it should measure);
    // residuals where the whole window fits.
    let mut prefix = vec![0.0f64; values.len() + 1];
    for (i, v) in values.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    let residuals: Vec<f64> = (0..=values.len() - w)
        .map(|start| {
            let centre = values[start + w / 2];
            let mean = (prefix[start + w] - prefix[start] - centre) / (w - 1) as f64;
            centre - mean
        })
        .collect();
    let n = residuals.len() as f64;
    let rmse = (residuals.iter().map(|r| r * r).sum::<f64>() / n).sqrt();
    let anomalies = residuals.iter().filter(|r| r.abs() > 3.0 * rmse).count();
    Ok(format!(
        "window={window} rmse={rmse:.4} anomalies={anomalies} points={}",
        residuals.len()
    ))
}

/// The readings of a station file: `day,value` rows after a header, `#`
/// lines skipped.
fn readings(text: &str) -> Result<Vec<f64>, String> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let value = line.rsplit(',').next().unwrap_or_default();
            value
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("bad row {line:?}: {e}"))
        })
        .collect()
}

/// Picks a station's window from its stage 1 fits: the smallest residual
/// error plus a penalty for wide windows, which blur real events.
#[file_creator(remote)]
fn choose(station: String, fits: Vec<File>) -> lake_runtime::Result<File> {
    let mut best: Option<(f64, String)> = None;
    for fit in &fits {
        let text = fit.read_to_string()?;
        let field = |k: &str| -> f64 {
            text.split_whitespace()
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN)
        };
        let score = field("rmse") * (1.0 + field("window") / 50.0);
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, text.clone()));
        }
    }
    let Some((_, text)) = best else {
        return Err(std::io::Error::other(format!("{station}: no fits")).into());
    };
    let mut out = File::create_output()?;
    let summary: Vec<&str> = text
        .split_whitespace()
        .filter(|kv| !kv.starts_with("points="))
        .collect();
    write!(out, "{station} {}", summary.join(" "))?;
    out.commit()
}

/// Writes `count` stations of synthetic readings: a seasonal cycle, a slow
/// drift and noise from a fixed generator, with a few spikes.
fn generate(dir: &Path, count: usize) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for s in 0..count {
        let mut state =
            0x9E37_79B9_7F4A_7C15u64 ^ (s as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let mut noise = || {
            // xorshift64*: deterministic, so every run writes the same files.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut text = String::from("day,value\n");
        for day in 0..DAYS {
            let t = day as f64;
            let season = 10.0 * (t * std::f64::consts::TAU / 365.0 + s as f64).sin();
            let spike = if day % (97 + s) == 0 { 15.0 } else { 0.0 };
            let v = 12.0 + season + t * 0.001 * s as f64 + 4.0 * noise() + spike;
            writeln!(text, "{day},{v:.2}").expect("writing to a String");
        }
        std::fs::write(dir.join(format!("station-{s:02}.csv")), text)?;
    }
    Ok(())
}

/// Adds each `*.csv` of `dir` under `cluster/raw/<stem>/<digest>`: names
/// are immutable, so an edited file becomes a new name, and adding an
/// unchanged one again is a no-op.
fn add_stations(lake: &Lake, dir: &Path) -> Result<Vec<(String, File)>, Box<dyn Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    paths.sort();
    let mut stations = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let digest = Digest::of(&bytes).to_string();
        let name = format!("cluster/raw/{stem}/{}", &digest[..16]);
        let existing = lake.file(&name)?;
        let file = match existing.record() {
            Ok(_) => existing,
            Err(e) if e.is_not_found() => {
                let mut w = lake.create(&name)?;
                w.write_all(&bytes)?;
                w.commit()?
            }
            Err(e) => return Err(e.into()),
        };
        stations.push((stem, file));
    }
    Ok(stations)
}

fn main() {
    // A Slurm task is this program started with `--lake-worker`: it makes
    // its one call and exits here.
    lake_runtime::worker_main();
    if let Err(e) = run() {
        eprintln!("cluster: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut data = PathBuf::from("stations");
    let mut count = STATIONS;
    let mut rest = args.iter().map(String::as_str);
    while let Some(arg) = rest.next() {
        match (arg, rest.next()) {
            ("--data", Some(dir)) => data = dir.into(),
            ("--stations", Some(n)) => count = n.parse()?,
            ("plain", Some(index)) => return plain(&data, index.parse()?),
            _ => {
                eprintln!("usage: cluster [--data DIR] [--stations N] [plain INDEX]");
                std::process::exit(2);
            }
        }
    }
    if !data.exists() {
        generate(&data, count).map_err(|e| format!("cannot write {}: {e}", data.display()))?;
        println!("wrote {count} stations into {}", data.display());
    }
    let lake = Lake::open()?;
    let options = BatchOptions::from_env()?;
    let stations = add_stations(&lake, &data)?;

    lake.scope(|| {
        let started = Instant::now();
        let stage1 = batch_with(&options, |b| {
            for (_, raw) in &stations {
                for window in WINDOWS {
                    b.call(move || smooth(raw, window));
                }
            }
        })?;
        println!("stage 1: {} in {:.2?}", stage1.report, started.elapsed());
        // Stage 2 is planned only now: its keys hold the digests of the
        // files stage 1 just made.
        let fits: Vec<&[File]> = stage1.outputs.chunks(WINDOWS.len()).collect();
        let started = Instant::now();
        let stage2 = batch_with(&options, |b| {
            for ((station, _), fits) in stations.iter().zip(&fits) {
                let fits = fits.to_vec();
                b.call(move || choose(station.clone(), fits.clone()));
            }
        })?;
        println!("stage 2: {} in {:.2?}", stage2.report, started.elapsed());
        for chosen in &stage2.outputs {
            println!("{}", chosen.read_to_string()?);
        }
        Ok::<(), Box<dyn Error>>(())
    })
}

/// Stage 1's call `index` (station `index / 10`, the `index % 10`th
/// window) without the lake: reads the station file, writes the fit to
/// `<data>/plain/<index>.txt`. What a user would submit as a plain
/// `sbatch --array` script; `bench/run` times the two against each other.
fn plain(data: &Path, index: usize) -> Result<(), Box<dyn Error>> {
    let mut stations: Vec<PathBuf> = std::fs::read_dir(data)?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    stations.sort();
    let station = stations
        .get(index / WINDOWS.len())
        .ok_or_else(|| format!("no station for call {index}"))?;
    let line = fit(
        &std::fs::read_to_string(station)?,
        WINDOWS[index % WINDOWS.len()],
    )?;
    let out = data.join("plain");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join(format!("{index}.txt")), line)?;
    Ok(())
}
