//! Copies between named stores through the library: a destination that
//! stores other bytes than it was given aborts the copy or move before
//! anything is deleted, and the history records the attempt as abandoned.
//! Against `file://`, and moto and Azurite when `scripts/servers start`
//! describes them (each store then a fresh prefix on the server).
//!
//! See: issue 12 (part 5), docs/design/0013-stores-and-history.md.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use lake_runtime::store::{StoreOptions, open_store_with};
use lake_runtime::{Error, HistoryKind, Lake, LakeConfigBuilder, Name, Store, StoreExt, StorePath};

type Fut<'a, T> = futures::future::BoxFuture<'a, Result<T, lake_runtime::StoreError>>;

/// A store that flips one byte of every blob uploaded with `put_file`, as
/// a faulty disk, proxy or server would: the bytes that arrive are not the
/// bytes sent.
#[derive(Debug)]
struct Corrupting {
    inner: Arc<dyn Store>,
}

impl std::fmt::Display for Corrupting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Store for Corrupting {
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
        self.inner.put(path, bytes, mode)
    }
    fn put_file<'a>(&'a self, path: &'a StorePath, file: &'a std::path::Path) -> Fut<'a, ()> {
        Box::pin(async move {
            let mut bytes = std::fs::read(file).expect("read the file to upload");
            bytes[0] ^= 0x55;
            self.inner
                .put(path, bytes.into(), lake_runtime::PutMode::Overwrite)
                .await
                .map(|_| ())
        })
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

/// `(main url, archive url, options)` for `file://` and each running server.
fn targets(dir: &std::path::Path) -> Vec<(String, String, StoreOptions)> {
    let mut out = vec![(
        format!("file://{}", dir.join("main").display()),
        format!("file://{}", dir.join("archive").display()),
        StoreOptions::new(),
    )];
    for server in ["MOTO", "AZURITE"] {
        if let Some((url, options)) = lake_runtime::testing::server_from_env(server) {
            out.push((format!("{url}/main"), format!("{url}/archive"), options));
        }
    }
    out
}

#[test]
fn a_digest_mismatch_at_the_destination_aborts_the_move_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (main_url, archive_url, options)) in targets(dir.path()).into_iter().enumerate() {
        let pairs: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let config = pairs
            .iter()
            .fold(
                LakeConfigBuilder::new()
                    .with_home(dir.path().join(format!("home-{i}")))
                    .with_store(&main_url),
                |b, (k, v)| b.with_store_option(k, v),
            )
            .with_replica("archive", &archive_url, pairs.clone())
            .with_progress(false)
            .build()
            .unwrap();
        let main = open_store_with(&main_url, &options).unwrap();
        let archive = open_store_with(&archive_url, &options).unwrap();
        let corrupting: Arc<dyn Store> = Arc::new(Corrupting {
            inner: archive.clone(),
        });
        let lake = Lake::open_with_stores(
            config.clone(),
            main.clone(),
            BTreeMap::from([("archive".to_owned(), corrupting)]),
        )
        .unwrap();

        let mut w = lake.create("data/x.bin").unwrap();
        w.write_all(b"precious bytes").unwrap();
        let file = w.commit().unwrap();
        let name = Name::new("data/x.bin").unwrap();
        let blob = StorePath::blob(&file.digest().unwrap());

        let err = lake
            .move_names(std::slice::from_ref(&name), "default", "archive")
            .unwrap_err();
        let Error::DestinationMismatch {
            store,
            expected,
            found,
            ..
        } = &err
        else {
            panic!("{main_url}: expected a mismatch, got {err}");
        };
        assert_eq!(store, "archive");
        assert_eq!(*expected, file.digest().unwrap());
        assert!(!found.contains(&expected.to_string()), "{found}");
        assert!(
            err.to_string().contains("nothing was deleted"),
            "{main_url}: {err}"
        );
        // Nothing left main; the history says the copy was abandoned and
        // places the name in main only.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (digest, _) = runtime.block_on(main.hash_object(&blob)).unwrap();
        assert_eq!(digest, file.digest().unwrap(), "{main_url}");
        let history = lake.history(&name).unwrap();
        let kinds: Vec<HistoryKind> = history.events.iter().map(|e| e.event).collect();
        assert_eq!(
            kinds,
            [HistoryKind::CopyStarted, HistoryKind::Abandoned],
            "{main_url}"
        );
        assert!(history.open.is_empty(), "{main_url}");
        let at: Vec<&str> = history.locations.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(at, ["default"], "{main_url}");
        // `cp` fails the same way.
        let err = lake
            .copy_names(std::slice::from_ref(&name), "archive")
            .unwrap_err();
        assert!(
            matches!(err, Error::DestinationMismatch { .. }),
            "{main_url}: {err}"
        );

        // Through an honest client the move goes through, and the
        // corrupt object left at the destination is replaced.
        let honest = Lake::open_with(config).unwrap();
        let report = honest
            .move_names(std::slice::from_ref(&name), "default", "archive")
            .unwrap();
        assert_eq!(report.copied, std::slice::from_ref(&name), "{main_url}");
        assert!(
            runtime.block_on(main.head(&blob)).is_err(),
            "{main_url}: main's copy went"
        );
        let (digest, _) = runtime.block_on(archive.hash_object(&blob)).unwrap();
        assert_eq!(digest, file.digest().unwrap(), "{main_url}");
        assert_eq!(
            honest.file("data/x.bin").unwrap().read_to_string().unwrap(),
            "precious bytes"
        );
    }
}

