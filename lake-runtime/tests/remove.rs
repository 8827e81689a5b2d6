//! `Lake::remove`: tombstones, what other homes see, lineage, the bytes
//! leaving the store, and `rm` racing an `add` of the same bytes; plus
//! `Lake::evict` of shared copies. The store-facing tests run against a
//! `file://` store and, when `scripts/servers start` describes them, moto
//! and Azurite.
//!
//! See: issue 12 (parts 1–3), docs/design/0010-removal.md.

use std::io::Write;
use std::sync::atomic::Ordering;

use lake_runtime::StoreExt;
use lake_runtime::store::{StoreOptions, open_store_with};
use lake_runtime::{
    Error, Evict, File, Lake, LakeConfigBuilder, Name, RemoveOptions, StorePath, file_creator,
};

/// A store to test against, with a directory for its homes.
struct Store {
    url: String,
    options: StoreOptions,
    dir: tempfile::TempDir,
}

impl Store {
    fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("store").display());
        Self {
            url,
            options: StoreOptions::new(),
            dir,
        }
    }

    /// `file://`, then each test server that is running.
    fn all() -> Vec<Self> {
        let mut stores = vec![Self::file()];
        for server in ["MOTO", "AZURITE"] {
            if let Some((url, options)) = lake_runtime::testing::server_from_env(server) {
                stores.push(Self {
                    url,
                    options,
                    dir: tempfile::tempdir().unwrap(),
                });
            }
        }
        stores
    }

    /// A lake with its own home on this store: one machine.
    fn home(&self, home: &str) -> Lake {
        Lake::open_with(self.config(home)).unwrap()
    }

    /// [`Store::home`] whose name records are created `delay` ms late.
    fn slow_home(&self, home: &str, delay: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Lake {
        let inner = open_store_with(&self.url, &self.options).unwrap();
        let store = std::sync::Arc::new(SlowRecords { inner, delay });
        Lake::open_with_store(self.config(home), store).unwrap()
    }

    fn config(&self, home: &str) -> lake_runtime::LakeConfig {
        self.options
            .iter()
            .fold(
                LakeConfigBuilder::new()
                    .with_home(self.dir.path().join(home))
                    .with_store(&self.url),
                |b, (k, v)| b.with_store_option(k, v),
            )
            .with_progress(false)
            .build()
            .unwrap()
    }

    /// Runs `f` on a fresh client of this store, as an outsider would.
    fn ask<T>(&self, f: impl AsyncFnOnce(&dyn lake_runtime::Store) -> T) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = open_store_with(&self.url, &self.options).unwrap();
        runtime.block_on(f(&*store))
    }

    fn has_blob(&self, digest: &lake_runtime::Digest) -> bool {
        self.ask(
            async |store| match store.head(&StorePath::blob(digest)).await {
                Ok(_) => true,
                Err(e) if e.is_not_found() => false,
                Err(e) => panic!("head {digest}: {e}"),
            },
        )
    }

    fn keys_below(&self, prefix: &str) -> Vec<String> {
        self.ask(async |store| {
            store
                .list_all(&StorePath::prefix(prefix), 1000)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.path.to_string())
                .collect()
        })
    }

    fn read(&self, key: &str) -> Vec<u8> {
        self.ask(async |store| {
            store
                .read_all(&StorePath::parse(key).unwrap())
                .await
                .unwrap()
                .to_vec()
        })
    }
}

/// A store that waits `delay` milliseconds before creating a name record:
/// it widens the gap between an add's upload and its record, where an
/// `rm` of the same bytes may delete the blob.
#[derive(Debug)]
struct SlowRecords {
    inner: std::sync::Arc<dyn lake_runtime::Store>,
    delay: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Display for SlowRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

type Fut<'a, T> = futures::future::BoxFuture<'a, Result<T, lake_runtime::StoreError>>;

impl lake_runtime::Store for SlowRecords {
    fn head<'a>(&'a self, path: &'a StorePath) -> Fut<'a, lake_runtime::ObjectMeta> {
        self.inner.head(path)
    }
    fn get<'a>(&'a self, path: &'a StorePath) -> Fut<'a, lake_runtime::GetStream> {
        self.inner.get(path)
    }
    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> Fut<'a, lake_runtime::GetStream> {
        self.inner.get_range(path, range)
    }
    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: bytes::Bytes,
        mode: lake_runtime::PutMode,
    ) -> Fut<'a, lake_runtime::ObjectVersion> {
        Box::pin(async move {
            if path.as_str().starts_with("names/") {
                let ms = self.delay.load(Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            self.inner.put(path, bytes, mode).await
        })
    }
    fn put_file<'a>(&'a self, path: &'a StorePath, file: &'a std::path::Path) -> Fut<'a, ()> {
        self.inner.put_file(path, file)
    }
    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> Fut<'a, lake_runtime::ListPage> {
        self.inner.list(prefix, after, limit)
    }
    fn delete<'a>(&'a self, path: &'a StorePath) -> Fut<'a, ()> {
        self.inner.delete(path)
    }
}

