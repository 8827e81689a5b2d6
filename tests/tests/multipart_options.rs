//! `multipart_part_size` and `multipart_concurrency`, set as a user sets
//! store options (`LAKE_STORE_OPT_*`): a 24 MiB add to moto goes up in 3
//! parts of 8 MiB by default, and in 5 parts with 5 MiB parts. The count is
//! read from the object's ETag, which for a multipart upload ends in
//! `-<parts>` (measured on moto).
//!
//! See: issue 16 (item 3).

use lake_runtime::store::open_store_with;
use lake_runtime::{Digest, StorePath};
use lake_tests::{TestDir, TestServer};

#[test]
fn the_part_size_option_sets_how_many_parts_an_upload_has() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options: [(&[(&str, &str)], usize); 2] = [
        (&[], 3),
        (
            &[
                ("LAKE_STORE_OPT_MULTIPART_PART_SIZE", "5MiB"),
                ("LAKE_STORE_OPT_MULTIPART_CONCURRENCY", "1"),
            ],
            5,
        ),
    ];
    for (extra, parts) in options {
        let t = TestDir::new();
        let url = server.fresh_url("multipart-options");
        let bytes: Vec<u8> = (0..24u32 << 20).map(|i| (i % 251) as u8).collect();
        let source = t.write("big.bin", &bytes);
        let mut add = t.lake();
        server.apply(&mut add, &url);
        for (k, v) in extra {
            add.env(k, v);
        }
        add.arg("add").arg(&source).arg("big.bin").ok();

        let mut info = t.lake();
        server.apply(&mut info, &url);
        let record = info.args(["info", "big.bin", "--json"]).json();
        let digest: Digest = record["blake3"].as_str().unwrap().parse().unwrap();
        let store = open_store_with(&url, &server.store_options()).unwrap();
        let meta = runtime
            .block_on(store.head(&StorePath::blob(&digest)))
            .unwrap();
        let e_tag = meta.version.e_tag.unwrap_or_default();
        assert!(
            e_tag.trim_matches('"').ends_with(&format!("-{parts}")),
            "{extra:?}: ETag {e_tag}, expected {parts} parts"
        );

        // Read back on another machine, verified.
        let mut other = t.lake_with_home(t.path().join("other-home"));
        server.apply(&mut other, &url);
        let copy = t.path().join("copy.bin");
        other.args(["get", "big.bin", "-o"]).arg(&copy).ok();
        assert!(std::fs::read(&copy).unwrap() == bytes, "{extra:?}");
    }
}
