//! Batches on a real Slurm cluster (issue 15, docs/design/0012), with moto
//! as the shared store: `scripts/slurm start` runs a single-node cluster on
//! this host and `scripts/test` exports `LAKE_TEST_SLURM=1` and
//! `SLURM_CONF`. Without it these tests print SKIPPED (and fail under
//! `CI=true`).
//!
//! The driver is `lake-batch-pipeline` (tests/bin/batch_pipeline.rs); each
//! array task runs the same program as a worker, with a home of its own, so
//! the store is all a worker shares with the driver.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use lake_tests::{TestDir, TestServer};

/// True if a Slurm cluster is configured; else prints a loud skip (or
/// panics under `CI=true`, which must run these tests).
fn slurm_from_env() -> bool {
    if std::env::var("LAKE_TEST_SLURM").as_deref() == Ok("1") {
        return true;
    }
    let message = "LAKE_TEST_SLURM is not set: SKIPPING this Slurm test; start a cluster with \
                   scripts/slurm start and source target/slurm/env.sh, or run scripts/test";
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{message} (CI=true requires it)"
    );
    eprintln!("=== {message} ===");
    false
}

struct Pipeline<'a> {
    dir: &'a TestDir,
    store: String,
    options: String,
}

impl<'a> Pipeline<'a> {
    /// A pipeline in `dir` on a fresh prefix of moto, if a Slurm cluster
    /// and moto are configured (else the loud skip of each).
    fn on_moto(dir: &'a TestDir, tag: &str) -> Option<Self> {
        if !slurm_from_env() {
            return None;
        }
        let server = TestServer::from_env("MOTO")?;
        Some(Pipeline {
            dir,
            store: server.fresh_url(tag),
            options: options_string(&server),
        })
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lake-batch-pipeline"));
        cmd.current_dir(self.dir.path())
            .env("BATCH_HOME", self.dir.home())
            .env("BATCH_STORE", &self.store)
            .env("BATCH_STORE_OPTS", &self.options)
            .env("LAKE_EXECUTOR", "slurm")
            .env("LAKE_SLURM_RETRIES", "1")
            .env_remove("SLURM_ARRAY_TASK_ID");
        if let Ok(partition) = std::env::var("LAKE_TEST_SLURM_PARTITION") {
            cmd.env("LAKE_SLURM_PARTITION", partition);
        }
        cmd
    }

