//! External objects (issue 13 item 7): `Lake::add_object` copies an object
//! from another store in, hashed, with its URL as the source; against moto
//! when it runs.

#![cfg(feature = "testing")]

use bytes::Bytes;
use lake_core::{Digest, Lineage, Name, PutMode, StorePath};
use lake_runtime::store::open_store_with;
use lake_runtime::testing::server_from_env;
use lake_runtime::{Lake, LakeConfigBuilder};

#[test]
fn add_object_from_another_prefix_of_moto() {
    let Some((source_url, options)) = server_from_env("MOTO") else {
        return;
    };
    let Some((lake_url, _)) = server_from_env("MOTO") else {
        return;
    };
    let bytes = Bytes::from_static(b"measured elsewhere\n");
    let source = open_store_with(&source_url, &options).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let key = StorePath::parse("incoming/m.csv").unwrap();
    runtime
        .block_on(source.put(&key, bytes.clone(), PutMode::Overwrite))
        .unwrap();

    let home = tempfile::tempdir().unwrap();
    let config = options
        .iter()
        .fold(
            LakeConfigBuilder::new()
                .with_home(home.path())
                .with_store(&lake_url),
            |b, (k, v)| b.with_store_option(k, v),
        )
        .with_progress(false)
        .build()
        .unwrap();
    let lake = Lake::open_with(config).unwrap();
    let object_url = format!("{source_url}/incoming/m.csv");
    let name = Name::new("ext/m.csv").unwrap();
    let added = lake.add_object(&object_url, &name).unwrap();
    assert_eq!(added.blake3, Digest::of(&bytes));
    assert_eq!(lake.file("ext/m.csv").unwrap().read().unwrap(), bytes);
    match lake.record(&name).unwrap().lineage {
        Lineage::Added(a) => assert_eq!(a.source.as_deref(), Some(object_url.as_str())),
        other => panic!("{other:?}"),
    }
    // Adding it again is a no-op; a missing object is an error naming it.
    assert!(!lake.add_object(&object_url, &name).unwrap().created);
    let err = lake
        .add_object(&format!("{source_url}/incoming/none.csv"), &name)
        .unwrap_err();
    assert!(err.to_string().contains("none.csv"), "{err}");
}
