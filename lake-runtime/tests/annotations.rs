//! Annotations (issue 13): compare-and-swap updates from two homes at once,
//! reads and updates that download no content, filters through the index,
//! and annotations that never touch content, names or run keys.

#![cfg(feature = "testing")]

use std::io::Write;
use std::sync::Arc;

use lake_core::Annotations;
use lake_runtime::store::{CountingStore, StoreOptions, open_store_with};
use lake_runtime::testing::{Conditionals, Guarantee, server_from_env};
use lake_runtime::{AnnotationFilter, File, Lake, LakeConfigBuilder, Name, TagValue};

/// Threads per home in the concurrency tests.
const THREADS: usize = 8;

/// One store shared by several homes ("machines"), counted.
struct Shared {
    store: Arc<CountingStore>,
    url: String,
    options: StoreOptions,
    conditionals: Conditionals,
    dir: tempfile::TempDir,
}

impl Shared {
    fn file() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/store", dir.path().display());
        Self::open(url, StoreOptions::new(), Conditionals::ATOMIC, dir)
    }

    /// A fresh prefix on test server `server`, with what it guarantees
    /// (docs/design/0003-test-servers.md); `None`, loudly, without it.
    fn server(server: &str, conditionals: Conditionals) -> Option<Self> {
        let (url, options) = server_from_env(server)?;
        Some(Self::open(
            url,
            options,
            conditionals,
            tempfile::tempdir().unwrap(),
        ))
    }

    fn open(
        url: String,
        options: StoreOptions,
        conditionals: Conditionals,
        dir: tempfile::TempDir,
    ) -> Self {
        let inner = open_store_with(&url, &options).unwrap();
        Self {
            store: Arc::new(CountingStore::new(inner)),
            url,
            options,
            conditionals,
            dir,
        }
    }

    /// A lake with its own home on the shared store.
    fn machine(&self, home: &str) -> Lake {
        let mut builder = LakeConfigBuilder::new().with_progress(false);
        for (key, value) in self.options.iter() {
            builder = builder.with_store_option(key, value);
        }
        let home = self.dir.path().join(home);
        let config = builder.with_home(home).with_store(&self.url).build();
        Lake::open_with_store(config.unwrap(), self.store.clone()).unwrap()
    }
}

fn add(lake: &Lake, name: &str, bytes: &[u8]) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(bytes).unwrap();
    w.commit().unwrap()
}

fn int_tag(a: &Annotations, key: &str) -> Option<i64> {
    match a.tag(key) {
        Some(TagValue::Int(n)) => Some(*n),
        None => None,
        Some(other) => panic!("tag {key} is {other:?}, not a number"),
    }
}

/// Two homes × [`THREADS`] threads × `updates` compare-and-swap updates of
/// one file's annotations. Each update increments a shared counter tag and
/// sets the thread's own tag to its update count, so a lost update shows.
fn concurrent_updates_from_two_homes(shared: &Shared, updates: i64) {
    let a = shared.machine("a");
    let b = shared.machine("b");
    let name = Name::new("shared/x.csv").unwrap();
    add(&a, name.as_str(), b"x,y\n");
    let content_before = a.record(&name).unwrap();
    shared.store.reset();

    std::thread::scope(|scope| {
        for (h, lake) in [&a, &b].into_iter().enumerate() {
            for t in 0..THREADS {
                let name = name.clone();
                scope.spawn(move || {
                    let own = format!("h{h}t{t}");
                    for i in 1..=updates {
                        lake.annotate(&name, |a| {
                            let count = int_tag(a, "count").unwrap_or(0);
                            a.set_tag("count", count + 1)?;
                            a.set_tag(&own, i)?;
                            Ok(())
                        })
                        .unwrap_or_else(|e| panic!("{own}: update {i} failed: {e}"));
                    }
                });
            }
        }
    });

    let total = 2 * THREADS as i64 * updates;
    let end = b.annotations(&name).unwrap();
    let count = int_tag(&end, "count").unwrap();
    match shared.conditionals.update {
        Guarantee::Atomic => {
            assert_eq!(count, total, "lost updates: {end:?}");
            for h in 0..2 {
                for t in 0..THREADS {
                    assert_eq!(int_tag(&end, &format!("h{h}t{t}")), Some(updates));
                }
            }
        }
        // Racing updates may all pass the server's check: every update
        // still succeeded (asserted above), each stored one more than a
        // count it read, so the counter is within 1..=total; lost ones
        // cannot be counted.
        Guarantee::CheckThenWrite | Guarantee::Ignored => {
            assert!((1..=total).contains(&count), "count {count} of {total}");
            for (key, value) in end.tags() {
                if key != "count" {
                    let n = match value {
                        TagValue::Int(n) => *n,
                        other => panic!("{key} = {other:?}"),
                    };
                    assert!((1..=updates).contains(&n), "{key} = {n}");
                }
            }
        }
    }
    // Annotations touched neither the content nor the record.
    assert_eq!(shared.store.gets_under("blobs"), (0, 0));
    assert_eq!(b.record(&name).unwrap(), content_before);
    assert!(!b.exists_locally(&name).unwrap());
}

