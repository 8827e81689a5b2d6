//! Behaviour of `#[file_creator]` against memory and file stores:
//! miss → hit, recompute on changes, errors and panics commit nothing.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::Write;

use lake_runtime::{File, Lake, LakeConfigBuilder, file_creator};

// Run counters are per thread: tests run in parallel and share creators,
// and a sync creator's body runs on the calling thread, so a test counts
// only its own runs. (A shared counter let `explicit_output_uid_…` see the
// run of another test and fail, in 1 of 6 full runs.)
thread_local! {
    static PROCESS_RUNS: Cell<usize> = const { Cell::new(0) };
}

fn lake_on(store: &str) -> (Lake, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home"))
            .with_store(store)
            .build()
            .unwrap(),
    )
    .unwrap();
    (lake, dir)
}

fn add(lake: &Lake, name: &str, content: &[u8]) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(content).unwrap();
    w.commit().unwrap()
}

#[file_creator]
fn process(input: &File, suffix: String) -> File {
    PROCESS_RUNS.set(PROCESS_RUNS.get() + 1);
    let mut text = input.read_to_string().unwrap();
    text.push_str(&suffix);
    let mut out = File::create_output().unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.commit().unwrap()
}

#[test]
fn miss_then_hit_in_memory() {
    let (lake, _dir) = lake_on("memory://creator-miss-hit");
    let input = add(&lake, "raw/a.txt", b"data\n");
    let before = PROCESS_RUNS.get();
    let first = process(&input, "additional data\n".into());
    let second = process(&input, "additional data\n".into());
    assert_eq!(PROCESS_RUNS.get() - before, 1, "second call must skip");
    assert_eq!(first, second);
    assert_eq!(first.read_to_string().unwrap(), "data\nadditional data\n");
    assert!(
        first.name().as_str().starts_with("process/"),
        "{}",
        first.name()
    );
}

#[file_creator(version = "1")]
fn fails(input: &File, fail: bool) -> Result<File, lake_runtime::Error> {
    let mut out = File::create_output()?;
    out.write_all(&input.read()?)?;
    if fail {
        return Err(std::io::Error::other("asked to fail").into());
    }
    out.commit()
}

#[test]
fn error_in_body_commits_nothing() {
    let (lake, _dir) = lake_on("memory://creator-error");
    let input = add(&lake, "in", b"x");
    let err = fails(&input, true).unwrap_err();
    assert!(err.to_string().contains("asked to fail"));
    let names: Vec<_> = lake
        .list("", true)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["in"]);
    let ok = fails(&input, false).unwrap();
    assert_eq!(ok.read().unwrap(), b"x");
}

#[file_creator]
fn weighted(weights: HashMap<String, u32>) -> File {
    let mut out = File::create_output().unwrap();
    let mut keys: Vec<_> = weights.iter().collect();
    keys.sort();
    write!(out, "{keys:?}").unwrap();
    out.commit().unwrap()
}

#[test]
fn hashmap_argument_gives_one_name_and_file_store_works() {
    let dir = tempfile::tempdir().unwrap();
    let (lake, _home) = lake_on(&format!("file://{}", dir.path().display()));
    let a: HashMap<String, u32> = (0..50).map(|i| (format!("k{i}"), i)).collect();
    let mut b = HashMap::new();
    for i in (0..50).rev() {
        b.insert(format!("k{i}"), i);
    }
    let first = lake.scope(|| weighted(a));
    let second = lake.scope(|| weighted(b));
    assert_eq!(first.name(), second.name());
}