/// A lake on `main` with replicas `a` and `b` (same options), home `home`.
fn three_store_lake(
    dir: &std::path::Path,
    home: &str,
    urls: &[String; 3],
    options: &StoreOptions,
    read_order: &[&str],
) -> Lake {
    let pairs: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let config = pairs
        .iter()
        .fold(
            LakeConfigBuilder::new()
                .with_home(dir.join(home))
                .with_store(&urls[0]),
            |b, (k, v)| b.with_store_option(k, v),
        )
        .with_replica("a", &urls[1], pairs.clone())
        .with_replica("b", &urls[2], pairs.clone())
        .with_read_order(read_order.iter().copied())
        .with_progress(false)
        .build()
        .unwrap();
    Lake::open_with(config).unwrap()
}

fn three_urls(dir: &std::path::Path) -> Vec<([String; 3], StoreOptions)> {
    targets(dir)
        .into_iter()
        .map(|(main, archive, options)| {
            let b = archive.replace("archive", "b");
            ([main, archive, b], options)
        })
        .collect()
}

/// Two machines copy one name at once, to two stores: the history is
/// append-only objects, so both events land and both locations count.
#[test]
fn concurrent_copies_from_two_homes_both_land_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (urls, options)) in three_urls(dir.path()).into_iter().enumerate() {
        let one = three_store_lake(dir.path(), &format!("one-{i}"), &urls, &options, &[]);
        let two = three_store_lake(dir.path(), &format!("two-{i}"), &urls, &options, &[]);
        let mut w = one.create("shared/x.bin").unwrap();
        w.write_all(&vec![7u8; 200_000]).unwrap();
        w.commit().unwrap();
        let name = Name::new("shared/x.bin").unwrap();
        std::thread::scope(|s| {
            let a = s.spawn(|| one.copy_names(std::slice::from_ref(&name), "a"));
            let b = s.spawn(|| two.copy_names(std::slice::from_ref(&name), "b"));
            a.join().unwrap().unwrap();
            b.join().unwrap().unwrap();
        });
        let history = two.history(&name).unwrap();
        let mut at: Vec<&str> = history.locations.iter().map(|s| s.name.as_str()).collect();
        at.sort();
        assert_eq!(at, ["a", "b", "default"], "{}", urls[0]);
        assert_eq!(history.events.len(), 4, "{}", urls[0]);
        assert!(history.open.is_empty());
    }
}