#[test]
fn concurrent_annotations_from_two_homes_lose_nothing_on_file() {
    concurrent_updates_from_two_homes(&Shared::file(), 100);
}

/// Azurite: `If-Match` is atomic, so no update may be lost.
#[test]
fn concurrent_annotations_from_two_homes_lose_nothing_on_azurite() {
    if let Some(shared) = Shared::server("AZURITE", Conditionals::ATOMIC) {
        concurrent_updates_from_two_homes(&shared, 50);
    }
}

/// moto checks `If-Match`, then writes: only what that guarantees.
#[test]
fn concurrent_annotations_from_two_homes_on_moto_keep_what_moto_guarantees() {
    if let Some(shared) = Shared::server("MOTO", Conditionals::CHECK_THEN_WRITE) {
        concurrent_updates_from_two_homes(&shared, 50);
    }
}

/// Reads and updates of annotations, and their digest, on a home that has
/// never seen the file: no content GET, no content download, and only the
/// notes object is written.
#[test]
fn metadata_reads_and_updates_make_no_content_gets() {
    let shared = Shared::file();
    let a = shared.machine("a");
    add(&a, "raw/big.bin", &vec![7u8; 1 << 20]);
    let b = shared.machine("b");
    shared.store.reset();

    let file = b.file("raw/big.bin").unwrap();
    assert!(file.annotations().unwrap().is_empty());
    let empty_digest = file.metadata_digest().unwrap();
    let written = file
        .annotate(|a| {
            a.set_tag("site", "north")?;
            a.add_label("Calibrated")?;
            a.set_timestamp(Some("2026-11-01T00:00:00Z".parse().unwrap()));
            Ok(())
        })
        .unwrap();
    assert_eq!(file.annotations().unwrap(), written);
    assert_ne!(file.metadata_digest().unwrap(), empty_digest);
    // The same change again writes nothing.
    let puts = shared.store.counts().put;
    file.annotate(|a| a.add_label("calibrated").map(drop))
        .unwrap();
    assert_eq!(shared.store.counts().put, puts);

    assert_eq!(shared.store.gets_under("blobs"), (0, 0));
    let counts = shared.store.counts();
    assert_eq!(counts.put, 1, "only notes/raw/big.bin.json: {counts:?}");
    assert!(!file.exists_locally().unwrap());

    // The first home sees the update (the store is the one place).
    let seen = a.file("raw/big.bin").unwrap().annotations().unwrap();
    assert!(seen.has_label("calibrated"));
    assert_eq!(seen.tag("site"), Some(&TagValue::from("north")));
}

/// An annotation error (a bad label) writes nothing and names the value.
#[test]
fn a_bad_label_is_refused_naming_it_and_writes_nothing() {
    let shared = Shared::file();
    let a = shared.machine("a");
    let file = add(&a, "x", b"x");
    shared.store.reset();
    let err = file
        .annotate(|a| a.add_label("has space").map(drop))
        .unwrap_err();
    assert!(err.to_string().contains("\"has space\""), "{err}");
    assert_eq!(shared.store.counts().put, 0);
    assert!(matches!(
        file.lake().annotate(&Name::new("missing").unwrap(), |_| Ok(())),
        Err(e) if e.is_not_found()
    ));
}