#[file_creator]
async fn shout(input: &File) -> File {
    let text = input.read_to_string().unwrap().to_uppercase();
    let mut out = File::create_output().unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.commit_async().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn async_creator_and_sync_creator_inside_tokio() {
    let (lake, _dir) = lake_on("memory://creator-async");
    let input = add(&lake, "in.txt", b"hi");
    let loud = shout(&input).await;
    assert_eq!(loud.read_to_string().unwrap(), "HI");
    let processed = process(&input, "!".into());
    assert_eq!(processed.read_to_string().unwrap(), "hi!");
}

// ------------------------------------------------------------------ helpers

fn names_in(lake: &Lake) -> Vec<String> {
    lake.list("", true)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect()
}

/// A fresh `file://` store directory and a lake on it.
fn lake_on_dir() -> (Lake, tempfile::TempDir, tempfile::TempDir) {
    let store = tempfile::tempdir().unwrap();
    let (lake, home) = lake_on(&format!("file://{}", store.path().display()));
    (lake, home, store)
}

/// Runs `check` against a memory store and a file store.
fn on_both_stores(test: &str, check: impl Fn(&Lake)) {
    let (lake, _home) = lake_on(&format!("memory://{test}"));
    check(&lake);
    let (lake, _home, _store) = lake_on_dir();
    check(&lake);
}

// ------------------------------------------------------ recompute on change

thread_local! {
    static TAG_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[file_creator]
fn tag(input: &File, label: String) -> File {
    TAG_RUNS.set(TAG_RUNS.get() + 1);
    let mut out = File::create_output().unwrap();
    write!(out, "{label}:{}", input.read_to_string().unwrap()).unwrap();
    out.commit().unwrap()
}

#[test]
fn changed_argument_recomputes() {
    on_both_stores("creator-changed-arg", |lake| {
        let input = add(lake, "in.txt", b"body");
        let a = tag(&input, "a".into());
        let b = tag(&input, "b".into());
        assert_ne!(a.name(), b.name());
        assert_eq!(a.read_to_string().unwrap(), "a:body");
        assert_eq!(b.read_to_string().unwrap(), "b:body");
        assert_eq!(tag(&input, "a".into()), a, "same argument again is a hit");
    });
}

#[test]
fn changed_input_content_recomputes() {
    on_both_stores("creator-changed-input", |lake| {
        let first = add(lake, "v1.txt", b"one");
        let second = add(lake, "v2.txt", b"two");
        let a = tag(&first, "x".into());
        let b = tag(&second, "x".into());
        assert_ne!(a.name(), b.name());
        assert_eq!(b.read_to_string().unwrap(), "x:two");
    });
}

thread_local! {
    static LENGTH_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[file_creator]
fn length(input: &File) -> File {
    LENGTH_RUNS.set(LENGTH_RUNS.get() + 1);
    let mut out = File::create_output().unwrap();
    write!(out, "{}", input.size().unwrap()).unwrap();
    out.commit().unwrap()
}

#[test]
fn same_content_under_a_new_name_is_a_hit() {
    // The only test that calls `length`; the stores run one after the other.
    on_both_stores("creator-renamed-input", |lake| {
        let original = add(lake, "original.txt", b"identical bytes");
        let copy = add(lake, "elsewhere/copy.txt", b"identical bytes");
        let before = LENGTH_RUNS.get();
        let a = length(&original);
        let b = length(&copy);
        assert_eq!(a.name(), b.name());
        assert_eq!(LENGTH_RUNS.get() - before, 1, "no recompute");
        assert_eq!(b.read_to_string().unwrap(), "15");
    });
}

mod v1 {
    use super::*;

    #[file_creator(version = "1")]
    pub fn versioned(input: &File) -> File {
        let mut out = File::create_output().unwrap();
        out.write_all(&input.read().unwrap()).unwrap();
        out.commit().unwrap()
    }
}

mod v2 {
    use super::*;

    #[file_creator(version = "2")]
    pub fn versioned(input: &File) -> File {
        let mut out = File::create_output().unwrap();
        out.write_all(&input.read().unwrap()).unwrap();
        out.commit().unwrap()
    }
}

#[test]
fn changed_version_recomputes() {
    on_both_stores("creator-version", |lake| {
        let input = add(lake, "in", b"v");
        let a = v1::versioned(&input);
        let b = v2::versioned(&input);
        assert_ne!(a.name(), b.name());
        assert_eq!(v1::versioned(&input), a);
        let version = |f: &File| match f.record().unwrap().lineage {
            lake_runtime::Lineage::Created(run) => run.version,
            other => panic!("not created by a run: {other:?}"),
        };
        assert_eq!(version(&a).as_deref(), Some("1"));
        assert_eq!(version(&b).as_deref(), Some("2"));
    });
}

// ------------------------------------------------------ HashMap, 2 processes

const CHILD_STORE_ENV: &str = "LAKE_TEST_HASHMAP_STORE";
const CHILD_PREFIX: &str = "HASHMAP_OUTPUT_NAME=";

fn hashmap_weights(reverse: bool) -> HashMap<String, u32> {
    let mut map = HashMap::new();
    let order: Vec<u32> = if reverse {
        (0..64).rev().collect()
    } else {
        (0..64).collect()
    };
    for i in order {
        map.insert(format!("key-{i}"), i * 7);
    }
    map
}

/// Run by `hashmap_argument_same_name_in_two_processes` in a child process.
#[test]
#[ignore = "run as a child process by hashmap_argument_same_name_in_two_processes"]
fn hashmap_child_process() {
    let Ok(store) = std::env::var(CHILD_STORE_ENV) else {
        return;
    };
    let (lake, _home) = lake_on(&format!("file://{store}"));
    let out = lake.scope(|| weighted(hashmap_weights(true)));
    println!("{CHILD_PREFIX}{}", out.name());
}

#[test]
fn hashmap_argument_same_name_in_two_processes() {
    let store = tempfile::tempdir().unwrap();
    let (lake, _home) = lake_on(&format!("file://{}", store.path().display()));
    let parent = lake.scope(|| weighted(hashmap_weights(false)));
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hashmap_child_process",
            "--nocapture",
            "--ignored",
        ])
        .env(CHILD_STORE_ENV, store.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let child = stdout
        .lines()
        .find_map(|l| l.strip_prefix(CHILD_PREFIX))
        .unwrap_or_else(|| panic!("child printed no name: {stdout}"));
    assert_eq!(parent.name().as_str(), child);
}

// ------------------------------------------------------------ panic in body

#[file_creator]
fn explodes(input: &File) -> File {
    let mut out = File::create_output().unwrap();
    out.write_all(&input.read().unwrap()).unwrap();
    let _staged = out;
    panic!("boom");
}

#[test]
fn panic_in_body_leaves_nothing_visible() {
    on_both_stores("creator-panic", |lake| {
        let input = add(lake, "in", b"x");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| explodes(&input)));
        assert!(result.is_err());
        assert_eq!(names_in(lake), ["in"]);
    });
}

