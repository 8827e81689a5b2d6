//! Many machines on one store (issue 4, item 2; invariants 3 and 4 of
//! docs/design/0000-design.md): home A adds files and runs a pipeline; fresh homes B and C on the same store see
//! every name, B's run of the same pipeline skips every step without a single
//! content GET (counted by a `CountingStore` around the real store), and
//! opening one output downloads exactly its bytes and nothing else.
//!
//! Runs on a `file://` store always, and on moto when `LAKE_TEST_MOTO_*` is set.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use lake_runtime::store::{CountingStore, StoreOptions, open_store_with};
use lake_runtime::{File, Lake, LakeConfigBuilder, file_creator};
use lake_tests::{TestDir, TestServer};

thread_local! {
    /// Creator bodies executed on this thread (creators run on the caller's
    /// thread, so parallel tests do not disturb each other's count).
    static BODIES: Cell<usize> = const { Cell::new(0) };
}

fn bodies() -> usize {
    BODIES.with(Cell::get)
}

#[file_creator]
fn shout(input: &File) -> lake_runtime::Result<File> {
    BODIES.with(|b| b.set(b.get() + 1));
    let mut out = File::create_output()?;
    out.write_all(&input.read()?.to_ascii_uppercase())?;
    out.commit()
}

#[file_creator]
fn join(a: &File, b: &File) -> lake_runtime::Result<File> {
    BODIES.with(|b| b.set(b.get() + 1));
    let mut out = File::create_output()?;
    out.write_all(&a.read()?)?;
    out.write_all(b"\n--\n")?;
    out.write_all(&b.read()?)?;
    out.commit()
}

fn pipeline(lake: &Lake, prefix: &str) -> Vec<File> {
    let a = lake.file(format!("{prefix}/a.txt")).unwrap();
    let b = lake.file(format!("{prefix}/b.txt")).unwrap();
    let loud_a = shout(&a).unwrap();
    let loud_b = shout(&b).unwrap();
    let joined = join(&loud_a, &loud_b).unwrap();
    vec![loud_a, loud_b, joined]
}

fn config(home: &Path, url: &str, options: &[(String, String)]) -> lake_runtime::LakeConfig {
    options
        .iter()
        .fold(
            LakeConfigBuilder::new().with_home(home).with_store(url),
            |b, (k, v)| b.with_store_option(k, v),
        )
        .with_progress(false)
        .build()
        .unwrap()
}

fn names(lake: &Lake) -> BTreeSet<String> {
    lake.list("", true)
        .unwrap()
        .into_iter()
        .map(|e| e.name.as_str().to_owned())
        .collect()
}

fn two_homes_one_store(
    dir: &TestDir,
    url: &str,
    options: &[(String, String)],
    server: Option<&TestServer>,
) {
    // Content unique to this run, so keys never collide with other tests.
    let prefix = lake_tests::unique_prefix("mm");
    let a = Lake::open_with(config(&dir.path().join("home-a"), url, options)).unwrap();
    let mut w = a.create(format!("{prefix}/a.txt")).unwrap();
    writeln!(w, "alpha {prefix}").unwrap();
    w.commit().unwrap();
    let mut w = a.create(format!("{prefix}/b.txt")).unwrap();
    for i in 0..20_000 {
        writeln!(w, "beta {prefix} {i}").unwrap();
    }
    w.commit().unwrap();
    let before = bodies();
    let from_a = pipeline(&a, &prefix);
    assert_eq!(bodies() - before, 3, "home A computes all three steps");
    let all_names = names(&a);
    assert_eq!(all_names.len(), 5, "{all_names:?}");

    // Home B: a fresh home on the same store, every request counted.
    let mut store_options = options
        .iter()
        .fold(StoreOptions::new(), |o, (k, v)| o.with(k, v));
    if server.is_none() {
        store_options = store_options.without_env();
    }
    let counting = Arc::new(CountingStore::new(
        open_store_with(url, &store_options).unwrap(),
    ));
    let b = Lake::open_with_store(
        config(&dir.path().join("home-b"), url, options),
        counting.clone(),
    )
    .unwrap();
    assert_eq!(names(&b), all_names, "home B lists everything home A made");
    assert_eq!(
        counting.gets_under("blobs"),
        (0, 0),
        "listing downloads no content"
    );

    counting.reset();
    let before = bodies();
    let from_b = pipeline(&b, &prefix);
    assert_eq!(bodies(), before, "home B skips every step");
    assert_eq!(from_b, from_a, "same outputs on both homes");
    let counts = counting.counts();
    assert_eq!(
        counting.gets_under("blobs"),
        (0, 0),
        "a hit makes zero content GETs: {counts:?}"
    );
    assert_eq!(counts.put, 0, "a hit uploads nothing: {counts:?}");
    for file in &from_b {
        assert!(
            !file.exists_locally().unwrap(),
            "{} was downloaded",
            file.name()
        );
    }
    eprintln!("hit of a 3-step pipeline from a fresh home: {counts:?}");

    // Opening one output downloads exactly its bytes, once.
    counting.reset();
    let joined = &from_b[2];
    let size = joined.size().unwrap();
    let text = joined.read_to_string().unwrap();
    assert_eq!(text.len() as u64, size);
    assert_eq!(counting.gets_under("blobs"), (1, size));
    assert_eq!(counting.counts().get_bytes, size, "{:?}", counting.counts());
    assert!(joined.exists_locally().unwrap());
    assert!(!from_b[0].exists_locally().unwrap());
    assert!(
        !b.file(format!("{prefix}/b.txt"))
            .unwrap()
            .exists_locally()
            .unwrap()
    );
    assert_eq!(dir.home_blobs(dir.path().join("home-b")).len(), 1);
    // Opening it again downloads nothing.
    counting.reset();
    assert_eq!(joined.read_to_string().unwrap(), text);
    assert_eq!(counting.gets_under("blobs"), (0, 0));

    // Home C through the command line: `ls` shows everything, `cat` agrees.
    let mut ls = dir.lake_with_home(dir.path().join("home-c"));
    match server {
        Some(s) => s.apply(&mut ls, url),
        None => {
            ls.env("LAKE_STORE", url);
        }
    }
    let listed: BTreeSet<String> = ls
        .args(["ls", "-r", "--json"])
        .json_lines()
        .as_array()
        .expect("ls --json prints an array")
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, all_names);
    let mut cat = dir.lake_with_home(dir.path().join("home-c"));
    match server {
        Some(s) => s.apply(&mut cat, url),
        None => {
            cat.env("LAKE_STORE", url);
        }
    }
    assert_eq!(cat.args(["cat", joined.name().as_str()]).ok(), text);
    assert_eq!(dir.home_blobs(dir.path().join("home-c")).len(), 1);
}

#[test]
fn homes_share_a_file_store() {
    let dir = TestDir::new();
    let url = dir.store_url();
    two_homes_one_store(&dir, &url, &[], None);
}

#[test]
fn homes_share_a_moto_bucket() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let url = server.fresh_url("many-machines");
    two_homes_one_store(&dir, &url, &server.options, Some(&server));
}
