//! The annotation and pointer commands (issue 13 items 2, 3, 4, 6), driven
//! through the `lake` binary, each test in its own temporary home with a
//! `file://` store.

use lake_tests::{LakeCmd, TestDir, names_in_json as names};
use serde_json::{Value, json};

/// The names `ls PREFIX --json ARGS` lists with `cmd`.
fn ls(mut cmd: LakeCmd, prefix: &str, args: &[&str]) -> Vec<String> {
    names(
        &cmd.args(["ls", "-r", prefix, "--json"])
            .args(args)
            .json_lines(),
    )
}

fn annotations(t: &TestDir, name: &str) -> Value {
    t.lake().args(["info", name, "--json"]).json()["annotations"].clone()
}

/// A test directory whose lake holds `name` with `content`.
fn lake_with(name: &str, content: &str) -> TestDir {
    let t = TestDir::new();
    let src = t.write("source", content);
    t.lake().arg("add").arg(&src).arg(name).ok();
    t
}

#[test]
fn tag_untag_label_unlabel_touch_round_trip() {
    let t = lake_with("raw/a.csv", "x,y\n");
    let before = t.lake().args(["info", "raw/a.csv", "--json"]).json();

    let out = t
        .lake()
        .args([
            "tag",
            "raw/a.csv",
            "site=north",
            "run=3",
            "ok=true",
            "id=\"7\"",
        ])
        .ok();
    assert!(
        out.contains("tags:        id=7 ok=true run=3 site=north"),
        "{out}"
    );
    t.lake()
        .args(["label", "raw/a.csv", "Calibrated", "gold"])
        .ok();
    t.lake()
        .args(["touch", "raw/a.csv", "--timestamp", "2026-11-01"])
        .ok();
    assert_eq!(
        annotations(&t, "raw/a.csv"),
        json!({
            "schema_version": 1,
            "tags": {"id": "7", "ok": true, "run": 3, "site": "north"},
            "labels": ["calibrated", "gold"],
            "timestamp": "2026-11-01T00:00:00Z"
        })
    );

    t.lake().args(["untag", "raw/a.csv", "run", "id"]).ok();
    t.lake().args(["unlabel", "raw/a.csv", "GOLD"]).ok();
    let a = annotations(&t, "raw/a.csv");
    assert_eq!(a["tags"], json!({"ok": true, "site": "north"}));
    assert_eq!(a["labels"], json!(["calibrated"]));

    // Content, record and digest are untouched; both digests are shown.
    let after = t.lake().args(["info", "raw/a.csv", "--json"]).json();
    assert_eq!(after["blake3"], before["blake3"]);
    assert_eq!(after["lineage"], before["lineage"]);
    assert_ne!(after["metadata_digest"], before["metadata_digest"]);
    let info = t.lake().args(["info", "raw/a.csv"]).ok();
    assert!(info.contains("blake3:"), "{info}");
    assert!(info.contains("metadata:"), "{info}");
    assert!(info.contains("labels:      calibrated"), "{info}");

    // `touch` without a timestamp dates it now.
    t.lake().args(["touch", "raw/a.csv"]).ok();
    let stamped = annotations(&t, "raw/a.csv")["timestamp"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stamped.as_str() > "2026-11-01", "{stamped}");
}

#[test]
fn bad_annotations_are_refused_naming_the_value() {
    let t = lake_with("a", "a");
    let err = t.lake().args(["label", "a", "two words"]).fails();
    assert!(err.contains("\"two words\""), "{err}");
    let err = t.lake().args(["tag", "a", "novalue"]).fails();
    assert!(err.contains("\"novalue\""), "{err}");
    let err = t.lake().args(["touch", "a", "--timestamp", "soon"]).fails();
    assert!(err.contains("\"soon\""), "{err}");
    let err = t.lake().args(["tag", "missing", "k=v"]).fails();
    assert!(err.contains("missing"), "{err}");
    // `add` checks its annotations before adding anything.
    let b = t.write("b", "b");
    let err = t
        .lake()
        .arg("add")
        .arg(&b)
        .arg("b")
        .args(["--label", "Not Ok"])
        .fails();
    assert!(err.contains("\"Not Ok\""), "{err}");
    assert_eq!(
        names(&t.lake().args(["ls", "-r", "--json"]).json_lines()),
        ["a"]
    );
}

