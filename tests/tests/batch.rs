//! Batches on the local executor (issue 15, docs/design/0012): calls are
//! planned on the driver, duplicates run once, done calls do not run
//! again, a changed input re-runs exactly its calls, failures are reported
//! per call; and a worker refuses a call described by other code.
//!
//! The Slurm executor's end-to-end tests are in `slurm.rs`.

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use lake_runtime::{BatchOptions, Executor, File, Lake, batch_with, file_creator};
use lake_tests::TestDir;

/// Bodies run, across the pool's threads.
static BODIES: AtomicUsize = AtomicUsize::new(0);

/// Bodies of [`shout`] run (its own counter: tests run in parallel).
static ASYNC_BODIES: AtomicUsize = AtomicUsize::new(0);

/// An async creator: batched through `Batch::call_async`.
#[file_creator]
async fn shout(text: &File, times: usize) -> lake_runtime::Result<File> {
    ASYNC_BODIES.fetch_add(1, Ordering::SeqCst);
    // A real await, so that the body is not finished at its first poll.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let text = text.read_to_string()?.to_uppercase();
    let mut out = File::create_output()?;
    out.write_all(text.repeat(times).as_bytes())?;
    out.commit()
}

#[file_creator]
fn repeat(text: &File, times: usize) -> lake_runtime::Result<File> {
    BODIES.fetch_add(1, Ordering::SeqCst);
    let text = text.read_to_string()?;
    if text == "fail" {
        return Err(std::io::Error::other("this input fails").into());
    }
    let mut out = File::create_output()?;
    out.write_all(text.repeat(times).as_bytes())?;
    out.commit()
}

fn put(lake: &Lake, name: &str, text: &str) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(text.as_bytes()).unwrap();
    w.commit().unwrap()
}

fn local() -> BatchOptions {
    BatchOptions::new()
        .with_executor(Executor::Local)
        .with_jobs(3)
}

/// One test, so that the body counter is this test's alone.
#[test]
fn local_batch_plans_dedups_skips_and_reruns_what_changed() {
    let lake = Lake::temporary().unwrap();
    let inputs: Vec<File> = (0..4)
        .map(|i| put(&lake, &format!("in/{i}"), &format!("<{i}>")))
        .collect();
    let calls = |inputs: &[File]| {
        let inputs = inputs.to_vec();
        batch_with(&local(), move |b| {
            for input in &inputs {
                for times in 1..=3 {
                    let input = input.clone();
                    b.call(move || repeat(&input, times));
                }
            }
            // A duplicate of the first call: planned, never run twice.
            let first = inputs[0].clone();
            b.call(move || repeat(&first, 1));
        })
    };

    BODIES.store(0, Ordering::SeqCst);
    let run = calls(&inputs).unwrap();
    assert_eq!(run.report.calls, 13);
    assert_eq!(run.report.unique, 12);
    assert_eq!(run.report.already_done, 0);
    assert_eq!(run.report.dispatched, 12);
    assert!(run.report.jobs.is_empty());
    assert_eq!(BODIES.load(Ordering::SeqCst), 12);
    // In order, the duplicate included.
    assert_eq!(run.outputs[0].read_to_string().unwrap(), "<0>");
    assert_eq!(run.outputs[5].read_to_string().unwrap(), "<1><1><1>");
    assert_eq!(run.outputs[12].name(), run.outputs[0].name());

    // The same batch again: everything is done, nothing runs.
    BODIES.store(0, Ordering::SeqCst);
    let again = calls(&inputs).unwrap();
    assert_eq!(again.report.already_done, 12);
    assert_eq!(again.report.dispatched, 0);
    assert_eq!(BODIES.load(Ordering::SeqCst), 0);
    let names = |r: &lake_runtime::BatchRun<File>| {
        r.outputs
            .iter()
            .map(|f| f.name().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&again), names(&run));

    // One input changes: exactly its three calls run.
    let mut changed = inputs.clone();
    changed[2] = put(&lake, "in/2-v2", "<2 again>");
    BODIES.store(0, Ordering::SeqCst);
    let third = calls(&changed).unwrap();
    assert_eq!(third.report.dispatched, 3);
    assert_eq!(third.report.already_done, 9);
    assert_eq!(BODIES.load(Ordering::SeqCst), 3);
    assert_eq!(
        third.outputs[8].read_to_string().unwrap(),
        "<2 again><2 again><2 again>"
    );

    // A failing call is reported by index and creator; the others commit.
    let mut failing = inputs.clone();
    failing[1] = put(&lake, "in/1-fail", "fail");
    let err = calls(&failing).unwrap_err().to_string();
    assert!(err.starts_with("3 of 12 batch calls failed"), "{err}");
    assert!(err.contains("call 3 (batch::repeat key "), "{err}");
    assert!(err.contains("this input fails"), "{err}");
}