/// The preferred store holds other bytes under the digest's key (a bad
/// disk, a bad upload): the read refuses them and falls back to the next
/// store, so only verified bytes reach the caller and the home.
#[test]
fn a_corrupt_copy_in_the_preferred_store_is_refused_and_the_next_store_read() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (urls, options)) in three_urls(dir.path()).into_iter().enumerate() {
        let writer = three_store_lake(dir.path(), &format!("w-{i}"), &urls, &options, &[]);
        let mut w = writer.create("c.txt").unwrap();
        w.write_all(b"the real bytes").unwrap();
        let file = w.commit().unwrap();
        writer
            .copy_names(&[Name::new("c.txt").unwrap()], "a")
            .unwrap();
        // Corrupted behind lake's back, in the store this reader prefers.
        let a = open_store_with(&urls[1], &options).unwrap();
        let blob = StorePath::blob(&file.digest().unwrap());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(a.put(
                &blob,
                "the fake bytes".into(),
                lake_runtime::PutMode::Overwrite,
            ))
            .unwrap();
        let reader = three_store_lake(
            dir.path(),
            &format!("r-{i}"),
            &urls,
            &options,
            &["a", "b", "default"],
        );
        let read = reader.file("c.txt").unwrap().read_to_string().unwrap();
        assert_eq!(read, "the real bytes", "{}", urls[0]);
        // verify --store names the bad copy, in the store that holds it.
        let report = reader.verify(&[], true, false).unwrap();
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert!(
            report.problems[0].message.contains("in store a:"),
            "{report:?}"
        );
        // Repair puts good bytes back from the verified local copy.
        let report = reader.verify(&[], true, true).unwrap();
        assert!(report.is_clean(), "{report:?}");
        assert!(reader.verify(&[], true, false).unwrap().problems.is_empty());
        let history = reader.history(&Name::new("c.txt").unwrap()).unwrap();
        assert!(
            history.locations.iter().any(|s| s.name == "a"),
            "the copy stays where it was put: {history:?}"
        );
    }
}

/// Two machines each delete one of a name's two copies at the same
/// moment: each sees the other's copy before deleting, so without the
/// removal intent both would go. Never both may succeed, and the bytes
/// always stay readable.
#[test]
fn concurrent_removals_of_the_two_copies_never_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = 10;
    for (i, (urls, options)) in three_urls(dir.path()).into_iter().enumerate() {
        let one = three_store_lake(dir.path(), &format!("rm1-{i}"), &urls, &options, &[]);
        let two = three_store_lake(dir.path(), &format!("rm2-{i}"), &urls, &options, &[]);
        let (mut one_won, mut two_won, mut both_refused) = (0, 0, 0);
        for round in 0..rounds {
            let text = format!("round {round} of {}", urls[0]);
            let mut w = one.create(format!("race/{round}.txt")).unwrap();
            w.write_all(text.as_bytes()).unwrap();
            w.commit().unwrap();
            let name = Name::new(format!("race/{round}.txt")).unwrap();
            one.copy_names(std::slice::from_ref(&name), "a").unwrap();
            let barrier = std::sync::Barrier::new(2);
            let (r1, r2) = std::thread::scope(|s| {
                let a = s.spawn(|| {
                    barrier.wait();
                    one.remove_copies(std::slice::from_ref(&name), "default", false)
                });
                let b = s.spawn(|| {
                    barrier.wait();
                    two.remove_copies(std::slice::from_ref(&name), "a", false)
                });
                (a.join().unwrap(), b.join().unwrap())
            });
            for r in [&r1, &r2] {
                if let Err(e) = r {
                    assert!(
                        matches!(e, Error::RemovalInProgress { .. } | Error::LastCopy { .. }),
                        "{text}: {e}"
                    );
                }
            }
            assert!(r1.is_err() || r2.is_err(), "{text}: both copies deleted");
            match (r1.is_ok(), r2.is_ok()) {
                (true, false) => one_won += 1,
                (false, true) => two_won += 1,
                _ => both_refused += 1,
            }
            let fresh = three_store_lake(
                dir.path(),
                &format!("check-{i}-{round}"),
                &urls,
                &options,
                &[],
            );
            assert_eq!(
                fresh.file(name.as_str()).unwrap().read_to_string().unwrap(),
                text
            );
            let history = fresh.history(&name).unwrap();
            assert!(history.open.is_empty(), "{text}: {history:?}");
            assert!(!history.locations.is_empty(), "{text}");
        }
        println!(
            "concurrent rm --from of both copies on {}: {rounds} rounds; first won {one_won}, \
             second won {two_won}, both backed off {both_refused}; both deleted: 0",
            urls[0].split(':').next().unwrap()
        );
    }
}
