//! Crash safety (invariant 2, docs/design/0000-design.md) and `lake gc`:
//! kill -9 `lake add` and a pipeline at random instants, then check that nothing partial is visible,
//! that the next run finishes without repair, and that `lake gc` cleans up.
//!
//! The store is a parameter ([`StoreSpec`]): these tests use a `file://`
//! store in a temp dir; S3 and Azure variants only need another spec.
//!
//! Tuning (environment):
//! - `LAKE_CRASH_TRIALS`: kills per scenario (default 50);
//! - `LAKE_CRASH_ADD_MIB`: size of the added file (default 64);
//! - `LAKE_CRASH_PIPELINE_MIB`: size of the pipeline's outputs (default 4);
//! - `LAKE_CRASH_SEED`: seed of the kill schedule (default fixed; printed);
//! - `LAKE_CRASH_SERVER_TRIALS`: kills per scenario on moto and Azurite
//!   (default 8; 30 with `LAKE_CRASH_LONG=1`);
//! - `LAKE_CRASH_SERVER_MIB`: size of the file added there (default 8).

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lake_runtime::Digest;
use lake_tests::{LakeCmd, TestDir, TestServer, lake_bin};

/// A store to run the trials against: its URL and whatever environment a
/// backend needs (credentials, endpoint, options).
#[derive(Debug, Clone)]
struct StoreSpec {
    url: String,
    env: Vec<(String, String)>,
}

impl StoreSpec {
    /// The `file://` store of `t`.
    fn file(t: &TestDir) -> Self {
        Self {
            url: t.store_url(),
            env: Vec::new(),
        }
    }

    /// A fresh prefix on `server` for every trial.
    fn on(server: &TestServer) -> impl Fn(&TestDir) -> Self + '_ {
        move |_| Self {
            url: server.fresh_url("crash"),
            env: server.env_vars(),
        }
    }
}

/// Kills per scenario on a real server: fewer than on `file://` in a plain
/// run, since each trial is a dozen commands over HTTP.
fn server_trials() -> usize {
    let long = std::env::var("LAKE_CRASH_LONG").is_ok_and(|v| v == "1");
    env_or("LAKE_CRASH_SERVER_TRIALS", if long { 30 } else { 8 })
}

/// xorshift64: a seeded schedule of kill delays, reproducible from the seed.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A delay uniformly in `[0, max]`.
    fn delay(&mut self, max: Duration) -> Duration {
        let micros = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % (micros + 1))
    }
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    env_or("LAKE_CRASH_SEED", 0x1a4e_c4a5_u64)
}

/// `lake` on `t`'s home and `spec`'s store.
fn lake(t: &TestDir, spec: &StoreSpec) -> LakeCmd {
    let mut cmd = t.lake();
    cmd.env("LAKE_STORE", &spec.url);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd
}