#[test]
fn a_batch_call_must_make_one_creator_call() {
    let lake = Lake::temporary().unwrap();
    let input = put(&lake, "in/a", "a");
    let err = batch_with(&local(), |b| {
        b.call(|| Ok::<File, lake_runtime::Error>(input.clone()))
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("made no creator call"), "{err}");
    let err = batch_with(&local(), |b| {
        b.call(|| {
            repeat(&input, 1)?;
            repeat(&input, 2)
        })
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("more than one creator call"), "{err}");
}

/// A worker refuses a call whose code identity is not its own, before
/// decoding anything, says why, and records it for the driver.
#[test]
fn worker_refuses_a_call_from_other_code() {
    let t = TestDir::new();
    let dir = lake_tests::foreign_batch(&t.store_dir(), "other-build");
    let out = Command::new(env!("CARGO_BIN_EXE_lake-batch-pipeline"))
        .args(["--lake-worker", "other-build", "0"])
        .env("BATCH_HOME", t.home())
        .env("BATCH_STORE", t.store_url())
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "refusing lake_batch_pipeline::scale: its code identity in this program is code hash"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("the driver's was code hash 0123456789ab…"),
        "{stderr}"
    );
    let failure = std::fs::read_to_string(dir.join("failures/0.json")).unwrap();
    assert!(failure.contains("\"retryable\":false"), "{failure}");
}

/// Async creators batch as sync ones do: planned without running, run once
/// per distinct call, skipped when done; from a plain thread and from
/// inside a tokio runtime, where the collecting state must follow the
/// future onto the thread that polls it (else the body would run while the
/// batch is being gathered and the call would be refused as "no creator
/// call").
#[test]
fn async_creators_batch_from_plain_threads_and_inside_a_runtime() {
    let lake = Lake::temporary().unwrap();
    let inputs: Vec<File> = (0..3)
        .map(|i| put(&lake, &format!("in/{i}"), &format!("a{i}")))
        .collect();
    let calls = |times: std::ops::RangeInclusive<usize>| {
        let inputs = inputs.clone();
        batch_with(&local(), move |b| {
            for input in &inputs {
                for t in times.clone() {
                    let input = input.clone();
                    b.call_async(move || {
                        let input = input.clone();
                        async move { shout(&input, t).await }
                    });
                }
            }
            let first = inputs[0].clone();
            b.call_async(move || {
                let first = first.clone();
                async move { shout(&first, 1).await }
            });
        })
    };

    ASYNC_BODIES.store(0, Ordering::SeqCst);
    let run = calls(1..=2).unwrap();
    assert_eq!(
        (run.report.calls, run.report.unique, run.report.dispatched),
        (7, 6, 6)
    );
    assert_eq!(ASYNC_BODIES.load(Ordering::SeqCst), 6);
    assert_eq!(run.outputs[3].read_to_string().unwrap(), "A1A1");
    assert_eq!(run.outputs[6].name(), run.outputs[0].name());

    // From inside a runtime: the two done calls per input are skipped, the
    // new ones (times = 3) run, each once.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    ASYNC_BODIES.store(0, Ordering::SeqCst);
    let again = runtime.block_on(async { calls(1..=3) }).unwrap();
    assert_eq!((again.report.already_done, again.report.dispatched), (6, 3));
    assert_eq!(ASYNC_BODIES.load(Ordering::SeqCst), 3);
    assert_eq!(again.outputs[5].read_to_string().unwrap(), "A1A1A1");
}

/// The cluster example (examples/examples/cluster.rs) on the local
/// executor, its default: 200 stage 1 calls and 20 stage 2 calls, nothing
/// the second time, exactly a station's 10 + 1 calls after one of its
/// readings changed, and after a comment-only edit its 10 stage 1 calls
/// but no stage 2 call: stage 2 is planned once stage 1 is done, on the
/// digests of what stage 1 made (docs/design/0012, "Stages").
#[test]
fn cluster_example_runs_locally_stage_by_stage() {
    use lake_tests::{StageReport, stage_reports, station_lines};
    let t = TestDir::new();
    let first = t.run_example("cluster");
    assert_eq!(
        stage_reports(&first),
        [StageReport::new(200, 200, 0), StageReport::new(20, 20, 0)]
    );
    let results = station_lines(&first);
    assert_eq!(results.len(), 20, "{first}");

    let second = t.run_example("cluster");
    assert_eq!(
        stage_reports(&second),
        [StageReport::new(200, 0, 0), StageReport::new(20, 0, 0)]
    );
    assert_eq!(station_lines(&second), results);

    lake_tests::change_a_reading(&t.path().join("stations/station-05.csv"));
    let changed = t.run_example("cluster");
    assert_eq!(
        stage_reports(&changed),
        [StageReport::new(200, 10, 0), StageReport::new(20, 1, 0)]
    );
    let now = station_lines(&changed);
    for (i, (before, after)) in results.iter().zip(&now).enumerate() {
        assert_eq!(before == after, i != 5, "station {i}: {before} / {after}");
    }

    lake_tests::add_a_comment(&t.path().join("stations/station-03.csv"));
    let commented = t.run_example("cluster");
    assert_eq!(
        stage_reports(&commented),
        [StageReport::new(200, 10, 0), StageReport::new(20, 0, 0)]
    );
    assert_eq!(station_lines(&commented), now);
}

/// `lake gc` removes what batches leave in the store (`batches/<id>/`) and
/// the task logs in the home once older than the grace period and than
/// `BATCH_GC_MIN_AGE`,
/// since array tasks may wait in a queue for days; `--grace 0` removes it
/// all, as it removes every other leftover.
#[test]
fn gc_removes_batches_past_their_minimum_age() {
    let day = std::time::Duration::from_secs(24 * 3600);
    assert_eq!(lake_runtime::BATCH_GC_MIN_AGE, 7 * day);
    let backdate = |path: &std::path::Path, age: std::time::Duration| {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - age)
            .unwrap();
    };
    let t = TestDir::new();
    let old = lake_tests::foreign_batch(&t.store_dir(), "old-batch").join("calls.json");
    let young = lake_tests::foreign_batch(&t.store_dir(), "young-batch").join("calls.json");
    // The task logs the Slurm executor leaves in the driver's home.
    let old_log = t.write("home/batches/old-batch/12_0.log", "done\n");
    let young_log = t.write("home/batches/young-batch/13_0.log", "done\n");
    assert!(old_log.starts_with(t.home()));
    backdate(&old, 8 * day);
    backdate(&old_log, 8 * day);
    // Past an hour's grace, not past the minimum age.
    backdate(&young, 2 * day);
    backdate(&young_log, 2 * day);

    let report = t.lake().args(["gc", "--grace", "3600", "--json"]).json();
    assert_eq!(report["batches"]["count"], 2, "{report:#}");
    assert!(!old.exists());
    assert!(
        !old_log.parent().unwrap().exists(),
        "its emptied directory goes too"
    );
    assert!(young.exists());
    assert!(young_log.exists());
    let kinds: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["store-batch", "home-batch-log"], "{report:#}");

    let report = t.lake().args(["gc", "--grace", "0", "--json"]).json();
    assert_eq!(report["batches"]["count"], 2, "{report:#}");
    assert!(!young.exists());
    assert!(!young_log.exists());
}
