//! `Lake::create_streaming` from a process of its own, as a user's program
//! would: 1 GiB goes straight to the store with peak memory under 100 MiB
//! and nothing written to the home, on `file://` and on s3s-fs (an S3 that
//! checks signatures, where the upload is multipart).
//!
//! See: issue 13 (item 5), docs/design/0011-annotations-and-pointers.md.

use std::process::Command;

use lake_tests::{TestDir, TestServer, streamed_chunk};

const MIB: u64 = 1024;
const PEAK_RSS_LIMIT_KIB: u64 = 100 * 1024;

fn expected_digest() -> String {
    let mut hasher = blake3::Hasher::new();
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..MIB {
        streamed_chunk(i, &mut chunk);
        hasher.update(&chunk);
    }
    hasher.finalize().to_hex().to_string()
}

/// Every file below `dir`, recursively, with its size.
fn files_below(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(files_below(&entry.path()));
        } else {
            out.push((entry.path(), meta.len()));
        }
    }
    out
}

#[test]
fn a_streamed_gibibyte_stays_under_100_mib_and_off_the_home() {
    let expected = expected_digest();
    let mut servers = vec![None];
    servers.extend(TestServer::from_env("S3S").map(Some));
    for server in servers {
        let t = TestDir::new();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lake-stream-write"));
        // The home lives apart from a `file://` store, so a look at the
        // home cannot be fooled by the store's own files.
        let home = t.path().join("home-only");
        cmd.env_remove("LAKE_STORE")
            .env("LAKE_HOME", &home)
            .env("LAKE_STORE", t.store_url())
            .env("RUST_LOG", "warn");
        let label = match &server {
            Some(server) => {
                let url = server.fresh_url("stream");
                cmd.env("LAKE_STORE", &url);
                for (k, v) in server.env_vars() {
                    cmd.env(k, v);
                }
                // s3s-fs assembles the 128 parts on disk inside one
                // CompleteMultipartUpload request. A run beside
                // `stress-ng --cpu 4` failed at the end of the upload (the
                // 403 of the abort that followed hid the first error), most
                // likely that request outlasting object_store's default 30 s
                // timeout. This test is about memory, not latency.
                cmd.env("LAKE_STORE_OPT_TIMEOUT", "600s");
                server.kind.clone()
            }
            None => "file".to_owned(),
        };
        let out = cmd
            .args(["big/streamed.bin", &MIB.to_string()])
            .output()
            .expect("run lake-stream-write");
        assert!(
            out.status.success(),
            "{label}: lake-stream-write failed\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        println!("{label}: {report}");
        assert_eq!(report["blake3"], expected.as_str(), "{label}");
        assert_eq!(report["size"], MIB << 20, "{label}");
        let peak = report["peak_rss_kib"].as_u64().unwrap();
        assert!(
            peak < PEAK_RSS_LIMIT_KIB,
            "{label}: peak RSS {peak} KiB for a 1 GiB streamed write"
        );
        let big: Vec<_> = files_below(&home)
            .into_iter()
            .filter(|(_, size)| *size >= 1 << 20)
            .collect();
        assert!(
            big.is_empty(),
            "{label}: the write touched the home: {big:?}"
        );
    }
}
