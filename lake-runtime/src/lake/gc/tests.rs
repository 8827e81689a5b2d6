use super::*;
use crate::LakeConfigBuilder;
use bytes::Bytes;
use lake_core::{Name, PutMode};
use std::time::SystemTime;

fn lake(dir: &Path) -> Lake {
    Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.join("home"))
            .with_store(format!("file://{}", dir.join("store").display()))
            .with_progress(false)
            .build()
            .unwrap(),
    )
    .unwrap()
}

fn add(lake: &Lake, name: &str, bytes: &[u8]) -> Digest {
    let mut w = lake.create(name).unwrap();
    std::io::Write::write_all(&mut w, bytes).unwrap();
    w.commit().unwrap().digest().unwrap()
}

/// An unreferenced blob in the store, as an interrupted add leaves it.
fn orphan(lake: &Lake, bytes: &'static [u8]) -> StorePath {
    let path = StorePath::blob(&Digest::of(bytes));
    block_on(
        lake.store()
            .put(&path, Bytes::from_static(bytes), PutMode::Overwrite),
    )
    .unwrap();
    path
}

fn exists(lake: &Lake, path: &StorePath) -> bool {
    block_on(lake.store().head(path)).is_ok()
}

fn backdate(path: &Path, secs: u64) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .or_else(|_| {
            // A read-only file (a cached blob): make it writable to stamp it.
            let mut perms = std::fs::metadata(path)?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(path, perms)?;
            std::fs::File::options().write(true).open(path)
        });
    file.unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn referenced_blob_survives_even_with_zero_grace() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let digest = add(&lake, "keep/a.txt", b"referenced");
    let report = lake
        .gc(&GcOptions {
            grace: Duration::ZERO,
            ..GcOptions::default()
        })
        .unwrap();
    assert_eq!(report.total().count, 0, "{report:?}");
    assert!(exists(&lake, &StorePath::blob(&digest)));
    assert!(lake.home().has_blob(&digest));
    let name = Name::new("keep/a.txt").unwrap();
    assert!(lake.verify(&[name], true, false).unwrap().is_clean());
}

#[test]
fn young_orphan_survives_old_one_goes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    add(&lake, "keep/a.txt", b"referenced");
    let young = orphan(&lake, b"young orphan");
    let old = orphan(&lake, b"old orphan");
    backdate(&dir.path().join("store").join(old.as_str()), 7200);
    let report = lake.gc(&GcOptions::default()).unwrap();
    assert!(exists(&lake, &young), "a young orphan is kept");
    assert!(!exists(&lake, &old), "an old orphan is removed");
    assert_eq!(report.store_blobs.count, 1, "{report:?}");
    assert_eq!(report.store_blobs.bytes, b"old orphan".len() as u64);
    assert_eq!(report.kept_young.count, 1, "{report:?}");
}

#[test]
fn dry_run_removes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let orphaned = orphan(&lake, b"orphan");
    let staged = lake
        .home()
        .stage()
        .unwrap()
        .into_temp_path()
        .keep()
        .unwrap();
    let options = GcOptions {
        grace: Duration::ZERO,
        dry_run: true,
        ..GcOptions::default()
    };
    let report = lake.gc(&options).unwrap();
    assert_eq!(report.store_blobs.count, 1, "{report:?}");
    assert_eq!(report.home_staging.count, 1, "{report:?}");
    assert!(exists(&lake, &orphaned));
    assert!(staged.exists());
    // For real this time.
    let report = lake
        .gc(&GcOptions {
            dry_run: false,
            ..options
        })
        .unwrap();
    assert_eq!(report.total().count, 2, "{report:?}");
    assert!(!exists(&lake, &orphaned));
    assert!(!staged.exists());
}

#[test]
fn home_leftovers_past_grace_go() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let digest = add(&lake, "keep/a.txt", b"referenced");
    let young_stage = lake
        .home()
        .stage()
        .unwrap()
        .into_temp_path()
        .keep()
        .unwrap();
    let old_stage = lake
        .home()
        .stage()
        .unwrap()
        .into_temp_path()
        .keep()
        .unwrap();
    backdate(&old_stage, 7200);
    // A home blob no name references (a run that died before commit).
    let orphan_digest = Digest::of(b"home orphan");
    let orphan_path = lake.home().blob_path(&orphan_digest);
    std::fs::write(&orphan_path, b"home orphan").unwrap();
    backdate(&orphan_path, 7200);
    // Store staging left by a killed upload to a file:// store.
    let store_staging = dir
        .path()
        .join("store/blobs")
        .join(format!("{}#1234000001", Digest::of(b"partial")));
    std::fs::write(&store_staging, b"part").unwrap();
    backdate(&store_staging, 7200);

    let report = lake.gc(&GcOptions::default()).unwrap();
    assert!(young_stage.exists());
    assert!(!old_stage.exists());
    assert!(!orphan_path.exists());
    assert!(!store_staging.exists());
    assert!(
        lake.home().has_blob(&digest),
        "a referenced home blob stays"
    );
    assert_eq!(report.home_staging.count, 1, "{report:?}");
    assert_eq!(report.home_blobs.count, 1, "{report:?}");
    assert_eq!(report.store_staging.count, 1, "{report:?}");
}

#[test]
fn blob_referenced_only_by_a_manifest_survives() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let blob = orphan(&lake, b"manifest only");
    let manifest = serde_json::json!({
        "schema_version": 1,
        "key": "00".repeat(32),
        "creator": "x::y",
        "code_hash": "h",
        "version": null,
        "outputs": [{"name": "y/00", "blake3": Digest::of(b"manifest only").to_hex(), "size": 13}],
        "committed_at": "2026-01-01T00:00:00Z",
    });
    block_on(lake.store().put(
        &StorePath::run_manifest(&"00".repeat(32)),
        Bytes::from(serde_json::to_vec(&manifest).unwrap()),
        PutMode::Create,
    ))
    .unwrap();
    let report = lake
        .gc(&GcOptions {
            grace: Duration::ZERO,
            ..GcOptions::default()
        })
        .unwrap();
    assert!(exists(&lake, &blob), "{report:?}");
}

#[test]
fn store_staging_names() {
    let hex = Digest::of(b"x").to_hex();
    assert!(is_store_staging_name(&format!("{hex}#123")));
    assert!(is_store_staging_name("a.json#4567"));
    assert!(!is_store_staging_name(&hex));
    assert!(!is_store_staging_name("a#12.json"));
    assert!(!is_store_staging_name("#12"));
    assert!(!is_store_staging_name("a#"));
}