fn add(lake: &Lake, name: &str, content: &[u8]) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(content).unwrap();
    w.commit().unwrap()
}

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

fn names(lake: &Lake, refresh: bool) -> Vec<String> {
    lake.list("", refresh)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string())
        .collect()
}

fn rm(lake: &Lake, targets: &[&str], options: RemoveOptions) -> lake_runtime::RemoveReport {
    let targets: Vec<Name> = targets.iter().map(|t| name(t)).collect();
    lake.remove(&targets, &options).unwrap()
}

/// `rm` and `rm -r` from one home; the other home sees both at its next
/// refresh, and never serves the names as live afterwards.
#[test]
fn rm_and_rm_recursive_are_seen_from_a_second_home() {
    for store in Store::all() {
        let a = store.home("a");
        let b = store.home("b");
        add(&a, "keep.txt", b"keep");
        add(&a, "one.txt", b"one");
        add(&a, "dir/x.txt", b"x");
        add(&a, "dir/sub/y.txt", b"y");
        // B knows everything, content included.
        assert_eq!(names(&b, true).len(), 4, "{}", store.url);
        assert_eq!(b.file("one.txt").unwrap().read_to_string().unwrap(), "one");

        let report = rm(&a, &["one.txt"], RemoveOptions::default());
        assert_eq!(report.names.len(), 1);
        let report = rm(
            &a,
            &["dir"],
            RemoveOptions {
                recursive: true,
                ..RemoveOptions::default()
            },
        );
        assert_eq!(
            report
                .names
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>(),
            ["dir/sub/y.txt", "dir/x.txt"]
        );
        assert_eq!(names(&a, false), ["keep.txt"]);

        // B's next refresh forgets them; reads then fail as not found.
        assert_eq!(names(&b, true), ["keep.txt"], "{}", store.url);
        for gone in ["one.txt", "dir/x.txt", "dir/sub/y.txt"] {
            let err = b.record(&name(gone)).unwrap_err();
            assert!(err.is_not_found(), "{gone}: {err}");
        }
        // A third, fresh home never sees them.
        assert_eq!(names(&store.home("c"), true), ["keep.txt"]);
    }
}

/// A secret added by mistake: after `rm`, its blob is gone from the store
/// (head and listing) and from the home.
#[test]
fn a_removed_secret_is_gone_from_the_store() {
    for store in Store::all() {
        let lake = store.home("a");
        let secret = b"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
        let file = add(&lake, "cfg/prod.env", secret);
        let digest = file.record().unwrap().blake3;
        assert!(store.has_blob(&digest));
        let report = rm(
            &lake,
            &["cfg/prod.env"],
            RemoveOptions {
                message: Some("secret added by mistake".into()),
                ..RemoveOptions::default()
            },
        );
        assert_eq!(report.blobs_deleted, [digest], "{}", store.url);
        assert_eq!(report.bytes_deleted, secret.len() as u64);
        assert!(!store.has_blob(&digest), "{}", store.url);
        let listed = store.keys_below("blobs");
        assert!(
            !listed.iter().any(|k| k.contains(&digest.to_hex())),
            "{listed:?}"
        );
        assert!(!lake.home_dir().join("blobs").join(digest.to_hex()).exists());
        // The tombstone says who, why and what, never the bytes.
        let tombstone = store.read("tombstones/cfg/prod.env.json");
        let tombstone = lake_runtime::Tombstone::from_json(&tombstone).unwrap();
        assert_eq!(tombstone.blake3, digest);
        assert_eq!(
            tombstone.message.as_deref(),
            Some("secret added by mistake")
        );
        assert_eq!(tombstone.removed_by, lake.originator());
    }
}

