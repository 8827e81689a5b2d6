//! The test kit as a user's `cargo test` drives it (issue 18): temporary
//! lakes, outcomes, `assert_hit!`/`assert_ran!`, `expect_runs` and `force`.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use lake_runtime::test::{HitSource, Outcome, RunReason};
use lake_runtime::{Error, File, Lake, assert_hit, assert_ran, file_creator};

fn add(lake: &Lake, name: &str, text: &str) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(text.as_bytes()).unwrap();
    w.commit().unwrap()
}

fn write_output(text: &str) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(text.as_bytes())?;
    out.commit()
}

#[file_creator]
fn clean(raw: &File, lowercase: bool) -> lake_runtime::Result<File> {
    let text = raw.read_to_string()?;
    write_output(&if lowercase { text.to_lowercase() } else { text })
}

#[file_creator]
fn report(cleaned: &File, title: String) -> lake_runtime::Result<File> {
    write_output(&format!("# {title}\n{}", cleaned.read_to_string()?))
}

#[file_creator]
fn banner(width: u32) -> lake_runtime::Result<File> {
    write_output(&"=".repeat(width as usize))
}

fn pipeline(raw: &File) -> lake_runtime::Result<File> {
    let cleaned = clean(raw, true)?;
    report(&cleaned, "Weekly".into())
}

#[test]
fn second_call_hits_and_outcomes_say_where_from() {
    let lake = Lake::temporary().unwrap();
    let raw = add(&lake, "raw/a.txt", "Hello");
    let first = assert_ran!(clean(&raw, true)).unwrap();
    let again = assert_hit!(clean(&raw, true)).unwrap();
    assert_eq!(first, again);
    let outcomes: Vec<Outcome> = lake.outcomes().iter().map(|o| o.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Ran(RunReason::NoRun),
            Outcome::Hit(HitSource::Memory)
        ]
    );
    assert!(lake.outcomes().is_empty(), "outcomes() drains");
    let counts = lake.outcome_counts_of("clean");
    assert_eq!((counts.hits, counts.runs), (1, 1));
    assert_eq!(lake.outcome_counts()["test_kit::clean"], counts);

    // A fresh process on the same home: the index answers.
    let reopened = Lake::open_with(lake.config().clone()).unwrap();
    reopened.track_outcomes(true);
    let raw_again = reopened.file("raw/a.txt").unwrap();
    reopened.scope(|| clean(&raw_again, true)).unwrap();
    assert_eq!(
        reopened.outcomes()[0].outcome,
        Outcome::Hit(HitSource::Index)
    );

    // A second machine on the same store: the store answers.
    let other = lake.second_machine().unwrap();
    let raw_there = other.file("raw/a.txt").unwrap();
    assert_hit!(clean(&raw_there, true)).unwrap();
    assert_eq!(other.outcomes()[0].outcome, Outcome::Hit(HitSource::Store));
}

#[test]
fn changing_an_argument_reruns_the_step() {
    let _lake = Lake::temporary().unwrap();
    assert_ran!(banner(3)).unwrap();
    assert_hit!(banner(3)).unwrap();
    let wide = assert_ran!(banner(5)).unwrap();
    assert_eq!(wide.read_to_string().unwrap(), "=====");
}

#[test]
fn after_an_input_changes_exactly_these_steps_rerun() {
    let lake = Lake::temporary().unwrap();
    let raw = add(&lake, "raw/week1.txt", "Sales UP");
    lake.expect_runs(&["clean", "report"], || pipeline(&raw))
        .unwrap();
    lake.expect_runs(&[], || pipeline(&raw)).unwrap();
    // Same bytes under another name: early cutoff, nothing re-runs.
    let copy = add(&lake, "raw/week1-copy.txt", "Sales UP");
    lake.expect_runs(&[], || pipeline(&copy)).unwrap();
    // New bytes that clean to the same text: only clean re-runs.
    let shouted = add(&lake, "raw/week1-shouted.txt", "SALES UP");
    lake.expect_runs(&["clean"], || pipeline(&shouted)).unwrap();
    let changed = add(&lake, "raw/week2.txt", "Sales down");
    let out = lake
        .expect_runs(&["clean", "report"], || pipeline(&changed))
        .unwrap();
    assert_eq!(out.read_to_string().unwrap(), "# Weekly\nsales down");
}

#[test]
#[should_panic(expected = "`banner(4)` was expected to hit, but test_kit::banner: \
                           ran (no run with this key); argument `width` changed")]
fn assert_hit_names_the_creator_and_the_changed_argument() {
    let _lake = Lake::temporary().unwrap();
    banner(3).unwrap();
    assert_hit!(banner(4)).unwrap();
}

#[test]
#[should_panic(expected = "`banner(3)` was expected to run, but test_kit::banner: hit (memory)")]
fn assert_ran_names_where_the_hit_came_from() {
    let _lake = Lake::temporary().unwrap();
    banner(3).unwrap();
    assert_ran!(banner(3)).unwrap();
}