#[file_creator]
fn explodes_after_commit(input: &File) -> File {
    let mut out = File::create_output().unwrap();
    out.write_all(&input.read().unwrap()).unwrap();
    let _committed = out.commit().unwrap();
    panic!("boom after commit");
}

#[test]
fn panic_after_output_commit_leaves_nothing_visible() {
    on_both_stores("creator-panic-after-commit", |lake| {
        let input = add(lake, "in", b"x");
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            explodes_after_commit(&input)
        }));
        assert!(result.is_err());
        assert_eq!(names_in(lake), ["in"]);
    });
}

// ---------------------------------------------------------- partial outputs

thread_local! {
    static SPLIT_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[file_creator]
fn split(input: &File) -> (File, File) {
    SPLIT_RUNS.set(SPLIT_RUNS.get() + 1);
    let text = input.read_to_string().unwrap();
    let (head, tail) = text.split_at(text.len() / 2);
    let mut a = File::create_output().unwrap();
    a.write_all(head.as_bytes()).unwrap();
    let mut b = File::create_output().unwrap();
    b.write_all(tail.as_bytes()).unwrap();
    (a.commit().unwrap(), b.commit().unwrap())
}

fn run_manifests(store: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![store.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "runs")
            {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn partial_outputs_are_completed_by_the_next_call() {
    let (lake, _home, store) = lake_on_dir();
    let input = add(&lake, "in.txt", b"abcdef");
    let (a, b) = split(&input);
    let manifests = run_manifests(store.path());
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    // Simulate a crash after the name records but before the manifest.
    std::fs::remove_file(&manifests[0]).unwrap();

    // A second home (the first one remembers the manifest in its index).
    let (lake2, _home2) = lake_on(&format!("file://{}", store.path().display()));
    let input2 = lake2.file("in.txt").unwrap();
    let (a2, b2) = split(&input2);
    assert_eq!(a.name(), a2.name());
    assert_eq!(b.name(), b2.name());
    assert_eq!(a2.read_to_string().unwrap(), "abc");
    assert_eq!(b2.read_to_string().unwrap(), "def");
    assert_eq!(
        run_manifests(store.path()).len(),
        1,
        "the manifest is rewritten"
    );

    // And the run is now complete: a third home skips it.
    let (lake3, _home3) = lake_on(&format!("file://{}", store.path().display()));
    let before = SPLIT_RUNS.get();
    let (a3, _) = split(&lake3.file("in.txt").unwrap());
    assert_eq!(a3.name(), a.name());
    assert_eq!(SPLIT_RUNS.get(), before);
}

// --------------------------------------------------------- undeclared names

#[file_creator]
fn sneaky(input: &File) -> lake_runtime::Result<File> {
    let mut other = File::create("other")?;
    other.write_all(&input.read()?)?;
    other.commit()
}

#[test]
fn undeclared_name_inside_body_is_refused() {
    on_both_stores("creator-undeclared", |lake| {
        let input = add(lake, "in", b"x");
        let err = sneaky(&input).unwrap_err();
        assert!(err.to_string().contains("other"), "{err}");
        assert_eq!(names_in(lake), ["in"]);
    });
}

// ------------------------------------------------------------ output_uid(s)

thread_local! {
    static NAMED_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[file_creator]
fn named(output_uid: &str, n: u32) -> lake_runtime::Result<File> {
    NAMED_RUNS.set(NAMED_RUNS.get() + 1);
    let mut out = File::create_output()?;
    write!(out, "n={n}")?;
    out.commit()
}

/// A second lake on the same home and store: a fresh process, as far as
/// the in-process memo goes.
fn reopen(lake: &Lake) -> Lake {
    Lake::open_with(lake.config().clone()).unwrap()
}

// See: issue 10 (explicit names: `x=2` returned the file `x=1` made).
#[test]
fn explicit_output_uid_with_another_argument_is_refused_naming_it() {
    on_both_stores("creator-output-uid", |lake| {
        let runs = || NAMED_RUNS.get();
        let first = lake.scope(|| named("reports/fixed.txt", 1)).unwrap();
        assert_eq!(first.name().as_str(), "reports/fixed.txt");
        assert_eq!(first.read_to_string().unwrap(), "n=1");

        // Same key: a hit, from the memo and from a fresh lake's index.
        let before = runs();
        assert_eq!(lake.scope(|| named("reports/fixed.txt", 1)).unwrap(), first);
        let fresh = reopen(lake);
        assert_eq!(
            fresh.scope(|| named("reports/fixed.txt", 1)).unwrap(),
            first
        );
        assert_eq!(runs(), before, "the same call must skip");

        // Another argument: refused, in this lake and in a fresh one, and
        // the old file is left as it was.
        for lake in [lake, &fresh] {
            let err = lake
                .scope(|| named("reports/fixed.txt", 2))
                .unwrap_err()
                .to_string();
            assert!(err.contains("\"reports/fixed.txt\""), "{err}");
            assert!(err.contains("argument n differs (was 1, now 2)"), "{err}");
            assert!(err.contains("choose another name"), "{err}");
            assert!(err.contains("remove the old file"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        assert_eq!(runs(), before, "a refused call must not run");
        assert_eq!(first.read_to_string().unwrap(), "n=1");

        // Another name runs.
        let other = lake.scope(|| named("reports/other.txt", 2)).unwrap();
        assert_eq!(other.read_to_string().unwrap(), "n=2");
    });
}

#[test]
fn explicit_output_uid_refuses_a_second_home_too() {
    let (a, _home_a, store) = lake_on_dir();
    a.scope(|| named("shared/report.txt", 1)).unwrap();
    let (b, _home_b) = lake_on(&format!("file://{}", store.path().display()));
    let err = b
        .scope(|| named("shared/report.txt", 7))
        .unwrap_err()
        .to_string();
    assert!(err.contains("argument n differs (was 1, now 7)"), "{err}");
    let hit = b.scope(|| named("shared/report.txt", 1)).unwrap();
    assert_eq!(hit.read_to_string().unwrap(), "n=1");
}

#[file_creator]
fn summarize(input: &File, output_uid: &str) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    write!(out, "{} bytes", input.size()?)?;
    out.commit()
}

#[test]
fn explicit_output_uid_with_other_input_content_is_refused_naming_the_input() {
    on_both_stores("explicit-input", |lake| {
        let v1 = add(lake, "data/v1.csv", b"1,2,3");
        let v2 = add(lake, "data/v2.csv", b"1,2,3,4");
        let made = summarize(&v1, "summary.txt").unwrap();
        assert_eq!(made.read_to_string().unwrap(), "5 bytes");
        let err = summarize(&v2, "summary.txt").unwrap_err().to_string();
        assert!(
            err.contains("input input differs (was \"data/v1.csv\", now \"data/v2.csv\")"),
            "{err}"
        );
        assert_eq!(made.read_to_string().unwrap(), "5 bytes");
    });
}

#[test]
fn explicit_output_uid_over_an_added_file_is_refused() {
    on_both_stores("explicit-added", |lake| {
        add(lake, "reports/by-hand.txt", b"typed by a person");
        let err = lake
            .scope(|| named("reports/by-hand.txt", 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"reports/by-hand.txt\""), "{err}");
        assert!(err.contains("was added"), "{err}");
        let file = lake.file("reports/by-hand.txt").unwrap();
        assert_eq!(file.read_to_string().unwrap(), "typed by a person");
    });
}

#[test]
fn removing_the_old_explicit_output_lets_the_new_call_run() {
    let (lake, _home, store) = lake_on_dir();
    lake.scope(|| named("reports/redo.txt", 1)).unwrap();
    assert!(lake.scope(|| named("reports/redo.txt", 2)).is_err());
    // What the refusal suggests: remove the old name record from the store.
    std::fs::remove_file(store.path().join("names/reports/redo.txt.json")).unwrap();
    let redone = lake.scope(|| named("reports/redo.txt", 2)).unwrap();
    assert_eq!(redone.read_to_string().unwrap(), "n=2");
}

#[test]
fn same_key_under_another_explicit_name_returns_that_name() {
    on_both_stores("explicit-same-key", |lake| {
        let a = lake.scope(|| named("same/a.txt", 5)).unwrap();
        let b = lake.scope(|| named("same/b.txt", 5)).unwrap();
        assert_eq!(a.name().as_str(), "same/a.txt");
        assert_eq!(b.name().as_str(), "same/b.txt");
        assert_eq!(b.read_to_string().unwrap(), "n=5");
        let again = reopen(lake).scope(|| named("same/b.txt", 5)).unwrap();
        assert_eq!(again.name().as_str(), "same/b.txt");
    });
}

#[file_creator]
fn named_many(output_uids: Vec<String>) -> Vec<File> {
    let mut files = Vec::new();
    for i in 0..2 {
        let mut out = File::create_output().unwrap();
        write!(out, "part {i}").unwrap();
        files.push(out.commit().unwrap());
    }
    files
}

#[test]
fn explicit_output_uids_skip_only_when_all_exist() {
    on_both_stores("creator-output-uids", |lake| {
        let names = vec!["many/a".to_owned(), "many/b".to_owned()];
        let files = lake.scope(|| named_many(names.clone()));
        let got: Vec<_> = files.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(got, names);
        assert_eq!(files[1].read_to_string().unwrap(), "part 1");
        let again = lake.scope(|| named_many(names.clone()));
        assert_eq!(again, files);
    });
}

#[file_creator]
fn named_pair(output_uids: Vec<String>, seed: u32) -> lake_runtime::Result<Vec<File>> {
    let mut files = Vec::new();
    for i in 0..2 {
        let mut out = File::create_output()?;
        write!(out, "{seed}.{i}")?;
        files.push(out.commit()?);
    }
    Ok(files)
}

#[test]
fn explicit_output_uids_where_one_name_has_another_key_are_refused() {
    on_both_stores("explicit-uids-mixed", |lake| {
        lake.scope(|| named_pair(vec!["pair/a".into(), "pair/b".into()], 1))
            .unwrap();
        // `pair/b` exists from seed 1; `pair/c` does not: still refused, or
        // the run would have to overwrite `pair/b`.
        let err = lake
            .scope(|| named_pair(vec!["pair/c".into(), "pair/b".into()], 2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"pair/b\""), "{err}");
        assert!(
            err.contains("argument seed differs (was 1, now 2)"),
            "{err}"
        );
        let b = lake.file("pair/b").unwrap();
        assert_eq!(b.read_to_string().unwrap(), "1.1");
        assert!(
            !names_in(lake).contains(&"pair/c".to_owned()),
            "nothing of the refused call is committed"
        );
    });
}

// ----------------------------------------------------------------- creators

#[test]
fn creators_lists_this_tests_creators() {
    let all: Vec<_> = lake_runtime::creators().collect();
    for name in ["process", "tag", "split", "shout", "named"] {
        let info = all
            .iter()
            .find(|c| c.name == name && c.module_path == module_path!())
            .unwrap_or_else(|| panic!("{name} not registered"));
        assert!(info.source_file.ends_with("file_creator.rs"), "{info:?}");
        assert!(info.source_line > 0);
        assert_eq!(info.code_hash.len(), 64, "{info:?}");
        assert!(info.code_hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(info.version, None);
    }
    let v1 = all
        .iter()
        .find(|c| c.path().ends_with("v1::versioned"))
        .expect("v1::versioned registered");
    assert_eq!(v1.version, Some("1"));
    // `process` is defined on this line relative to its `#[file_creator]`.
    let process = all.iter().find(|c| c.name == "process").unwrap();
    let source = include_str!("file_creator.rs");
    let line = source
        .lines()
        .nth(process.source_line as usize - 1)
        .unwrap();
    assert!(
        line.contains("fn process("),
        "line {}: {line}",
        process.source_line
    );
}

#[file_creator]
fn named_report(input: &File, output_uid: lake_runtime::Name) -> lake_runtime::Result<File> {
    // The body may use its explicit name: the call builder only borrowed it.
    let mut out = File::create(output_uid.as_str())?;
    write!(out, "{} bytes in, named {output_uid}", input.size()?)?;
    out.commit()
}

#[test]
fn explicit_output_uid_of_type_name_is_usable_in_the_body() {
    on_both_stores("explicit-name-type", |lake| {
        let input = add(lake, "in", b"12345");
        let name: lake_runtime::Name = "reports/named.txt".parse().unwrap();
        let out = named_report(&input, name.clone()).unwrap();
        assert_eq!(out.name(), &name);
        assert_eq!(
            out.read_to_string().unwrap(),
            "5 bytes in, named reports/named.txt"
        );
    });
}
