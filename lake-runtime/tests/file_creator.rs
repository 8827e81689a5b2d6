//! Behaviour of `#[file_creator]` against memory and file stores:
//! miss → hit, recompute on changes, errors and panics commit nothing.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use lake_runtime::{File, Lake, LakeConfigBuilder, file_creator};

static PROCESS_RUNS: AtomicUsize = AtomicUsize::new(0);

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
    PROCESS_RUNS.fetch_add(1, Ordering::SeqCst);
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
    let before = PROCESS_RUNS.load(Ordering::SeqCst);
    let first = process(&input, "additional data\n".into());
    let second = process(&input, "additional data\n".into());
    assert_eq!(
        PROCESS_RUNS.load(Ordering::SeqCst) - before,
        1,
        "second call must skip"
    );
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
        return Err(lake_runtime::Error::Run("asked to fail".into()));
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