/// Bytes another name holds stay; the home keeps their copy too.
#[test]
fn bytes_another_name_holds_stay() {
    let store = Store::file();
    let lake = store.home("a");
    let digest = add(&lake, "a.txt", b"shared").record().unwrap().blake3;
    add(&lake, "b.txt", b"shared");
    let report = rm(&lake, &["a.txt"], RemoveOptions::default());
    assert!(report.blobs_deleted.is_empty());
    assert_eq!(report.blobs_kept[&digest], [name("b.txt")]);
    assert!(store.has_blob(&digest));
    assert_eq!(
        lake.file("b.txt").unwrap().read_to_string().unwrap(),
        "shared"
    );
}

/// Re-adding a removed name: the same bytes restore it, other bytes are
/// refused naming the tombstone, from this home and from a fresh one.
#[test]
fn readd_restores_same_bytes_and_refuses_others_naming_the_tombstone() {
    for store in Store::all() {
        let a = store.home("a");
        add(&a, "n.txt", b"first");
        rm(&a, &["n.txt"], RemoveOptions::default());
        for lake in [&a, &store.home("fresh")] {
            let mut w = lake.create("n.txt").unwrap();
            w.write_all(b"second").unwrap();
            let err = w.commit().unwrap_err();
            assert!(matches!(err, Error::Removed { .. }), "{err:?}");
            let message = err.to_string();
            assert!(
                message.contains("was removed by")
                    && message.contains(a.originator())
                    && message.contains("tombstones/n.txt.json"),
                "{message}"
            );
        }
        // The same bytes from a file on disk restore it.
        let src = store.dir.path().join("n.src");
        std::fs::write(&src, b"first").unwrap();
        let outcome = a
            .add_path(&src, &name("n.txt"), lake_runtime::AddMode::Copy)
            .unwrap();
        assert!(outcome.created);
        let fresh = store.home("fresh2");
        assert_eq!(
            fresh.file("n.txt").unwrap().read_to_string().unwrap(),
            "first",
            "{}",
            store.url
        );
    }
}

