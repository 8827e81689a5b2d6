//! Invariant 3, concurrent runs agree: 8 processes, each with its own home
//! (as if on 8 machines), run the `concurrent` example pipeline against one
//! store at once. All exit 0, all print the same outputs and digests, each
//! run key has exactly one manifest, and the random-output creator's single
//! committed result is what every process reports.
//!
//! The invariant rests on an atomic conditional create, so it is tested
//! only where create is atomic: a `file://` store, and Azurite
//! (`LAKE_TEST_AZURITE_*`, skipping loudly when it is not configured). Not
//! on moto or s3s-fs: both check `If-None-Match: *` and then write, so two
//! processes can both create one name, and a test that expects agreement
//! there fails by chance (`docs/design/0003-test-servers.md`).

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Instant;

use lake_tests::{TestDir, TestServer, example_bin};

const PROCESSES: usize = 8;
const ROUNDS: usize = 10;
/// seed, roll, split, combine.
const RUNS_PER_PIPELINE: usize = 4;

fn command(dir: &TestDir, server: &TestServer, home: &str, store_url: &str) -> Command {
    let mut cmd = Command::new(example_bin("concurrent"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path().join("userhome"))
        .env("LAKE_HOME", dir.path().join(home))
        .env("LAKE_STORE", store_url)
        .env("NO_COLOR", "1")
        .current_dir(dir.path());
    for (k, v) in server.env_vars() {
        cmd.env(k, v);
    }
    cmd
}

/// Returns how many processes computed the random step (the rest skipped).
fn one_round(server: &TestServer, round: usize) -> usize {
    let dir = TestDir::new();
    let store_url = server.fresh_url(&format!("concurrency-{round}"));
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            command(&dir, server, &format!("home{i}"), &store_url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn the concurrent example")
        })
        .collect();
    let mut computed = 0;
    let outputs: Vec<String> = children
        .into_iter()
        .enumerate()
        .map(|(i, child)| {
            let out = child.wait_with_output().expect("wait for the example");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{} round {round}: process {i} failed ({})\nstdout:\n{stdout}\nstderr:\n{}",
                server.kind,
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            computed += String::from_utf8_lossy(&out.stderr)
                .matches("computing roll")
                .count();
            stdout
        })
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(
            out, &outputs[0],
            "{} round {round}: process {i} disagrees with process 0",
            server.kind
        );
    }
    let lines: Vec<Vec<&str>> = outputs[0]
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 5, "five outputs:\n{}", outputs[0]);
    let keys: BTreeSet<&str> = lines.iter().map(|l| l[3]).collect();
    assert_eq!(keys.len(), RUNS_PER_PIPELINE, "{}", outputs[0]);

    // Exactly one manifest per run key, and nothing else under runs/.
    let listed = command(&dir, server, "lister", &store_url)
        .arg("--list-runs")
        .output()
        .expect("list runs");
    assert!(listed.status.success(), "{listed:?}");
    let manifests: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("manifest ").map(str::to_owned))
        .collect();
    let expected: Vec<String> = keys.iter().map(|k| format!("runs/{k}.json")).collect();
    assert_eq!(manifests, expected, "{}", server.kind);

    // The random output's name resolves to the one digest all 8 reported,
    // from a ninth, fresh home too.
    let roll = lines.iter().find(|l| l[1].starts_with("roll/")).unwrap();
    let mut info = dir.lake_with_home(dir.path().join("checker"));
    server.apply(&mut info, &store_url);
    let json = info.args(["info", roll[1], "--json"]).json();
    assert_eq!(json["blake3"], roll[2], "{json}");
    assert!(
        computed >= 1,
        "nobody computed the random step: is the concurrent example up to date?"
    );
    let mut verify = dir.lake_with_home(dir.path().join("checker"));
    server.apply(&mut verify, &store_url);
    verify.args(["verify", "--store"]).ok();
    computed
}

fn many_rounds(server: &TestServer) {
    let kind = &server.kind;
    let started = Instant::now();
    let computed: usize = (0..ROUNDS).map(|round| one_round(server, round)).sum();
    eprintln!(
        "concurrency trials against {kind}: {ROUNDS} rounds x {PROCESSES} processes = {} \
         pipeline runs ({} creator calls); the random step was computed {computed} times \
         and committed {ROUNDS} times; 0 failures, 0 disagreements, in {:.1?}",
        ROUNDS * PROCESSES,
        ROUNDS * PROCESSES * RUNS_PER_PIPELINE,
        started.elapsed()
    );
}

#[test]
fn eight_processes_agree_on_a_file_store() {
    let dir = TestDir::new();
    let server = TestServer {
        kind: "FILE".to_owned(),
        url: format!("file://{}", dir.store_dir().display()),
        options: Vec::new(),
    };
    many_rounds(&server);
}

#[test]
fn eight_processes_agree_on_azurite() {
    if let Some(server) = TestServer::from_env("AZURITE") {
        many_rounds(&server);
    }
}
