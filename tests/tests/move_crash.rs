//! `lake mv` killed with SIGKILL at random instants (issue 12, "a move
//! interrupted by kill -9 at random instants"): after every kill the bytes
//! are still readable (no data lost), `lake verify --store --repair`
//! leaves a consistent history (no unsettled copy, and every store the
//! history names holds a verified copy), and the move then completes.
//!
//! The kill harness follows `crash.rs`: the window of kill instants starts
//! as the faster of two uninterrupted moves and narrows when a trial
//! finishes before its kill.
//!
//! Tuning (environment):
//! - `LAKE_MOVE_CRASH_TRIALS`: kills on `file://` (default 30);
//! - `LAKE_CRASH_SERVER_TRIALS`: kills on moto and Azurite (default 8; 30
//!   with `LAKE_CRASH_LONG=1`);
//! - `LAKE_MOVE_CRASH_MIB`: size of the moved file (default 16);
//! - `LAKE_CRASH_SEED`: seed of the kill schedule.
//!
//! See: docs/design/0013-stores-and-history.md.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lake_runtime::Digest;
use lake_tests::{NamedStoreSpec, TestDir, TestServer};
use serde_json::Value;

const NAME: &str = "big/moved.bin";

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64, as in crash.rs: a reproducible schedule of kill delays.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn delay(&mut self, max: Duration) -> Duration {
        let micros = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % (micros + 1))
    }
}

/// Spawns `cmd` and kills it at a delay drawn from `window`, unless it
/// exits first (which narrows the window). True if the kill landed.
fn kill_after(mut cmd: Command, rng: &mut XorShift, window: &mut Duration) -> bool {
    let delay = rng.delay(*window);
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn lake mv");
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll lake mv") {
            break status;
        }
        if started.elapsed() >= delay {
            let _ = child.kill();
            break child.wait().expect("wait for lake mv");
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    if status.signal() == Some(9) {
        return true;
    }
    assert!(status.success(), "an uninterrupted mv failed: {status}");
    *window = (*window).min(started.elapsed());
    false
}

/// Pseudo-random bytes, which no store can compress or dedup.
fn payload(mib: usize) -> Vec<u8> {
    let mut rng = XorShift(0x5eed_4a11);
    let mut bytes = vec![0u8; mib << 20];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next().to_le_bytes()[..chunk.len()]);
    }
    bytes
}

/// A test dir with `main` and `archive` (on `server`, or `file://`), and
/// `NAME` added to main.
fn setup(server: Option<&TestServer>, source: &std::path::Path) -> TestDir {
    let t = TestDir::new();
    t.write_stores(
        &[
            NamedStoreSpec::on("main", server, t.path()),
            NamedStoreSpec::on("archive", server, t.path()),
        ],
        "",
    );
    t.lake_named("h")
        .args(["-q", "add"])
        .arg(source)
        .arg(NAME)
        .ok();
    t
}

fn mv(t: &TestDir) -> lake_tests::LakeCmd {
    let mut cmd = t.lake_named("h");
    cmd.args(["-q", "mv", NAME, "--from", "main", "--to", "archive"]);
    cmd
}

fn history(t: &TestDir) -> Value {
    t.lake_named("h").args(["history", NAME, "--json"]).json()
}

fn locations(history: &Value) -> Vec<String> {
    let mut at: Vec<String> = history["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    at.sort();
    at
}

/// A fresh home (another machine, empty cache) reads `NAME` whole.
fn assert_readable(t: &TestDir, home: &str, bytes: &[u8], context: &str) {
    let read = t.lake_named(home).args(["cat", NAME]).ok_bytes();
    assert!(
        read.len() == bytes.len() && Digest::of(&read) == Digest::of(bytes),
        "{context}: {NAME} reads back wrong ({} bytes)",
        read.len()
    );
}

/// `verify --store` is clean, and the history has nothing unsettled and
/// at least one location.
fn assert_consistent(t: &TestDir, context: &str) -> Vec<String> {
    let out = t
        .lake_named("h")
        .args(["verify", "--store", "--json"])
        .output();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{context}: verify printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["problems"].as_array().unwrap().is_empty(),
        "{context}: not consistent after the repair: {report:#}"
    );
    assert_eq!(report["ok"].as_array().unwrap().len(), 1, "{context}");
    let h = history(t);
    assert!(
        h["open"].as_array().unwrap().is_empty(),
        "{context}: unsettled copies: {h:#}"
    );
    let at = locations(&h);
    assert!(!at.is_empty(), "{context}: no location left: {h:#}");
    at
}