// Per thread: two tests call these creators in parallel, and a sync
// creator's body runs on the calling thread.
thread_local! {
    static STEP_RUNS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[file_creator]
fn upper(input: &File) -> File {
    STEP_RUNS.set(STEP_RUNS.get() + 1);
    let text = input.read_to_string().unwrap().to_uppercase();
    let mut out = File::create_output().unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.commit().unwrap()
}

#[file_creator]
fn twice(input: &File) -> File {
    let text = input.read_to_string().unwrap().repeat(2);
    let mut out = File::create_output().unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.commit().unwrap()
}

/// A creator whose output was removed runs again on its next call, in the
/// home that removed it and, after a refresh, in another home whose memo
/// had the run.
#[test]
fn a_creator_whose_output_was_removed_runs_again() {
    let store = Store::file();
    let a = store.home("a");
    let b = store.home("b");
    let input = add(&a, "raw/t.txt", b"text");
    let out = upper(&input);
    let b_input = b.file("raw/t.txt").unwrap();
    let runs = STEP_RUNS.get();
    assert_eq!(upper(&b_input), out, "B hits A's run");
    assert_eq!(upper(&b_input), out, "and again from its memo");
    assert_eq!(STEP_RUNS.get(), runs);

    rm(&a, &[out.name().as_str()], RemoveOptions::default());
    assert!(a.record(out.name()).unwrap_err().is_not_found());
    let again = upper(&input);
    assert_eq!(STEP_RUNS.get(), runs + 1, "A runs again");
    assert_eq!(again.read_to_string().unwrap(), "TEXT");

    // B: removed again by A, then B refreshes and must not hit its memo.
    rm(&a, &[again.name().as_str()], RemoveOptions::default());
    b.list("", true).unwrap();
    let from_b = upper(&b_input);
    assert_eq!(STEP_RUNS.get(), runs + 2, "B runs again");
    assert_eq!(from_b.read_to_string().unwrap(), "TEXT");
}

/// `rm` of a file others were made from is refused naming them (found
/// through the index); bottom-up works; `cascade` removes exactly the
/// downstream closure, downstream first.
#[test]
fn rm_refuses_downstream_and_cascade_removes_exactly_the_closure() {
    for store in Store::all() {
        let a = store.home("a");
        let raw = add(&a, "raw/in.txt", b"abc");
        let other = add(&a, "raw/other.txt", b"zzz");
        let up = upper(&raw);
        let up_twice = twice(&up);
        let unrelated = twice(&other);
        // Another home made one more downstream file: a's refresh finds it.
        let b = store.home("b");
        let from_b = twice(&b.file("raw/in.txt").unwrap());

        let err = a
            .remove(&[name("raw/in.txt")], &RemoveOptions::default())
            .unwrap_err();
        let Error::HasDownstream {
            name: n,
            downstream,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(n.as_str(), "raw/in.txt");
        let mut expected = vec![up.name().clone(), from_b.name().clone()];
        expected.sort();
        assert_eq!(downstream, &expected, "{}", store.url);
        assert!(err.to_string().contains("--cascade"), "{err}");
        assert_eq!(names(&a, true).len(), 6, "nothing removed");

        // The plan: the closure, downstream first.
        let plan = rm(
            &a,
            &["raw/in.txt"],
            RemoveOptions {
                cascade: true,
                dry_run: true,
                ..RemoveOptions::default()
            },
        );
        let order: Vec<&str> = plan.names.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(order.len(), 4, "{order:?}");
        let pos = |n: &Name| order.iter().position(|o| *o == n.as_str()).unwrap();
        assert!(pos(up_twice.name()) < pos(up.name()));
        assert!(pos(up.name()) < pos(raw.name()));
        assert!(pos(from_b.name()) < pos(raw.name()));
        assert_eq!(*order.last().unwrap(), "raw/in.txt");
        assert!(plan.names.iter().filter(|n| n.target).count() == 1);

        // Bottom-up without a cascade: the leaf first works.
        rm(&a, &[up_twice.name().as_str()], RemoveOptions::default());
        let report = rm(
            &a,
            &["raw/in.txt"],
            RemoveOptions {
                cascade: true,
                ..RemoveOptions::default()
            },
        );
        assert_eq!(report.names.len(), 3);
        let mut left = names(&a, true);
        left.sort();
        let mut expected = vec![other.name().to_string(), unrelated.name().to_string()];
        expected.sort();
        assert_eq!(left, expected, "{}", store.url);
    }
}

/// `rm` racing an `add` of the same bytes (other name, other home), many
/// rounds with random delays: every live name's blob exists afterwards,
/// and reads back with its digest from a fresh home.
#[test]
fn rm_racing_add_of_the_same_bytes_never_leaves_a_name_without_its_blob() {
    let rounds_for = |url: &str| {
        let base: usize = std::env::var("LAKE_RM_RACE_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        if url.starts_with("file://") {
            base
        } else {
            base / 2
        }
    };
    for store in Store::all() {
        let remover = store.home("remover");
        let record_delay = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let adder = store.slow_home("adder", record_delay.clone());
        let rounds = rounds_for(&store.url);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut deleted, mut restored, mut kept) = (0, 0, 0);
        let mut rm_millis: u64 = 20;
        for round in 0..rounds {
            let bytes = format!("round {round} of {}: same bytes\n", store.url).repeat(50);
            let victim = format!("victim/{round}");
            let other = format!("other/{round}");
            add(&remover, &victim, bytes.as_bytes());
            let src = store.dir.path().join(format!("src-{round}"));
            std::fs::write(&src, &bytes).unwrap();
            // The add starts anywhere in the span of an rm (as long as the
            // last one took), so every step of the protocol gets raced.
            let add_delay = next() % (rm_millis * 5 / 4 + 1);
            // Every other round, the add's record also comes late: its
            // upload lands before the rm's delete, its record after the
            // rm's last listing, which only the add's own check covers.
            let slow = if round % 2 == 1 {
                next() % (rm_millis + 1)
            } else {
                0
            };
            record_delay.store(slow, Ordering::SeqCst);
            let report = std::thread::scope(|s| {
                let r = s.spawn(|| {
                    let started = std::time::Instant::now();
                    let report = remover
                        .remove(&[name(&victim)], &RemoveOptions::default())
                        .unwrap();
                    (report, started.elapsed().as_millis() as u64)
                });
                let a = s.spawn(|| {
                    std::thread::sleep(std::time::Duration::from_millis(add_delay));
                    adder
                        .add_path(&src, &name(&other), lake_runtime::AddMode::Copy)
                        .unwrap()
                });
                a.join().unwrap();
                r.join().unwrap()
            });
            let (report, took) = report;
            rm_millis = took.max(1);
            deleted += report.blobs_deleted.len();
            restored += report.blobs_restored.len();
            kept += report.blobs_kept.len() - report.blobs_restored.len();
            let digest = lake_runtime::Digest::of(bytes.as_bytes());
            assert!(
                store.has_blob(&digest),
                "round {round} on {}: {other} lost its blob ({report:?})",
                store.url
            );
        }
        // Every live name reads back, verified, in a fresh home.
        let reader = store.home("reader");
        let live = names(&reader, true);
        assert_eq!(live.len(), rounds, "{live:?}");
        for n in &live {
            reader.fetch(&name(n)).unwrap();
        }
        eprintln!(
            "{}: {rounds} rounds: rm deleted the blob {deleted} times (the add came later or uploaded it again), \
             put it back {restored} times, kept it {kept} times",
            store.url
        );
    }
}

/// Evict by prefix, and evict of names that share bytes: the copy goes only
/// when every name holding it goes, or with `All`; the report counts what
/// was really freed.
#[test]
fn evict_by_prefix_and_of_names_sharing_bytes() {
    let store = Store::file();
    let lake = store.home("a");
    let a = add(&lake, "p/a.txt", b"shared bytes");
    add(&lake, "q/b.txt", b"shared bytes");
    add(&lake, "p/c.txt", b"own bytes");
    let local = |n: &str| lake.exists_locally(&name(n)).unwrap();

    let report = lake.evict(&Evict::Names(vec![name("p")])).unwrap();
    assert_eq!(report.names, [name("p/c.txt")]);
    assert_eq!(report.copies, 1);
    assert_eq!(report.bytes, 9);
    assert_eq!(report.kept_shared[&name("p/a.txt")], [name("q/b.txt")]);
    assert!(local("p/a.txt") && local("q/b.txt") && !local("p/c.txt"));

    let report = lake
        .evict(&Evict::Names(vec![name("p/a.txt"), name("q/b.txt")]))
        .unwrap();
    assert_eq!(report.names, [name("p/a.txt"), name("q/b.txt")]);
    assert_eq!((report.copies, report.bytes), (1, 12));
    assert!(!local("p/a.txt") && !local("q/b.txt"));
    assert_eq!(a.read_to_string().unwrap(), "shared bytes");

    // The read above cached the shared copy again, for p/a.txt: evicting
    // q/b.txt alone keeps it; --all takes it.
    let report = lake.evict(&Evict::Names(vec![name("q/b.txt")])).unwrap();
    assert!(report.names.is_empty(), "{report:?}");
    assert_eq!(report.kept_shared[&name("q/b.txt")], [name("p/a.txt")]);
    let report = lake.evict(&Evict::All).unwrap();
    assert_eq!((report.copies, report.bytes), (1, 12), "{report:?}");
    assert!(!local("p/a.txt") && !local("q/b.txt"));
    assert!(
        lake.evict(&Evict::Names(vec![name("nope")]))
            .unwrap_err()
            .is_not_found()
    );
}

/// Annotations go with the name: a secret in a tag leaves the store too,
/// and a restored name starts bare.
#[test]
fn annotations_leave_with_the_name() {
    for store in Store::all() {
        let a = store.home("a");
        let file = add(&a, "tagged.txt", b"tagged");
        file.annotate(|n| n.set_tag("token", "hunter2").map(|_| ()))
            .unwrap();
        rm(&a, &["tagged.txt"], RemoveOptions::default());
        let notes = lake_runtime::notes_path(&name("tagged.txt"));
        // The S3 and Azure clients need a tokio runtime to make a request.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let gone = runtime.block_on(a.store().head(&notes)).unwrap_err();
        assert!(gone.is_not_found(), "{}: {gone}", store.url);

        let restored = add(&a, "tagged.txt", b"tagged");
        assert!(restored.annotations().unwrap().is_empty(), "{}", store.url);
    }
}
