//! One home in front of several stores: each store has an id, the home
//! keeps one index per id, and nothing of one store leaks into another.
//!
//! See: issue 10 ("one home, two stores").

use std::cell::Cell;
use std::io::Write;

use lake_runtime::store::{STORE_ID_KEY, StoreIdentity, open_store};
use lake_runtime::{AddMode, File, Lake, LakeConfigBuilder, Name, file_creator};

fn lake_at(home: &std::path::Path, store: &str) -> Lake {
    Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(home)
            .with_store(store)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn file_url(dir: &std::path::Path) -> String {
    format!("file://{}", dir.display())
}

fn add(lake: &Lake, name: &str, content: &[u8]) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(content).unwrap();
    w.commit().unwrap()
}

fn names(lake: &Lake) -> Vec<String> {
    lake.list("", true)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect()
}

// Per thread: two tests call `count` in parallel, and a sync creator
// body runs on the calling thread.
thread_local! {
    static COUNT_RUNS: Cell<usize> = const { Cell::new(0) };
}

#[file_creator]
fn count_lines(input: &File) -> File {
    COUNT_RUNS.set(COUNT_RUNS.get() + 1);
    let lines = input.read_to_string().unwrap().lines().count();
    let mut out = File::create_output().unwrap();
    write!(out, "{lines} lines").unwrap();
    out.commit().unwrap()
}

#[test]
fn one_home_pointed_at_store_a_then_b_never_mixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (store_a, store_b) = (dir.path().join("a"), dir.path().join("b"));

    // Store A: an input and a step computed from it.
    let a = lake_at(&home, &file_url(&store_a));
    let in_a = add(&a, "raw/data.txt", b"one\ntwo\n");
    let out_a = count_lines(&in_a);
    assert_eq!(out_a.read_to_string().unwrap(), "2 lines");

    // Store B, same home: the same input name holds other bytes.
    let b = lake_at(&home, &file_url(&store_b));
    assert_ne!(a.store_id(), b.store_id());
    assert_eq!(names(&b), Vec::<String>::new(), "B lists none of A's names");
    let in_b = add(&b, "raw/data.txt", b"one\ntwo\nthree\n");
    let before = COUNT_RUNS.get();
    let out_b = count_lines(&in_b);
    assert_eq!(COUNT_RUNS.get(), before + 1, "B runs");
    assert_eq!(out_b.read_to_string().unwrap(), "3 lines");

    // A fresh lake on B (a new process, as far as memos go) sees B only.
    let b2 = lake_at(&home, &file_url(&store_b));
    assert_eq!(b2.store_id(), b.store_id());
    let in_b2 = b2.file("raw/data.txt").unwrap();
    assert_eq!(count_lines(&in_b2).read_to_string().unwrap(), "3 lines");
    let a2 = lake_at(&home, &file_url(&store_a));
    let in_a2 = a2.file("raw/data.txt").unwrap();
    assert_eq!(count_lines(&in_a2).read_to_string().unwrap(), "2 lines");
    assert_eq!(COUNT_RUNS.get(), before + 1, "both hit");

    // Each store holds its own output, readable from any home.
    assert_ne!(out_a.name(), out_b.name());
    assert!(!names(&b).contains(&out_a.name().to_string()));
    for (store, out, lines) in [(&store_a, &out_a, "2 lines"), (&store_b, &out_b, "3 lines")] {
        let checker = lake_at(&dir.path().join("checker"), &file_url(store));
        let text = checker.file(out.name().as_str()).unwrap().read_to_string();
        assert_eq!(text.unwrap(), lines);
    }
}

#[test]
fn add_uploads_to_a_new_store_even_when_the_bytes_are_local() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (store_a, store_b) = (dir.path().join("a"), dir.path().join("b"));
    let source = dir.path().join("report.csv");
    std::fs::write(&source, b"a,b\n1,2\n").unwrap();
    let name = Name::new("reports/q1.csv").unwrap();

    let a = lake_at(&home, &file_url(&store_a));
    assert!(a.add_path(&source, &name, AddMode::Copy).unwrap().created);
    // Same home, same source, same name: the bytes are in <home>/blobs and
    // the source stamp is remembered, yet B has nothing, so B gets it all.
    let b = lake_at(&home, &file_url(&store_b));
    let outcome = b.add_path(&source, &name, AddMode::Copy).unwrap();
    assert!(outcome.created, "B did not have the name: {outcome:?}");
    let blob = store_b.join("blobs").join(outcome.blake3.to_hex());
    assert_eq!(std::fs::read(&blob).unwrap(), b"a,b\n1,2\n");
    assert!(store_b.join("names/reports/q1.csv.json").is_file());
    // And a second add to B is now the no-op.
    assert!(!b.add_path(&source, &name, AddMode::Copy).unwrap().created);

    // A directory add too.
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("x.txt"), b"x").unwrap();
    std::fs::write(tree.join("y.txt"), b"y").unwrap();
    let prefix = Name::new("tree").unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(a.add_dir_async(&tree, &prefix, AddMode::Copy))
        .unwrap();
    let added = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(b.add_dir_async(&tree, &prefix, AddMode::Copy))
        .unwrap();
    assert!(added.iter().all(|o| o.created), "{added:?}");
    assert!(store_b.join("names/tree/x.txt.json").is_file());
}