#[derive(Debug, Default)]
struct Tally {
    killed: usize,
    finished_first: usize,
    /// Where the history placed the bytes right after the kill.
    after_kill: std::collections::BTreeMap<String, usize>,
    /// Kills that left a copy (or a removal) started and never recorded.
    open_intents: usize,
    /// Of those, the ones whose copy the repair found whole (the crash
    /// fell between "copied" and "recorded").
    copied_not_recorded: usize,
    /// Repairs that recorded a location whose copy the kill had deleted.
    locations_settled: usize,
    /// Kills that left a removal of main's copy started and unrecorded.
    open_removals: usize,
}

fn kill_lake_mv(server: Option<&TestServer>, trials: usize) {
    let mib = env_or("LAKE_MOVE_CRASH_MIB", 16);
    let seed = env_or("LAKE_CRASH_SEED", 0x1a4e_c4a5_u64) ^ 0x3c;
    let mut rng = XorShift(seed);
    let source_dir = TestDir::new();
    let bytes = payload(mib);
    let source = source_dir.write("big.bin", &bytes);
    let kind = server.map_or("file", |s| s.kind.as_str());

    let duration = (0..2)
        .map(|_| {
            let t = setup(server, &source);
            let started = Instant::now();
            mv(&t).ok();
            started.elapsed()
        })
        .min()
        .unwrap();
    let mut window = duration;
    let mut tally = Tally::default();
    for trial in 0..trials {
        let context = format!("{kind} mv trial {trial} (seed {seed:#x})");
        let t = setup(server, &source);
        if kill_after(mv(&t).into_command(), &mut rng, &mut window) {
            tally.killed += 1;
        } else {
            tally.finished_first += 1;
        }

        // No data lost, even before any repair: reads fall back.
        assert_readable(&t, "before-repair", &bytes, &context);
        let h = history(&t);
        *tally.after_kill.entry(locations(&h).join("+")).or_default() += 1;
        let open = h["open"].as_array().unwrap().len();
        tally.open_intents += usize::from(open > 0);

        let out = t
            .lake_named("h")
            .args(["verify", "--store", "--repair", "--json"])
            .output();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{context}: verify --repair printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for problem in report["problems"].as_array().unwrap() {
            let message = problem["message"].as_str().unwrap();
            if problem["place"] == "history" && message.contains("the copy there verifies") {
                tally.copied_not_recorded += 1;
            }
            if problem["place"] == "history" && message.starts_with("the removal of the copy") {
                tally.open_removals += 1;
            }
            if problem["place"] == "store" {
                tally.locations_settled += 1;
            }
        }
        assert!(
            out.status.success(),
            "{context}: verify --repair left problems: {report:#}"
        );
        assert_consistent(&t, &context);
        assert_readable(&t, "after-repair", &bytes, &context);

        // The move, run again, completes: the bytes are in the archive
        // only, and main's copy is gone.
        mv(&t).ok();
        assert_eq!(
            assert_consistent(&t, &context),
            ["archive"],
            "{context}: the rerun did not complete the move"
        );
        if server.is_none() {
            let blob = t
                .path()
                .join("stores/main/blobs")
                .join(Digest::of(&bytes).to_hex());
            assert!(!blob.exists(), "{context}: main still holds the bytes");
        }
        assert_readable(&t, "after-rerun", &bytes, &context);
    }
    println!(
        "kill -9 `lake mv` on {kind} ({mib} MiB, uninterrupted {duration:?}, kill window at the \
         end {window:?}, seed {seed:#x}): {trials} trials, {} killed, {} finished first; \
         locations right after the kill: {:?}; {} left a copy started and unrecorded, {} of them \
         whole at the destination (copied, not recorded), {} a removal of main's copy; repair \
         recorded {} lost location(s); data lost: 0",
        tally.killed,
        tally.finished_first,
        tally.after_kill,
        tally.open_intents,
        tally.copied_not_recorded,
        tally.open_removals,
        tally.locations_settled
    );
    assert!(
        tally.killed * 3 >= trials,
        "too few kills landed mid-move: {tally:?}"
    );
}

/// Kills per scenario on a real server, as in crash.rs.
fn server_trials() -> usize {
    let long = std::env::var("LAKE_CRASH_LONG").is_ok_and(|v| v == "1");
    env_or("LAKE_CRASH_SERVER_TRIALS", if long { 30 } else { 8 })
}

#[test]
fn kill_lake_mv_file_store() {
    kill_lake_mv(None, env_or("LAKE_MOVE_CRASH_TRIALS", 30));
}

#[test]
fn kill_lake_mv_moto() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    kill_lake_mv(Some(&server), server_trials());
}

#[test]
fn kill_lake_mv_azurite() {
    let Some(server) = TestServer::from_env("AZURITE") else {
        return;
    };
    kill_lake_mv(Some(&server), server_trials());
}