/// A spawnable command with the same isolation as [`TestDir::lake`]: no
/// inherited `LAKE_*`, a home and a git identity inside the temp dir.
fn isolated(t: &TestDir, program: &Path, spec: &StoreSpec) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("LAKE_")
            || k.starts_with("XDG_")
            || k.starts_with("GIT_")
            || k == "RUST_LOG"
        {
            cmd.env_remove(&key);
        }
    }
    let userhome = t.path().join("userhome");
    cmd.current_dir(t.path())
        .env("HOME", &userhome)
        .env("XDG_DATA_HOME", t.path().join("xdg-data"))
        .env("XDG_CONFIG_HOME", userhome.join(".config"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("USER", "tester")
        .env("NO_COLOR", "1")
        .env("LAKE_HOME", t.home())
        .env("LAKE_STORE", &spec.url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd
}

/// What one kill attempt hit.
#[derive(Debug, Default)]
struct Tally {
    killed: usize,
    finished_first: usize,
}

/// Spawns `cmd` and kills it (SIGKILL) at an instant drawn from `window`,
/// unless it exits first; records which happened.
///
/// `window` starts as the fastest of two uninterrupted runs, and a trial
/// whose process exits before its kill lowers it to that run's time. The
/// baseline may be measured while the machine is busy (another test binary,
/// a CPU hog); without this, the trials that follow on a quieter machine
/// would mostly finish before their kill and test nothing.
fn kill_after(mut cmd: Command, rng: &mut XorShift, window: &mut Duration, tally: &mut Tally) {
    let delay = rng.delay(*window);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawn the process to kill");
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the process") {
            break status;
        }
        if started.elapsed() >= delay {
            let _ = child.kill();
            break child.wait().expect("wait for the killed process");
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    if status.signal() == Some(9) {
        tally.killed += 1;
    } else {
        assert!(status.success(), "uninterrupted run failed: {status}");
        tally.finished_first += 1;
        *window = (*window).min(started.elapsed());
    }
}

fn crashy_bin() -> PathBuf {
    let bin = lake_bin()
        .parent()
        .expect("lake lives in target/<profile>")
        .join("examples")
        .join(format!("crashy{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing; build it with `cargo build -p lake-examples --example crashy` \
         (scripts/test builds every example first)",
        bin.display()
    );
    bin
}

/// Every name the store holds, as `(name, blake3)`.
fn names(t: &TestDir, spec: &StoreSpec) -> Vec<(String, String)> {
    let listing = lake(t, spec)
        .args(["ls", "-r", "--json", "--refresh", ""])
        .json_lines();
    listing
        .as_array()
        .expect("ls --json prints an array")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["blake3"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `lake verify --store` is clean and covers every listed name; each name
/// also reads back (through `lake cat`) with its recorded blake3.
fn assert_clean(t: &TestDir, spec: &StoreSpec, context: &str) -> usize {
    let out = lake(t, spec).args(["verify", "--store", "--json"]).output();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{context}: verify printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["problems"].as_array().unwrap().is_empty(),
        "{context}: verify --store is not clean: {report:#}"
    );
    let verified = report["ok"].as_array().unwrap().len();
    let listed = names(t, spec);
    assert_eq!(verified, listed.len(), "{context}: verify skipped names");
    for (name, blake3) in &listed {
        let bytes = lake(t, spec).args(["cat", name]).ok_bytes();
        assert_eq!(
            Digest::of(&bytes).to_hex(),
            *blake3,
            "{context}: {name} reads back partial or wrong content"
        );
    }
    listed.len()
}

/// `lake gc --grace 0` and the totals it removed; afterwards nothing is
/// left to collect and the home's staging is empty.
fn gc_all(t: &TestDir, spec: &StoreSpec, context: &str) -> (u64, u64) {
    let report = lake(t, spec).args(["gc", "--grace", "0", "--json"]).json();
    let mut count = 0;
    let mut bytes = 0;
    for kind in [
        "store_blobs",
        "store_staging",
        "store_uploads",
        "home_staging",
        "home_blobs",
    ] {
        count += report[kind]["count"].as_u64().unwrap();
        bytes += report[kind]["bytes"].as_u64().unwrap();
    }
    let again = lake(t, spec)
        .args(["gc", "--grace", "0", "--dry-run", "--json"])
        .json();
    assert!(
        again["removed"].as_array().unwrap().is_empty(),
        "{context}: gc left something behind: {again:#}"
    );
    let tmp: Vec<_> = std::fs::read_dir(t.home().join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{context}: staging not empty: {tmp:?}");
    (count, bytes)
}

/// Pseudo-random content, so the store cannot compress or dedup it.
fn big_file(t: &TestDir, mib: usize) -> (PathBuf, Vec<u8>) {
    let mut rng = XorShift::new(0x5eed);
    let mut bytes = vec![0u8; mib << 20];
    for chunk in bytes.chunks_mut(8) {
        let word = rng.next().to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    let path = t.write("big.bin", &bytes);
    (path, bytes)
}

fn kill_lake_add(make_spec: impl Fn(&TestDir) -> StoreSpec, trials: usize, mib: usize) {
    let seed = seed();
    let mut rng = XorShift::new(seed);
    let source_dir = TestDir::new();
    let (source, bytes) = big_file(&source_dir, mib);
    let name = "crash/big.bin";

    // An uninterrupted add sets the range of kill instants (the faster of
    // two, so the first cold run does not stretch it).
    let duration = (0..2)
        .map(|_| {
            let t = TestDir::new();
            let spec = make_spec(&t);
            let started = Instant::now();
            lake(&t, &spec).arg("add").arg(&source).arg(name).ok();
            started.elapsed()
        })
        .min()
        .unwrap();

    let mut tally = Tally::default();
    let mut window = duration;
    let (mut present, mut absent) = (0, 0);
    let (mut gc_count, mut gc_bytes) = (0, 0);
    for trial in 0..trials {
        let context = format!("add trial {trial} (seed {seed:#x})");
        let t = TestDir::new();
        let spec = make_spec(&t);
        let mut cmd = isolated(&t, &lake_bin(), &spec);
        cmd.args(["-q", "add"]).arg(&source).arg(name);
        kill_after(cmd, &mut rng, &mut window, &mut tally);

        // The name is either absent or byte-exact.
        let listed = names(&t, &spec);
        if listed.iter().any(|(n, _)| n == name) {
            present += 1;
            let read = lake(&t, &spec).args(["cat", name]).ok_bytes();
            assert!(read == bytes, "{context}: {name} is visible but partial");
        } else {
            absent += 1;
        }
        lake(&t, &spec).args(["verify", "--store"]).ok();
        // Odd trials collect the leftovers before the retry, even ones after.
        if trial % 2 == 1 {
            let (c, b) = gc_all(&t, &spec, &context);
            gc_count += c;
            gc_bytes += b;
        }
        // The same add succeeds, with no repair.
        lake(&t, &spec).arg("add").arg(&source).arg(name).ok();
        let (c, b) = gc_all(&t, &spec, &context);
        gc_count += c;
        gc_bytes += b;
        // verify --store, and the name reads back with the source's blake3.
        assert_eq!(assert_clean(&t, &spec, &context), 1, "{context}");
        assert_eq!(
            names(&t, &spec)[0].1,
            Digest::of(&bytes).to_hex(),
            "{context}"
        );
    }
    println!(
        "kill -9 `lake add` ({mib} MiB, uninterrupted {duration:?}, kill window at the end {window:?}, seed {seed:#x}): {trials} trials, \
         {} killed, {} finished before the kill; name visible after the kill in {present}, \
         absent in {absent}; partial content seen: 0; gc removed {gc_count} leftover(s), {gc_bytes} bytes",
        tally.killed, tally.finished_first
    );
    assert!(
        tally.killed * 3 >= trials,
        "too few kills landed mid-add: {tally:?}"
    );
}

fn final_line(stdout: &str) -> String {
    stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("final "))
        .unwrap_or_else(|| panic!("crashy printed no final line:\n{stdout}"))
        .to_owned()
}

fn run_crashy(t: &TestDir, spec: &StoreSpec, mib: usize, context: &str) -> String {
    let mut cmd = isolated(t, &crashy_bin(), spec);
    cmd.env("CRASHY_MIB", mib.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().expect("run crashy");
    assert!(
        out.status.success(),
        "{context}: crashy failed after a kill ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    final_line(&String::from_utf8_lossy(&out.stdout))
}

fn kill_pipeline(make_spec: impl Fn(&TestDir) -> StoreSpec) {
    let trials: usize = env_or("LAKE_CRASH_TRIALS", 50);
    let mib: usize = env_or("LAKE_CRASH_PIPELINE_MIB", 4);
    let seed = seed() ^ 0xc4a5;
    let mut rng = XorShift::new(seed);

    // Two uninterrupted runs: the reference digest, and the range of kill
    // instants (the faster run, so a cold first start does not stretch it).
    let runs: Vec<(String, Duration)> = (0..2)
        .map(|_| {
            let t = TestDir::new();
            let spec = make_spec(&t);
            let started = Instant::now();
            let line = run_crashy(&t, &spec, mib, "uninterrupted run");
            (line, started.elapsed())
        })
        .collect();
    assert_eq!(runs[0].0, runs[1].0, "crashy is not deterministic");
    let expected = runs[0].0.clone();
    let duration = runs.iter().map(|r| r.1).min().unwrap();

    let mut tally = Tally::default();
    let mut window = duration;
    let mut names_checked = 0;
    let (mut gc_count, mut gc_bytes) = (0, 0);
    for trial in 0..trials {
        let context = format!("pipeline trial {trial} (seed {seed:#x})");
        let t = TestDir::new();
        let spec = make_spec(&t);
        let mut cmd = isolated(&t, &crashy_bin(), &spec);
        cmd.env("CRASHY_MIB", mib.to_string());
        kill_after(cmd, &mut rng, &mut window, &mut tally);

        // Whatever the kill left visible is complete.
        names_checked += assert_clean(&t, &spec, &context);
        if trial % 2 == 1 {
            let (c, b) = gc_all(&t, &spec, &context);
            gc_count += c;
            gc_bytes += b;
        }
        // The next run finishes with no repair, with the same result.
        let line = run_crashy(&t, &spec, mib, &context);
        assert_eq!(line, expected, "{context}: a different final output");
        names_checked += assert_clean(&t, &spec, &context);
        let (c, b) = gc_all(&t, &spec, &context);
        gc_count += c;
        gc_bytes += b;
        names_checked += assert_clean(&t, &spec, &context);
        // And a run after gc is a hit that still agrees.
        assert_eq!(run_crashy(&t, &spec, mib, &context), expected);
    }
    println!(
        "kill -9 crashy ({mib} MiB outputs, uninterrupted {duration:?}, kill window at the end {window:?}, seed {seed:#x}): {trials} trials, \
         {} killed, {} finished before the kill; {names_checked} name reads checked, partial content \
         seen: 0; gc removed {gc_count} leftover(s), {gc_bytes} bytes",
        tally.killed, tally.finished_first
    );
    assert!(
        tally.killed * 3 >= trials,
        "too few kills landed mid-run: {tally:?}"
    );
}

#[test]
fn kill_lake_add_file_store() {
    kill_lake_add(
        StoreSpec::file,
        env_or("LAKE_CRASH_TRIALS", 50),
        env_or("LAKE_CRASH_ADD_MIB", 64),
    );
}

#[test]
fn kill_lake_add_moto() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    kill_lake_add(
        StoreSpec::on(&server),
        server_trials(),
        env_or("LAKE_CRASH_SERVER_MIB", 8),
    );
}

#[test]
fn kill_lake_add_azurite() {
    let Some(server) = TestServer::from_env("AZURITE") else {
        return;
    };
    kill_lake_add(
        StoreSpec::on(&server),
        server_trials(),
        env_or("LAKE_CRASH_SERVER_MIB", 8),
    );
}

/// kill -9 during `add -r`: every name visible afterwards is whole, and the
/// same `add -r` then completes with no repair.
fn kill_lake_add_dir(make_spec: impl Fn(&TestDir) -> StoreSpec, trials: usize) {
    const FILES: usize = 40;
    let seed = seed() ^ 0xd1;
    let mut rng = XorShift::new(seed);
    let source_dir = TestDir::new();
    let mut data = XorShift::new(0xd17);
    for i in 0..FILES {
        let bytes: Vec<u8> = (0..64 << 10).map(|_| data.next() as u8).collect();
        source_dir.write(&format!("tree/d{}/f{i:02}.bin", i % 4), bytes);
    }
    let tree = source_dir.path().join("tree");
    let duration = (0..2)
        .map(|_| {
            let t = TestDir::new();
            let spec = make_spec(&t);
            let started = Instant::now();
            lake(&t, &spec)
                .args(["-q", "add", "-r"])
                .arg(&tree)
                .arg("crash")
                .ok();
            started.elapsed()
        })
        .min()
        .unwrap();
    let mut tally = Tally::default();
    let mut window = duration;
    let mut visible_after_kill = 0;
    for trial in 0..trials {
        let context = format!("add -r trial {trial} (seed {seed:#x})");
        let t = TestDir::new();
        let spec = make_spec(&t);
        let mut cmd = isolated(&t, &lake_bin(), &spec);
        cmd.args(["-q", "add", "-r"]).arg(&tree).arg("crash");
        kill_after(cmd, &mut rng, &mut window, &mut tally);
        // Whatever is visible reads back whole (assert_clean cats each).
        visible_after_kill += assert_clean(&t, &spec, &context);
        if trial % 2 == 1 {
            gc_all(&t, &spec, &context);
        }
        lake(&t, &spec)
            .args(["-q", "add", "-r"])
            .arg(&tree)
            .arg("crash")
            .ok();
        gc_all(&t, &spec, &context);
        assert_eq!(assert_clean(&t, &spec, &context), FILES, "{context}");
    }
    println!(
        "kill -9 `lake add -r` ({FILES} files, uninterrupted {duration:?}, kill window at the end {window:?}, seed {seed:#x}): \
         {trials} trials, {} killed, {} finished before the kill; {visible_after_kill} names \
         visible right after the kills, partial content seen: 0",
        tally.killed, tally.finished_first
    );
    assert!(
        tally.killed * 3 >= trials,
        "too few kills landed mid-add: {tally:?}"
    );
}

#[test]
fn kill_lake_add_dir_file_store() {
    kill_lake_add_dir(StoreSpec::file, env_or("LAKE_CRASH_TRIALS", 50).min(20));
}

#[test]
fn kill_lake_add_dir_moto() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    kill_lake_add_dir(StoreSpec::on(&server), server_trials());
}

#[test]
fn kill_lake_add_dir_azurite() {
    let Some(server) = TestServer::from_env("AZURITE") else {
        return;
    };
    kill_lake_add_dir(StoreSpec::on(&server), server_trials());
}

#[test]
fn kill_pipeline_file_store() {
    kill_pipeline(StoreSpec::file);
}
