//! `lake gc` from the command line: `--local --max-size` evicts the least
//! recently used local copies, on `file://` and on moto and Azurite when
//! `scripts/servers start` describes them.
//!
//! See: issue 12 (part 3), docs/design/0004-gc-and-crashes.md.

use lake_runtime::Digest;
use lake_tests::{LakeCmd, TestDir, TestServer};
use serde_json::Value;

fn lake(t: &TestDir, server: &Option<(TestServer, String)>) -> LakeCmd {
    let mut cmd = t.lake();
    if let Some((server, url)) = server {
        server.apply(&mut cmd, url);
    }
    cmd
}

fn local_names(t: &TestDir, s: &Option<(TestServer, String)>) -> Vec<String> {
    let listing = lake(t, s)
        .args(["ls", "-r", "--local", "--json"])
        .json_lines();
    let mut names: Vec<String> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The digests of the copies a gc report says it evicted to the budget.
fn evicted(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["kind"] == "home-lru")
        .map(|item| {
            let path = item["path"].as_str().unwrap();
            path.rsplit('/').next().unwrap().to_owned()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn gc_local_max_size_evicts_the_least_recently_used_copies() {
    for server in lake_tests::file_moto_azurite() {
        let t = TestDir::new();
        let s = server.map(|s| {
            let url = s.fresh_url("gc-budget");
            (s, url)
        });
        let contents: Vec<Vec<u8>> = (1..=5u8).map(|i| vec![i; 1 << 20]).collect();
        for (i, bytes) in contents.iter().enumerate() {
            let path = t.write(&format!("src/f{}.bin", i + 1), bytes);
            lake(&t, &s)
                .arg("add")
                .arg(&path)
                .arg(format!("d/f{}.bin", i + 1))
                .ok();
        }
        // Reading marks a use: f3, then f1, are now the most recent.
        for name in ["d/f3.bin", "d/f1.bin"] {
            lake(&t, &s).args(["cat", name]).ok_bytes();
        }
        let digest = |i: usize| Digest::of(&contents[i - 1]).to_hex();
        let mut expected = vec![digest(2), digest(4), digest(5)];
        expected.sort();

        let args = ["gc", "--local", "--max-size", "2MiB", "--json"];
        let dry = lake(&t, &s).args(args).arg("--dry-run").json();
        assert_eq!(evicted(&dry), expected, "{dry:#}");
        assert_eq!(local_names(&t, &s).len(), 5, "a dry run evicted");

        let report = lake(&t, &s).args(args).json();
        assert_eq!(evicted(&report), expected, "{report:#}");
        let budget = &report["local_budget"];
        assert_eq!(budget["before_bytes"], 5 << 20);
        assert_eq!(budget["after_bytes"], 2 << 20);
        assert_eq!(budget["evicted"]["count"], 3);
        assert_eq!(local_names(&t, &s), ["d/f1.bin", "d/f3.bin"]);

        // The store kept everything: an evicted copy reads back, verified.
        let read = lake(&t, &s).args(["cat", "d/f2.bin"]).ok_bytes();
        assert!(read == contents[1], "d/f2.bin read back wrong");
        lake(&t, &s).args(["verify", "--store"]).ok();
        let text = lake(&t, &s).args(["gc", "--local", "--max-size", "0"]).ok();
        assert!(
            text.contains("local copies:") && text.contains("0 B left"),
            "{text}"
        );
        assert!(local_names(&t, &s).is_empty());
    }
}

#[test]
fn gc_refuses_bad_sizes_and_contradictory_scopes() {
    let t = TestDir::new();
    let err = t
        .lake()
        .args(["gc", "--local", "--max-size", "10 GiBs"])
        .fails();
    assert!(err.contains("\"10 GiBs\""), "{err}");
    let err = t.lake().args(["gc", "--store", "--local"]).fails();
    assert!(err.contains("--local") && err.contains("--store"), "{err}");
    let err = t.lake().args(["gc", "--store", "--max-size", "1G"]).fails();
    assert!(err.contains("--max-size"), "{err}");
}

#[test]
fn gc_local_leaves_the_store_alone_and_gc_store_the_home() {
    let t = TestDir::new();
    let src = t.write("a.txt", "alpha");
    t.lake().arg("add").arg(&src).arg("a.txt").ok();
    t.lake().args(["rm", "a.txt"]).ok();
    // An orphan in each place: a store blob and a home copy no name holds.
    let orphan = t.write("orphan.bin", "nobody's");
    let digest = Digest::of(b"nobody's").to_hex();
    let store_blob = t.store_blob(&digest);
    std::fs::copy(&orphan, &store_blob).unwrap();
    let home_copy = t.home_blob(&Digest::of(b"home only").to_hex());
    std::fs::write(&home_copy, "home only").unwrap();

    let local = t
        .lake()
        .args(["gc", "--local", "--grace", "0", "--json"])
        .json();
    assert_eq!(local["scope"], "local");
    assert_eq!(local["store_blobs"]["count"], 0, "{local:#}");
    assert_eq!(local["home_blobs"]["count"], 1, "{local:#}");
    assert!(store_blob.exists() && !home_copy.exists());

    let store = t
        .lake()
        .args(["gc", "--store", "--grace", "0", "--json"])
        .json();
    assert_eq!(store["store_blobs"]["count"], 1, "{store:#}");
    assert!(!store_blob.exists());
}