    fn put(&self, name: &str, text: &str) {
        let out = self.command().args(["put", name, text]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn run(&self, inputs: &str, factors: u32) -> Output {
        self.command()
            .args(["run", inputs, &factors.to_string()])
            .output()
            .unwrap()
    }

    /// Runs a batch that must succeed: its report and its outputs' contents.
    fn ok(&self, inputs: &str, factors: u32) -> (Report, Vec<String>) {
        let started = Instant::now();
        let out = self.run(inputs, factors);
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        let report = Report::parse(&stdout);
        eprintln!("batch of {inputs} x {factors}: {report:?} in {elapsed:.2?}");
        let contents = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("OUT "))
            .map(|l| l.split_once(' ').unwrap().1.to_owned())
            .collect();
        (report, contents)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Report {
    calls: usize,
    done_before: usize,
    dispatched: usize,
    jobs: usize,
}

impl Report {
    fn parse(stdout: &str) -> Self {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("REPORT "))
            .unwrap_or_else(|| panic!("no REPORT line in {stdout}"));
        let field = |k: &str| -> usize {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k} in {line}"))
                .parse()
                .unwrap()
        };
        Self {
            calls: field("calls"),
            done_before: field("done_before"),
            dispatched: field("dispatched"),
            jobs: field("jobs"),
        }
    }
}

fn options_string(server: &TestServer) -> String {
    server
        .options
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// 20 calls (5 inputs x 4 factors) run as one array job; the same batch
/// again submits nothing; a changed input submits exactly its 4 calls; a
/// failing call is retried once, then reported with its error and log.
#[test]
fn slurm_batch_runs_each_call_once_and_resubmits_only_what_changed() {
    let dir = TestDir::new();
    let Some(p) = Pipeline::on_moto(&dir, "slurm") else {
        return;
    };
    for i in 0..5 {
        p.put(&format!("in/{i}"), &format!("{i} 1 2"));
    }
    let inputs = "in/0,in/1,in/2,in/3,in/4";
    let expected = |sums: [u64; 5]| -> Vec<String> {
        sums.iter()
            .flat_map(|s| (1..=4).map(move |f| format!("sum: {}", s * f)))
            .collect()
    };

    let (report, contents) = p.ok(inputs, 4);
    assert_eq!(
        report,
        Report {
            calls: 20,
            done_before: 0,
            dispatched: 20,
            jobs: 1
        }
    );
    assert_eq!(contents, expected([3, 4, 5, 6, 7]));
    // Each task logged its call (the driver's home is this machine's).
    let logs = lake_tests::files_in_recursive(&dir.home().join("batches"));
    assert_eq!(logs.iter().filter(|l| has_ext(l, "log")).count(), 20);

    let started = Instant::now();
    let (report, contents) = p.ok(inputs, 4);
    let second = started.elapsed();
    assert_eq!(
        report,
        Report {
            calls: 20,
            done_before: 20,
            dispatched: 0,
            jobs: 0
        }
    );
    assert_eq!(contents, expected([3, 4, 5, 6, 7]));
    eprintln!("second run, nothing submitted: {second:.2?} (process start included)");

    p.put("in/2b", "10 1 2");
    let (report, contents) = p.ok("in/0,in/1,in/2b,in/3,in/4", 4);
    assert_eq!(
        report,
        Report {
            calls: 20,
            done_before: 16,
            dispatched: 4,
            jobs: 1
        }
    );
    assert_eq!(contents, expected([3, 4, 13, 6, 7]));

    // A call that fails on the worker: retried once (a second job), then
    // reported with the worker's error and the tail of its log.
    p.put("in/bad", "fail");
    let out = p.run("in/0,in/bad", 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("2 of 4 batch calls failed"), "{stderr}");
    assert!(stderr.contains("input in/bad asks to fail"), "{stderr}");
    assert!(
        stderr.contains("submitting them again (attempt 2 of 2)"),
        "{stderr}"
    );
    assert!(stderr.contains("last lines of "), "{stderr}");
    // in/0's calls were done: each of the two jobs (first try, retry) ran
    // in/bad's two, and its line counts the tasks Slurm saw fail (the
    // worker exits 1), as the bar does on a terminal.
    assert_eq!(
        stderr.matches(" 2 task(s) finished in ").count(),
        2,
        "{stderr}"
    );
    assert_eq!(stderr.matches(": 0 done, 2 failed").count(), 2, "{stderr}");
}

/// An async creator batched with `Batch::call_async` runs on Slurm as a
/// sync one does: one array job, each task driving the creator's future;
/// the same batch again submits nothing.
#[test]
fn slurm_batch_of_an_async_creator() {
    let dir = TestDir::new();
    let Some(p) = Pipeline::on_moto(&dir, "slurm-async") else {
        return;
    };
    p.put("in/a", "1 2");
    p.put("in/b", "10 20");
    let run = |expect: Report| {
        let out = p
            .command()
            .args(["run-async", "in/a,in/b", "2"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(Report::parse(&stdout), expect);
        let contents: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("OUT "))
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(contents, ["async: 3", "async: 6", "async: 30", "async: 60"]);
    };
    run(Report {
        calls: 4,
        done_before: 0,
        dispatched: 4,
        jobs: 1,
    });
    run(Report {
        calls: 4,
        done_before: 4,
        dispatched: 0,
        jobs: 0,
    });
}

/// Ctrl-C in a driver waiting on its tasks, at a terminal: the bar goes,
/// the message says which jobs it cancels, the jobs stop, and the driver
/// exits with 130.
#[test]
fn ctrl_c_in_a_slurm_driver_cancels_its_job_and_clears_the_bar() {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{ControlCode, Eof, Expect, Regex, Session};
    let dir = TestDir::new();
    let Some(p) = Pipeline::on_moto(&dir, "slurm-ctrl-c") else {
        return;
    };
    p.put("in/stuck", "hang");
    let mut command = p.command();
    command
        .args(["run", "in/stuck", "2"])
        .env("TERM", "xterm-256color");
    let mut session = Session::spawn(command).expect("spawn the driver on a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(300)));
    let submitted = session
        .expect(Regex(r"submitted slurm job (\d+)"))
        .expect("the driver submits its job");
    let job = String::from_utf8_lossy(submitted.get(1).unwrap()).into_owned();
    // The bar of the job's tasks is on the terminal; its tasks never end.
    session.expect("/2 done, ").expect("the task bar");
    session.send(ControlCode::EndOfText).expect("press Ctrl-C");
    let shown = session.expect(Eof).expect("the driver ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).into_owned();
    let status = session.get_process().wait().expect("wait for the driver");
    assert!(
        matches!(status, WaitStatus::Exited(_, 130)),
        "{status:?}\n{shown}"
    );
    let message = format!("lake: interrupted: scancel {job}");
    let at = shown
        .find(&message)
        .unwrap_or_else(|| panic!("no {message:?} in {shown:?}"));
    // The bar was erased, so the message starts its own line, and nothing
    // of the bar is drawn after it.
    let before = &shown[..at];
    assert!(
        before.ends_with("\x1b[2K") || before.ends_with('\n'),
        "the message follows a bar that was not cleared: {shown:?}"
    );
    assert!(
        !shown[at..].contains(" done, "),
        "a bar after the message: {shown:?}"
    );
    // Every task of the job is cancelled (squeue lists them so for a while,
    // then forgets the job).
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = Command::new("squeue")
            .args(["-h", "-r", "-t", "all", "-j", &job, "-o", "%T"])
            .output()
            .expect("run squeue");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && stderr.contains("Invalid job id") {
            break;
        }
        assert!(out.status.success(), "squeue: {stderr}");
        let states = String::from_utf8_lossy(&out.stdout).into_owned();
        if !states.is_empty() && states.lines().all(|s| s == "CANCELLED") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "job {job}'s tasks are not cancelled a minute after Ctrl-C: {states:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// A task whose program was built from other code refuses the call, exits
/// 2, and leaves its reason in the store for the driver.
#[test]
fn slurm_worker_refuses_a_call_from_other_code() {
    if !slurm_from_env() {
        return;
    }
    let dir = TestDir::new();
    let batch = lake_tests::foreign_batch(&dir.store_dir(), "other-build");
    let log = dir.path().join("task.log");
    let program = env!("CARGO_BIN_EXE_lake-batch-pipeline");
    let mut sbatch = Command::new("sbatch");
    sbatch
        .current_dir(dir.path())
        .env("BATCH_HOME", dir.home())
        .env("BATCH_STORE", dir.store_url())
        .args(["--wait", "--array=0", "--quiet"])
        .arg(format!("--output={}", log.display()))
        .arg(format!("--wrap=exec '{program}' --lake-worker other-build"));
    if let Ok(partition) = std::env::var("LAKE_TEST_SLURM_PARTITION") {
        sbatch.arg(format!("--partition={partition}"));
    }
    let out = sbatch.output().unwrap();
    assert!(!out.status.success(), "the job must fail");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("refusing lake_batch_pipeline::scale: its code identity in this program"),
        "{text}"
    );
    let failure = std::fs::read_to_string(batch.join("failures/0.json")).unwrap();
    assert!(failure.contains("\"retryable\":false"), "{failure}");
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

/// The cluster example (examples/examples/cluster.rs), driven as a user
/// would: `[executor] kind = "slurm"` in a `lake.toml`, the store on moto.
/// The first run submits one array job per stage, stage 2's only after
/// stage 1's finished (stage by stage, not `--dependency=afterok`: see
/// docs/design/0012), with the results of the local executor; the second
/// submits nothing; a changed reading submits exactly its station's 10 + 1
/// calls, with the bar of done, running and pending tasks on a terminal;
/// a comment-only edit submits its 10 stage 1 calls, which make the same
/// bytes, so stage 2 submits nothing.
#[test]
fn cluster_example_on_slurm_submits_each_stage_once_then_only_what_changed() {
    use lake_tests::{StageReport, add_a_comment, change_a_reading, stage_reports, station_lines};
    if !slurm_from_env() {
        return;
    }
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let partition = std::env::var("LAKE_TEST_SLURM_PARTITION")
        .map(|p| format!("partition = \"{p}\"\n"))
        .unwrap_or_default();
    dir.write(
        "lake.toml",
        format!("[executor]\nkind = \"slurm\"\n{partition}"),
    );
    let store = server.fresh_url("cluster");
    let example = |store: &str| -> Command {
        let mut cmd = Command::new(lake_tests::example_bin("cluster"));
        cmd.current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("LAKE_HOME", dir.home())
            .env("LAKE_STORE", store);
        if let Some(conf) = std::env::var_os("SLURM_CONF") {
            cmd.env("SLURM_CONF", conf);
        }
        for (k, v) in server.env_vars() {
            cmd.env(k, v);
        }
        cmd
    };
    let run = |what: &str| -> (String, String) {
        let started = Instant::now();
        let out = example(&store).output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "{what}:\n{stdout}\n{stderr}");
        eprintln!("{what}: {:.2?}", started.elapsed());
        // Not a terminal: no bar, only a line per job when it ends.
        assert!(
            !stderr.contains(" running, "),
            "{what}: a bar on a pipe:\n{stderr}"
        );
        (stdout, stderr)
    };

    let (first, log) = run("first run");
    assert_eq!(
        stage_reports(&first),
        [StageReport::new(200, 200, 1), StageReport::new(20, 20, 1)]
    );
    let finished = log
        .find("200 task(s) finished in ")
        .unwrap_or_else(|| panic!("stage 1's job never finished:\n{log}"));
    let second_job = log.rfind("lake: submitted slurm job ").unwrap();
    assert!(
        finished < second_job,
        "stage 2 was submitted before stage 1 finished:\n{log}"
    );
    assert!(log.contains("20 task(s) finished in "), "{log}");
    let results = station_lines(&first);
    assert_eq!(results.len(), 20, "{first}");
    // The same pipeline on the local executor, on another store, agrees.
    let local = example(&server.fresh_url("cluster-local"))
        .env("LAKE_EXECUTOR", "local")
        .env("LAKE_HOME", dir.path().join("local-home"))
        .output()
        .unwrap();
    assert!(local.status.success());
    assert_eq!(
        station_lines(&String::from_utf8_lossy(&local.stdout)),
        results
    );

    let (second, log) = run("second run");
    assert_eq!(
        stage_reports(&second),
        [StageReport::new(200, 0, 0), StageReport::new(20, 0, 0)]
    );
    assert!(!log.contains("submitted"), "{log}");
    assert_eq!(station_lines(&second), results);

    // On a terminal, with the bar: one reading of station 5 changed.
    change_a_reading(&dir.path().join("stations/station-05.csv"));
    let (shown, code) = on_a_terminal(example(&store));
    assert_eq!(code, 0, "{shown}");
    assert_eq!(
        stage_reports(&shown),
        [StageReport::new(200, 10, 1), StageReport::new(20, 1, 1)]
    );
    assert!(
        shown.contains("/10 done, "),
        "no bar of stage 1's tasks:\n{shown}"
    );
    assert!(shown.contains(" pending, 0 failed"), "{shown}");
    let now = station_lines(&shown);
    for (i, (before, after)) in results.iter().zip(&now).enumerate() {
        assert_eq!(before == after, i != 5, "station {i}: {before} / {after}");
    }

    add_a_comment(&dir.path().join("stations/station-03.csv"));
    let (commented, _) = run("comment-only edit");
    assert_eq!(
        stage_reports(&commented),
        [StageReport::new(200, 10, 1), StageReport::new(20, 0, 0)]
    );
    assert_eq!(station_lines(&commented), now);
}

/// Runs `command` on a pseudo-terminal: everything it showed (stdout and
/// stderr, as one stream, with `\r`s removed) and its exit code.
fn on_a_terminal(mut command: Command) -> (String, i32) {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{Eof, Expect, Session};
    command.env("TERM", "xterm-256color");
    let mut session = Session::spawn(command).expect("spawn on a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(600)));
    let shown = session.expect(Eof).expect("the program ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).replace('\r', "\n");
    match session.get_process().wait().expect("wait for it") {
        WaitStatus::Exited(_, code) => (shown, code),
        other => panic!("it did not exit: {other:?}\n{shown}"),
    }
}
