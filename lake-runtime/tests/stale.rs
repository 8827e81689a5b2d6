//! `Lake::stale_outputs`: outputs made by other code than the linked creator.

use std::io::Write;

use lake_runtime::{File, Lake, LakeConfigBuilder, Lineage, PutMode, StorePath, file_creator};

#[file_creator(version = "2")]
fn summarize(input: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(&input.read()?)?;
    out.commit()
}

#[test]
fn outputs_of_an_older_version_are_reported_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home"))
            .with_store(format!("file://{}", dir.path().join("store").display()))
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut w = lake.create("in.txt").unwrap();
    w.write_all(b"numbers").unwrap();
    let input = w.commit().unwrap();

    let current = summarize(&input).unwrap();
    assert!(
        lake.stale_outputs().unwrap().is_empty(),
        "fresh output is not stale"
    );

    // An output that version "1" of the same creator committed earlier.
    let mut old = current.record().unwrap();
    old.name = "summarize/old-run".parse().unwrap();
    let Lineage::Created(run) = &mut old.lineage else {
        panic!("creator output has run lineage")
    };
    run.version = Some("1".into());
    lake_runtime::store::open_store(&lake.config().store_url)
        .unwrap()
        .as_ref()
        .put(
            &StorePath::name_record(&old.name),
            old.to_json().into(),
            PutMode::Create,
        )
        .block_here()
        .unwrap();

    let stale = lake_with_fresh_index(&dir).stale_outputs().unwrap();
    assert_eq!(stale.len(), 1, "{stale:?}");
    assert_eq!(stale[0].name.as_str(), "summarize/old-run");
    assert_eq!(stale[0].creator, "stale::summarize");
    assert_eq!(stale[0].reason, r#"version changed from "1" to "2""#);
}

fn lake_with_fresh_index(dir: &tempfile::TempDir) -> Lake {
    Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home2"))
            .with_store(format!("file://{}", dir.path().join("store").display()))
            .build()
            .unwrap(),
    )
    .unwrap()
}

trait BlockingFuture: std::future::Future + Sized {
    fn block_here(self) -> Self::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(self)
    }
}

impl<F: std::future::Future> BlockingFuture for F {}