/// `--tag/--label/--since` filtering reads the index only: once the
/// annotations are refreshed (one listing of `notes/`), filtering sends no
/// request to the store.
#[test]
fn filters_read_the_index_without_the_store() {
    let shared = Shared::file();
    let a = shared.machine("a");
    for (name, site, label) in [
        ("d/one", "north", "raw"),
        ("d/two", "south", "raw"),
        ("d/three", "north", "clean"),
    ] {
        add(&a, name, name.as_bytes())
            .annotate(|x| {
                x.set_tag("site", site)?;
                x.add_label(label)?;
                Ok(())
            })
            .unwrap();
    }
    add(&a, "d/four", b"four");
    a.file("d/three")
        .unwrap()
        .annotate(|x| {
            x.set_timestamp(Some("2020-01-01T00:00:00Z".parse().unwrap()));
            Ok(())
        })
        .unwrap();

    let b = shared.machine("b");
    b.list("", true).unwrap();
    shared.store.reset();
    assert_eq!(b.refresh_annotations("d").unwrap(), 3);
    assert_eq!(shared.store.counts().list, 1);
    // Nothing changed: a second refresh lists and reads nothing more.
    shared.store.reset();
    assert_eq!(b.refresh_annotations("d").unwrap(), 0);
    assert_eq!(shared.store.counts().get, 0);

    shared.store.reset();
    let names = |filter: AnnotationFilter| -> Vec<String> {
        b.list_filtered("d", false, &filter)
            .unwrap()
            .into_iter()
            .map(|e| e.name.to_string())
            .collect()
    };
    let north = AnnotationFilter::default().with_tag("site", "north");
    assert_eq!(names(north.clone()), ["d/one", "d/three"]);
    assert_eq!(names(north.with_label("RAW")), ["d/one"]);
    let since = AnnotationFilter::default().with_since("2025-01-01T00:00:00Z".parse().unwrap());
    // d/three is dated 2020 by its timestamp; the others by creation.
    assert_eq!(names(since), ["d/four", "d/one", "d/two"]);
    let local = AnnotationFilter {
        local: true,
        ..Default::default()
    };
    assert!(names(local).is_empty());
    let counts = shared.store.counts();
    assert_eq!(
        (counts.get, counts.list, counts.head),
        (0, 0, 0),
        "{counts:?}"
    );

    // A change from another home reaches the filter after a refresh.
    a.file("d/two")
        .unwrap()
        .annotate(|x| x.set_tag("site", "north").map(drop))
        .unwrap();
    assert_eq!(b.refresh_annotations("d").unwrap(), 1);
    assert_eq!(
        names(AnnotationFilter::default().with_tag("site", "north")),
        ["d/one", "d/three", "d/two"]
    );
}

mod creators {
    use super::*;
    use lake_runtime::{assert_hit, assert_ran, file_creator};

    #[file_creator]
    fn shout(text: &File) -> lake_runtime::Result<File> {
        let mut out = File::create_output()?;
        out.write_text(&text.read_text()?.to_uppercase())?;
        out.commit()
    }

    /// Annotating an input changes neither its content, its name nor the
    /// key of a run that reads it: the next call is a hit.
    #[test]
    fn annotating_an_input_keeps_runs_hits() {
        let lake = Lake::temporary().unwrap();
        let input = add(&lake, "in.txt", b"hello");
        let out = assert_ran!(shout(&input).unwrap());
        let record = input.record().unwrap();
        input
            .annotate(|a| {
                a.set_tag("reviewed", true)?;
                a.add_label("gold")?;
                Ok(())
            })
            .unwrap();
        out.annotate(|a| a.add_label("output").map(drop)).unwrap();
        let again = assert_hit!(shout(&input).unwrap());
        assert_eq!(again.name(), out.name());
        assert_eq!(input.record().unwrap(), record);
        assert_eq!(again.read_text().unwrap(), "HELLO");
    }
}
