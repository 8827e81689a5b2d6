//! The transfer options, set as a user sets store options
//! (`LAKE_STORE_OPT_*`), on moto:
//! - `multipart_part_size` and `multipart_concurrency`: a 24 MiB add goes
//!   up in 3 parts of 8 MiB by default, and in 5 parts with 5 MiB parts.
//!   The count is read from the object's ETag, which for a multipart upload
//!   ends in `-<parts>` (measured on moto).
//! - `download_range_size` and `download_concurrency`: a 72 MiB pull reads
//!   4 ranges by default and 9 with 8 MiB ranges, counted by the requests
//!   in `pull`'s summary.
//!
//! See: issue 16 (items 2 and 3).

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

/// The number in `pull`'s "N request(s)".
fn requests(summary: &str) -> u64 {
    summary
        .split(" request(s)")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {summary:?}"))
}

#[test]
fn the_range_size_option_sets_how_many_ranges_a_download_reads() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let t = TestDir::new();
    let url = server.fresh_url("download-options");
    let bytes: Vec<u8> = (0..72u32 << 20).map(|i| (i % 253) as u8).collect();
    let source = t.write("big.bin", &bytes);
    let mut add = t.lake();
    server.apply(&mut add, &url);
    add.arg("add").arg(&source).arg("big.bin").ok();

    let pull = |home: &str, extra: &[(&str, &str)]| {
        let mut cmd = t.lake_with_home(t.path().join(home));
        server.apply(&mut cmd, &url);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.args(["pull", "big.bin"]).ok();
        assert!(out.contains("pulled 1 file(s)"), "{out}");
        let mut get = t.lake_with_home(t.path().join(home));
        server.apply(&mut get, &url);
        let copy = t.path().join(format!("{home}.bin"));
        get.args(["get", "big.bin", "-o"]).arg(&copy).ok();
        assert!(std::fs::read(&copy).unwrap() == bytes, "{home}");
        requests(&out)
    };
    let by_default = pull("default-home", &[]);
    let in_8_mib = pull(
        "ranged-home",
        &[
            ("LAKE_STORE_OPT_DOWNLOAD_RANGE_SIZE", "8MiB"),
            ("LAKE_STORE_OPT_DOWNLOAD_CONCURRENCY", "3"),
        ],
    );
    // Everything else a fresh home's pull asks is the same in both.
    assert_eq!(in_8_mib - by_default, 9 - 4, "{by_default} / {in_8_mib}");
}
