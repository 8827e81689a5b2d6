//! What an add reuses: old store blobs (renewed, so a concurrent gc
//! cannot delete them) and remembered source digests (only while the
//! source is unchanged).
//!
//! An add that dedups onto an old store blob renews its age, so a
//! concurrent `lake gc` cannot delete bytes a new name just adopted.
//! See docs/design/0004-gc-and-crashes.md, "Dedup onto an old orphan".

use std::io::Write;
use std::time::{Duration, SystemTime};

use lake_runtime::{BLOB_REUSE_MAX_AGE, Digest, Lake, LakeConfigBuilder};

fn blob_age(path: &std::path::Path) -> Duration {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default()
}

#[test]
fn adopting_an_old_blob_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let lake = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home"))
            .with_store(format!("file://{}", store.display()))
            .build()
            .unwrap(),
    )
    .unwrap();
    let content = b"shared bytes";
    let mut w = lake.create("first").unwrap();
    w.write_all(content).unwrap();
    w.commit().unwrap();

    let blob = store.join("blobs").join(Digest::of(content).to_hex());
    let old = SystemTime::now() - BLOB_REUSE_MAX_AGE - Duration::from_secs(60);
    let file = std::fs::OpenOptions::new().write(true).open(&blob);
    // The store keeps blobs read-only; make it writable just to age it.
    let file = file.unwrap_or_else(|_| {
        let mut perms = std::fs::metadata(&blob).unwrap().permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perms.set_readonly(false);
        std::fs::set_permissions(&blob, perms).unwrap();
        std::fs::OpenOptions::new().write(true).open(&blob).unwrap()
    });
    file.set_modified(old).unwrap();
    drop(file);
    assert!(blob_age(&blob) > BLOB_REUSE_MAX_AGE);

    let mut w = lake.create("second").unwrap();
    w.write_all(content).unwrap();
    w.commit().unwrap();
    assert!(
        blob_age(&blob) < Duration::from_secs(60),
        "the adopted blob's age was not renewed"
    );
    assert_eq!(lake.file("second").unwrap().read().unwrap(), content);
}

/// Re-adding trusts a remembered digest only while the file's stamp is
/// unchanged: content rewritten in place with the old mtime restored still
/// changes the ctime, so the change is caught.
#[test]
fn readd_of_a_rewritten_file_with_restored_mtime_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home"))
            .with_store("memory://readd-stamp")
            .build()
            .unwrap(),
    )
    .unwrap();
    let source = dir.path().join("data.csv");
    std::fs::write(&source, b"a,b\n1,2\n").unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    let set_mtime = |t| {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&source)
            .unwrap()
            .set_modified(t)
            .unwrap()
    };
    set_mtime(old);
    let name: lake_runtime::Name = "data.csv".parse().unwrap();
    let first = lake
        .add_path(&source, &name, lake_runtime::AddMode::Copy)
        .unwrap();
    assert!(first.created);
    let again = lake
        .add_path(&source, &name, lake_runtime::AddMode::Copy)
        .unwrap();
    assert!(!again.created);

    // Same size, same mtime, different bytes.
    std::fs::write(&source, b"a,b\n9,9\n").unwrap();
    set_mtime(old);
    std::thread::sleep(Duration::from_millis(10));
    let err = lake
        .add_path(&source, &name, lake_runtime::AddMode::Copy)
        .unwrap_err();
    assert!(
        err.to_string().contains("already holds different content"),
        "{err}"
    );
}