#[test]
fn the_home_keeps_one_index_per_store_id_and_a_url_binding() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store = dir.path().join("store");
    let lake = lake_at(&home, &file_url(&store));
    let id = lake.store_id();
    assert!(StoreIdentity::is_valid_id(&id), "{id}");
    assert!(home.join("stores").join(&id).join("index.sqlite").is_file());
    assert!(
        !home.join("index.sqlite").exists(),
        "no index outside stores/"
    );
    // The store's identity object holds that id.
    let identity: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join(STORE_ID_KEY)).unwrap()).unwrap();
    assert_eq!(identity["id"], id.as_str());
    // The binding names the id and the URL, nothing else.
    let bindings: Vec<_> = std::fs::read_dir(home.join("stores/urls"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(bindings, [format!("{id}\n{}\n", file_url(&store))]);
}

#[test]
fn a_fresh_process_finds_its_index_without_asking_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let url = file_url(&dir.path().join("store"));
    let first = lake_at(&home, &url);
    let input = add(&first, "in.txt", b"x\n");
    count_lines(&input);

    // The same URL again, through a store that counts requests.
    let store = std::sync::Arc::new(lake_runtime::store::CountingStore::new(
        open_store(&url).unwrap(),
    ));
    let config = LakeConfigBuilder::new()
        .with_home(&home)
        .with_store(&url)
        .build()
        .unwrap();
    let again = Lake::open_with_store(config, store.clone()).unwrap();
    assert_eq!(again.store_id(), first.store_id());
    let before = COUNT_RUNS.get();
    let hit = count_lines(&again.file("in.txt").unwrap());
    assert_eq!(COUNT_RUNS.get(), before);
    assert_eq!(hit.read_to_string().unwrap(), "1 lines");
    let counts = store.counts();
    assert_eq!(
        (counts.get, counts.head, counts.put, counts.list),
        (0, 0, 0, 0),
        "open + hit asked the store: {counts:?}"
    );
}

#[test]
fn a_store_replaced_at_the_same_url_is_noticed_at_the_next_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store = dir.path().join("store");
    let url = file_url(&store);
    let lake = lake_at(&home, &url);
    add(&lake, "old/name.txt", b"old");
    let old_id = lake.store_id();

    // Someone replaces the directory with another lake store.
    std::fs::remove_dir_all(&store).unwrap();
    let other = lake_at(&dir.path().join("other-home"), &url);
    add(&other, "new/name.txt", b"new");
    assert_ne!(other.store_id(), old_id);

    // The next refresh reads the store's id and switches indexes.
    assert_eq!(names(&lake), ["new/name.txt"]);
    assert_eq!(lake.store_id(), other.store_id());
    // A fresh lake on the home uses the corrected binding at once.
    let fresh = lake_at(&home, &url);
    assert_eq!(fresh.store_id(), other.store_id());
    assert!(fresh.file("old/name.txt").unwrap().read().is_err());
}

#[test]
fn an_old_home_with_a_single_index_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    // What an older lake left: an index for who knows which store, and
    // even a broken one must not matter.
    std::fs::write(home.join("index.sqlite"), b"not a database").unwrap();
    std::fs::write(home.join("index.sqlite-wal"), b"").unwrap();
    let lake = lake_at(&home, &file_url(&dir.path().join("store")));
    add(&lake, "a.txt", b"a");
    assert_eq!(names(&lake), ["a.txt"]);
    // Left alone, unread: an older lake may still have it open.
    assert_eq!(
        std::fs::read(home.join("index.sqlite")).unwrap(),
        b"not a database"
    );
    assert!(
        home.join("stores")
            .join(lake.store_id())
            .join("index.sqlite")
            .is_file()
    );
}

#[test]
fn concurrent_first_users_agree_on_one_store_id() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir.path().join("store"));
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let home = dir.path().join(format!("home-{i}"));
                let url = url.clone();
                scope.spawn(move || lake_at(&home, &url).store_id())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");

    // The same holds through a shared in-memory store.
    let store = open_store("memory://concurrent-store-id").unwrap();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                scope.spawn(move || {
                    futures::executor::block_on(StoreIdentity::read_or_create(&*store))
                        .unwrap()
                        .id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
}

#[test]
fn memory_stores_are_not_bound_in_the_home() {
    // A memory store lives as long as its process; a binding cached in the
    // home would point the next process at an index of a store long gone.
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let a = lake_at(&home, "memory://");
    let b = lake_at(&home, "memory://");
    assert_ne!(a.store_id(), b.store_id(), "two private stores, two ids");
    add(&a, "only-in-a", b"a");
    assert_eq!(names(&b), Vec::<String>::new());
    assert!(!home.join("stores/urls").exists());
}
