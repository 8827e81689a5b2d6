//! `Lake::create_streaming`: the committed record is the one a
//! `FileWriter` makes for the same bytes; a writer dropped without a commit
//! leaves nothing; the temporary object goes at commit, or to `gc` after a
//! crash. On `file://`, moto, s3s-fs and Azurite.

use std::io::Write;

use lake_runtime::store::{StoreOptions, open_store_with};
use lake_runtime::testing::server_from_env;
use lake_runtime::{
    Error, File, GcOptions, Lake, LakeConfigBuilder, StoreExt, StorePath, UPLOADS_PREFIX,
    file_creator,
};

/// A lake with its own home on each store under test: `file://`, then
/// each test server that is configured.
fn lakes(dir: &std::path::Path) -> Vec<(String, Lake)> {
    let mut stores = vec![(
        "file".to_owned(),
        format!("file://{}/store", dir.display()),
        StoreOptions::new(),
    )];
    for server in ["MOTO", "S3S", "AZURITE"] {
        if let Some((url, options)) = server_from_env(server) {
            stores.push((server.to_owned(), url, options));
        }
    }
    stores
        .into_iter()
        .map(|(label, url, options)| {
            let mut builder = LakeConfigBuilder::new()
                .with_progress(false)
                .with_home(dir.join(format!("home-{label}")))
                .with_store(&url);
            for (key, value) in options.iter() {
                builder = builder.with_store_option(key, value);
            }
            let store = open_store_with(&url, &options).unwrap();
            let lake = Lake::open_with_store(builder.build().unwrap(), store).unwrap();
            (label, lake)
        })
        .collect()
}

fn uploads_left(lake: &Lake) -> Vec<String> {
    let prefix = StorePath::parse(UPLOADS_PREFIX).unwrap();
    block_on(lake.store().list_all(&prefix, 1000))
        .unwrap()
        .into_iter()
        .map(|meta| meta.path.to_string())
        .collect()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// 20 MiB and a bit, so cloud stores take the multipart path.
fn content() -> Vec<u8> {
    (0..(20 << 20) + 4321)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

#[test]
fn a_streamed_write_commits_the_record_a_file_writer_would() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = content();
    for (label, lake) in lakes(dir.path()) {
        let mut streamed = lake.create_streaming("out/streamed.bin").unwrap();
        for piece in bytes.chunks(300_001) {
            streamed.write_all(piece).unwrap();
        }
        let streamed = streamed.commit().unwrap();
        assert!(
            !streamed.exists_locally().unwrap(),
            "{label}: cached in the home"
        );
        let mut staged = lake.create("out/staged.bin").unwrap();
        staged.write_all(&bytes).unwrap();
        let staged = staged.commit().unwrap();

        let (a, b) = (streamed.record().unwrap(), staged.record().unwrap());
        assert_eq!((a.blake3, a.size), (b.blake3, b.size), "{label}");
        match (&a.lineage, &b.lineage) {
            (lake_runtime::Lineage::Added(a), lake_runtime::Lineage::Added(b)) => assert_eq!(
                (&a.source, &a.added_by, &a.host, &a.lake_version),
                (&b.source, &b.added_by, &b.host, &b.lake_version),
                "{label}: lineage differs"
            ),
            other => panic!("{label}: not added lineage: {other:?}"),
        }
        assert!(streamed.read().unwrap() == bytes, "{label}: read back");
        assert!(
            uploads_left(&lake).is_empty(),
            "{label}: {:?}",
            uploads_left(&lake)
        );

        // The same bytes again under the same name: a no-op, as for add.
        let mut again = lake.create_streaming("out/streamed.bin").unwrap();
        again.write_all(&bytes).unwrap();
        again.commit().unwrap();
        // Other bytes under a taken name: refused, nothing left behind.
        let mut other = lake.create_streaming("out/streamed.bin").unwrap();
        other.write_all(b"something else").unwrap();
        let err = other.commit().unwrap_err();
        assert!(matches!(err, Error::NameTaken { .. }), "{label}: {err}");
        assert!(
            uploads_left(&lake).is_empty(),
            "{label}: {:?}",
            uploads_left(&lake)
        );
    }
}

#[test]
fn a_dropped_streaming_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = content();
    for (label, lake) in lakes(dir.path()) {
        let mut writer = lake.create_streaming("out/abandoned.bin").unwrap();
        writer.write_all(&bytes).unwrap();
        drop(writer);
        assert!(
            !lake
                .file("out/abandoned.bin")
                .unwrap()
                .exists_in_store()
                .unwrap(),
            "{label}: an uncommitted write is visible"
        );
        assert!(
            uploads_left(&lake).is_empty(),
            "{label}: {:?}",
            uploads_left(&lake)
        );
    }
}

#[test]
fn gc_removes_an_upload_a_crash_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    for (label, lake) in lakes(dir.path()) {
        let orphan = StorePath::upload("crashed-writer").unwrap();
        block_on(lake.store().put(
            &orphan,
            bytes::Bytes::from_static(b"half a file"),
            lake_runtime::PutMode::Overwrite,
        ))
        .unwrap();
        let young = lake.gc(&GcOptions::default()).unwrap();
        assert_eq!(young.store_uploads.count, 0, "{label}: a young upload went");
        let report = lake
            .gc(&GcOptions {
                grace: std::time::Duration::ZERO,
                ..GcOptions::default()
            })
            .unwrap();
        assert_eq!(report.store_uploads.count, 1, "{label}: {report:?}");
        assert!(uploads_left(&lake).is_empty(), "{label}");
    }
}

#[file_creator]
fn streams_inside(label: &str) -> lake_runtime::Result<File> {
    let _ = File::create_streaming(format!("inside/{label}"))?;
    unreachable!("create_streaming is refused in a creator body")
}

#[test]
fn a_creator_body_cannot_stream_and_is_told_what_to_use() {
    let lake = Lake::temporary().unwrap();
    let err = streams_inside("x").unwrap_err();
    assert!(matches!(err, Error::StreamingInRun { .. }), "{err}");
    assert!(err.to_string().contains("File::create_output"), "{err}");
    drop(lake);
}