#[test]
fn add_annotates_and_ls_filters_by_tag_label_since_and_locality() {
    let t = TestDir::new();
    for (file, site, label, date) in [
        ("one", "north", "raw", "2026-01-05"),
        ("two", "south", "raw", "2025-06-01"),
        ("three", "north", "clean", "2026-02-01T12:00:00Z"),
    ] {
        let src = t.write(file, file);
        t.lake()
            .arg("add")
            .arg(&src)
            .arg(format!("d/{file}"))
            .args(["--tag", &format!("site={site}"), "--label", label])
            .args(["--timestamp", date])
            .ok();
    }
    let ls1 = |args: &[&str]| ls(t.lake(), "d", args);
    assert_eq!(ls1(&["--tag", "site=north"]), ["d/one", "d/three"]);
    assert_eq!(ls1(&["--tag", "site=north", "--label", "RAW"]), ["d/one"]);
    assert_eq!(ls1(&["--since", "2026-01-01"]), ["d/one", "d/three"]);
    assert_eq!(ls1(&["--label", "none-such"]), Vec::<String>::new());
    // --long shows the annotations under each file, readable and as JSON.
    let long = t.lake().args(["ls", "d", "--long"]).ok();
    assert!(
        long.contains("    site=north #raw @2026-01-05T00:00:00+00:00"),
        "{long}"
    );
    let json = t
        .lake()
        .args(["ls", "-r", "d", "--long", "--json"])
        .json_lines();
    assert_eq!(json[0]["annotations"]["labels"], json!(["raw"]));

    // Another home on the same store: nothing local until it is read.
    let other = t.path().join("home2");
    let ls2 = |args: &[&str]| ls(t.lake_with_home(&other), "d", args);
    assert_eq!(ls2(&["--label", "raw"]), ["d/one", "d/two"]);
    assert_eq!(ls2(&["--local"]), Vec::<String>::new());
    t.lake_with_home(&other).args(["cat", "d/two"]).ok();
    assert_eq!(ls2(&["--local"]), ["d/two"]);
    assert_eq!(ls2(&["--remote"]), ["d/one", "d/three"]);
    // A change from the first home shows in the second home's filter.
    t.lake().args(["tag", "d/two", "site=north"]).ok();
    assert_eq!(ls2(&["--tag", "site=north"]), ["d/one", "d/three", "d/two"]);
    let err = t.lake().args(["ls", "--local", "--remote"]).fails();
    assert!(err.contains("--remote"), "{err}");
}

#[test]
fn pointer_round_trip_through_the_cli_on_a_second_home() {
    let t = TestDir::new();
    let src = t.write("data.bin", b"\x00\x01pointer payload\xff".as_slice());
    t.lake().arg("add").arg(&src).arg("raw/data.bin").ok();

    let stdout = t.lake().args(["pointer", "raw/data.bin"]).json();
    assert_eq!(stdout["schema_version"], 1);
    assert_eq!(stdout["name"], "raw/data.bin");
    assert_eq!(stdout["size"], 18);
    assert_eq!(stdout["store"], t.store_url());

    let pointer = t.path().join("data.lake.json");
    t.lake()
        .args(["pointer", "raw/data.bin", "-o"])
        .arg(&pointer)
        .ok();
    let other = t.path().join("home2");
    let bytes = t
        .lake_with_home(&other)
        .args(["cat", "--pointer"])
        .arg(&pointer)
        .ok_bytes();
    assert_eq!(bytes, b"\x00\x01pointer payload\xff");

    // Tampered: another digest, refused naming both.
    let mut tampered: Value = serde_json::from_slice(&std::fs::read(&pointer).unwrap()).unwrap();
    let real = tampered["blake3"].as_str().unwrap().to_owned();
    let fake = "0".repeat(64);
    tampered["blake3"] = json!(fake);
    let bad = t.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let err = t
        .lake_with_home(&other)
        .args(["cat", "--pointer"])
        .arg(&bad)
        .fails();
    assert!(err.contains(&real) && err.contains(&fake), "{err}");

    // Another store: refused naming it.
    tampered["blake3"] = json!(real);
    tampered["store"] = json!("s3://another-bucket/lake");
    std::fs::write(&bad, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let err = t.lake().args(["cat", "--pointer"]).arg(&bad).fails();
    assert!(err.contains("s3://another-bucket/lake"), "{err}");
    assert!(err.contains(&t.store_url()), "{err}");
}

/// `lake add file:///…/key NAME`: an object of another store is copied in
/// with its URL as the source (issue 13 item 7).
#[test]
fn add_copies_an_object_from_another_store_url() {
    let t = TestDir::new();
    let src = t.write("other-store/in/obj.bin", "from another store\n");
    let url = format!("file://{}", src.display());
    let out = t.lake().args(["add", &url, "ext/obj.bin"]).ok();
    assert!(out.contains("ext/obj.bin"), "{out}");
    let info = t.lake().args(["info", "ext/obj.bin", "--json"]).json();
    assert_eq!(info["lineage"]["source"], json!(url));
    assert_eq!(
        t.lake().args(["cat", "ext/obj.bin"]).ok(),
        "from another store\n"
    );
    let err = t.lake().args(["add", &url, "ext/x", "--move"]).fails();
    assert!(err.contains("--move"), "{err}");
}