#[test]
#[should_panic(expected = "unexpected: test_kit::clean: ran (no run with this key); \
                           input `raw` changed")]
fn expect_runs_names_unexpected_runs_and_their_cause() {
    let lake = Lake::temporary().unwrap();
    let a = add(&lake, "raw/a.txt", "a");
    let b = add(&lake, "raw/b.txt", "b");
    clean(&a, false).unwrap();
    lake.expect_runs(&[], || clean(&b, false)).unwrap();
}

#[test]
#[should_panic(expected = "did not run: report (not called)")]
fn expect_runs_names_expected_runs_that_did_not_happen() {
    let lake = Lake::temporary().unwrap();
    let a = add(&lake, "raw/a.txt", "a");
    lake.expect_runs(&["clean", "report"], || clean(&a, false))
        .unwrap();
}

#[test]
#[should_panic(expected = "called no creator on the lake in scope")]
fn assert_hit_without_a_creator_call_fails() {
    let _lake = Lake::temporary().unwrap();
    assert_hit!(1 + 1);
}

#[test]
fn calls_on_other_threads_never_fall_through_to_the_default_home() {
    let lake = Lake::temporary().unwrap();
    let err = std::thread::Builder::new()
        .name("worker".into())
        .spawn(|| banner(1).unwrap_err())
        .unwrap()
        .join()
        .unwrap();
    assert!(
        matches!(&err, Error::NoLakeInScope { thread } if thread == "worker"),
        "{err:?}"
    );
    // Inside a scope the other thread may use the temporary lake.
    let worker_lake = (*lake).clone();
    std::thread::spawn(move || worker_lake.scope(|| banner(1)).unwrap())
        .join()
        .unwrap();
    assert_eq!(lake.outcome_counts_of("banner").runs, 1);
}

#[test]
fn a_temporary_lake_is_removed_on_drop() {
    let (home, store) = {
        let lake = Lake::temporary().unwrap();
        banner(2).unwrap();
        (lake.home_dir().to_owned(), lake.store_dir().to_owned())
    };
    assert!(!home.exists(), "{}", home.display());
    assert!(!store.exists(), "{}", store.display());
}

#[test]
fn parallel_tests_never_see_each_others_outcomes() {
    let threads: Vec<_> = (0..4u32)
        .map(|i| {
            std::thread::spawn(move || {
                let lake = Lake::temporary().unwrap();
                for _ in 0..20 {
                    banner(10 + i).unwrap();
                }
                let outcomes = lake.outcomes();
                assert_eq!(outcomes.len(), 20);
                assert_eq!(lake.outcome_counts_of("*").runs, 1);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[file_creator]
fn stamped(n: u32) -> lake_runtime::Result<File> {
    // Different bytes on every run: not reproducible.
    let run = FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    write_output(&format!("{n} run {run}"))
}

#[test]
fn a_forced_run_reruns_and_must_give_identical_bytes() {
    let lake = Lake::temporary().unwrap();
    let first = banner(7).unwrap();
    lake.force("banner");
    let forced = banner(7).unwrap();
    assert_eq!(forced, first);
    let outcomes = lake.outcomes();
    assert_eq!(
        outcomes.last().unwrap().outcome,
        Outcome::Ran(RunReason::Forced)
    );

    stamped(1).unwrap();
    lake.force("test_kit::stamped");
    let err = stamped(1).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("stamped/"), "names the output: {message}");
    // The committed bytes are still the first run's.
    let name = match &err {
        Error::NameTaken { name, .. } => name.clone(),
        other => panic!("expected NameTaken, got {other:?}"),
    };
    assert_eq!(
        lake.file(name.as_str()).unwrap().read_to_string().unwrap(),
        "1 run 0"
    );
}

#[file_creator]
async fn fetch_async(width: u32) -> lake_runtime::Result<File> {
    tokio::task::yield_now().await;
    write_output(&"-".repeat(width as usize))
}

#[tokio::test]
async fn async_creators_record_outcomes_too() {
    let lake = Lake::temporary().unwrap();
    assert_ran!(fetch_async(2).await).unwrap();
    assert_hit!(fetch_async(2).await).unwrap();
    lake.force("fetch_async");
    assert_ran!(fetch_async(2).await).unwrap();
    assert_eq!(lake.outcome_counts_of("fetch_async").runs, 2);
}

/// `File::new` resolves in the temporary lake, like every other lookup of
/// the current lake: a test never reads the user's default home.
#[test]
fn file_new_resolves_in_the_temporary_lake() {
    let lake = Lake::temporary().unwrap();
    add(&lake, "raw/only-here.txt", "temporary");
    let file = File::new("raw/only-here.txt").unwrap();
    assert_eq!(file.lake().home_dir(), lake.home_dir());
    assert_eq!(file.read_to_string().unwrap(), "temporary");
}
