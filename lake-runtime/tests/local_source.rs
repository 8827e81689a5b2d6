//! `File::local_source` (issue 13 item 6, thds.mops' `SrcFile`): a local
//! file as a creator input is uploaded when a creator that takes it runs,
//! and never on a skip; an edit between hashing and upload publishes
//! nothing.

use std::io::Write;
use std::sync::Arc;

use lake_runtime::store::{CountingStore, StoreOptions, open_store_with};
use lake_runtime::{Error, File, Lake, LakeConfigBuilder, assert_hit, assert_ran, file_creator};

#[file_creator]
fn shout(text: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(text.read_text()?.to_uppercase().as_bytes())?;
    out.commit()
}

/// A `file://` store, counted, that several homes ("machines") share.
struct Shared {
    store: Arc<CountingStore>,
    url: String,
    dir: tempfile::TempDir,
}

impl Shared {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/store", dir.path().display());
        let inner = open_store_with(&url, &StoreOptions::new()).unwrap();
        Self {
            store: Arc::new(CountingStore::new(inner)),
            url,
            dir,
        }
    }

    fn machine(&self, home: &str) -> Lake {
        let config = LakeConfigBuilder::new()
            .with_progress(false)
            .with_home(self.dir.path().join(home))
            .with_store(&self.url)
            .build()
            .unwrap();
        let lake = Lake::open_with_store(config, self.store.clone()).unwrap();
        lake.track_outcomes(true);
        lake
    }
}

#[test]
fn a_local_source_is_uploaded_when_its_creator_runs_and_never_on_a_skip() {
    let shared = Shared::new();
    let data = shared.dir.path().join("params.txt");
    std::fs::write(&data, "alpha\n").unwrap();

    let a = shared.machine("a");
    shared.store.reset();
    let source = a.local_source(&data).unwrap();
    assert_eq!(
        shared.store.counts(),
        Default::default(),
        "hashing asked the store"
    );
    assert!(source.name().as_str().starts_with("sources/"));
    assert!(source.name().as_str().ends_with("/params.txt"));
    assert!(
        !source.exists_in_store().unwrap(),
        "uploaded before any run"
    );

    let out = a.scope(|| assert_ran!(shout(&source))).unwrap();
    assert_eq!(out.read_text().unwrap(), "ALPHA\n");
    assert!(
        source.exists_in_store().unwrap(),
        "the run did not upload it"
    );
    assert_eq!(
        source.record().unwrap().blake3,
        lake_runtime::Digest::of(b"alpha\n")
    );

    // Another machine with the same bytes, where nothing is uploaded yet
    // from its point of view: the call is a hit, and sends nothing.
    let b = shared.machine("b");
    let again = b.local_source(&data).unwrap();
    assert_eq!(again.name(), source.name(), "the name follows the content");
    shared.store.reset();
    let hit = b.scope(|| assert_hit!(shout(&again))).unwrap();
    assert_eq!(hit.name(), out.name());
    assert_eq!(shared.store.counts().put, 0, "a skip uploaded something");

    // New content is a new source, a new key, and a run that uploads it.
    std::fs::write(&data, "beta\n").unwrap();
    let changed = b.local_source(&data).unwrap();
    assert_ne!(changed.name(), source.name());
    let out = b.scope(|| assert_ran!(shout(&changed))).unwrap();
    assert_eq!(out.read_text().unwrap(), "BETA\n");
    assert!(changed.exists_in_store().unwrap());
}

#[test]
fn a_local_source_edited_before_its_run_publishes_nothing() {
    let shared = Shared::new();
    let data = shared.dir.path().join("params.txt");
    std::fs::write(&data, "as hashed\n").unwrap();
    let lake = shared.machine("a");
    let source = lake.local_source(&data).unwrap();
    std::fs::write(&data, "edited afterwards\n").unwrap();

    let err = lake.scope(|| shout(&source)).unwrap_err();
    assert!(
        matches!(&err, Error::SourceChanged { hashed, .. }
            if *hashed == lake_runtime::Digest::of(b"as hashed\n")),
        "{err}"
    );
    assert!(err.to_string().contains("params.txt"), "{err}");
    assert!(!source.exists_in_store().unwrap(), "the edit was published");
}

#[test]
fn reading_a_local_source_uploads_it_and_bad_paths_are_named() {
    let shared = Shared::new();
    let data = shared.dir.path().join("notes.txt");
    std::fs::write(&data, "read me\n").unwrap();
    let lake = shared.machine("a");
    let source = lake.local_source(&data).unwrap();
    assert_eq!(source.size().unwrap(), 8, "size needs no upload");
    assert!(!source.exists_in_store().unwrap());
    assert_eq!(source.read_text().unwrap(), "read me\n");
    assert!(source.exists_in_store().unwrap());

    let missing = shared.dir.path().join("missing.txt");
    let err = lake.local_source(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.txt"), "{err}");
    let err = lake.local_source(shared.dir.path()).unwrap_err();
    assert!(err.to_string().contains("regular file"), "{err}");
}

/// A batch plans every call first: the local sources of the calls it will
/// run go up then (a worker elsewhere reads its inputs from the store), and
/// a batch whose calls are all done uploads nothing.
#[test]
fn a_batch_uploads_local_sources_only_for_the_calls_it_runs() {
    let shared = Shared::new();
    let paths: Vec<_> = (0..3)
        .map(|i| {
            let path = shared.dir.path().join(format!("in{i}.txt"));
            std::fs::write(&path, format!("input {i}\n")).unwrap();
            path
        })
        .collect();
    let a = shared.machine("a");
    let sources: Vec<File> = paths.iter().map(|p| a.local_source(p).unwrap()).collect();
    let outs = a
        .scope(|| {
            lake_runtime::batch(|b| {
                for source in &sources {
                    b.call(move || shout(source));
                }
            })
        })
        .unwrap();
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[1].read_text().unwrap(), "INPUT 1\n");
    for source in &sources {
        assert!(
            source.exists_in_store().unwrap(),
            "{} not uploaded",
            source.name()
        );
    }

    let b = shared.machine("b");
    let again: Vec<File> = paths.iter().map(|p| b.local_source(p).unwrap()).collect();
    shared.store.reset();
    b.scope(|| {
        lake_runtime::batch(|batch| {
            for source in &again {
                batch.call(move || shout(source));
            }
        })
    })
    .unwrap();
    assert_eq!(
        shared.store.counts().put,
        0,
        "a batch of done calls uploaded"
    );
}
