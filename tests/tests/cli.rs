//! End-to-end tests of the `lake` command line: every command and every
//! bad-input case of the foundation issue, each in its own temporary home
//! with a `file://` store.
//!
//! See: issue 2 ("Bad input" and "Tests that must exist").

use std::path::Path;

use lake_tests::{
    HttpServer, NOT_FOUND_PAGE, Response, TEST_EMAIL, TestDir, files_in, names_in_json, overwrite,
    replace,
};
use serde_json::Value;

/// Bytes that are not UTF-8 and hold NULs, to check byte-exact round trips.
fn binary_bytes() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend_from_slice(b"\0\0\0\xff\xfe\0end");
    bytes
}

/// The blake3 hex of `name`, from `lake info --json`.
fn digest_of(t: &TestDir, name: &str) -> String {
    t.lake().args(["info", name, "--json"]).json()["blake3"]
        .as_str()
        .expect("blake3 is a string")
        .to_owned()
}

/// `lake add SOURCE NAME` with extra flags; returns stdout.
fn add(t: &TestDir, source: &Path, name: &str, flags: &[&str]) -> String {
    t.lake().arg("add").arg(source).arg(name).args(flags).ok()
}

fn assert_one_line(stderr: &str) {
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
}

/// Nothing was stored: no names, no blobs in the store, `ls` is empty.
fn assert_nothing_stored(t: &TestDir) {
    assert_eq!(t.store_files(), Vec::<std::path::PathBuf>::new());
    let listing = t.lake().args(["ls", "--json"]).json_lines();
    assert_eq!(listing, serde_json::json!([]));
    assert_eq!(t.lake().args(["ls", "-r"]).ok(), "");
}

// ------------------------------------------------------------- add, ls, info

#[test]
fn add_file_then_ls_shows_one_level_folders_then_files() {
    let t = TestDir::new();
    let a = t.write("a.txt", "alpha");
    let out = add(&t, &a, "top.txt", &[]);
    assert!(out.starts_with("added top.txt (5 bytes, blake3 "), "{out}");
    add(&t, &a, "data/raw/one.txt", &[]);
    add(&t, &t.write("b.txt", "beta"), "data/two.txt", &[]);
    add(&t, &t.write("c.txt", "gamma"), "zeta/three.txt", &[]);

    let ls = t.lake().arg("ls").ok();
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 3, "{ls}");
    // Folders first (sorted), then files.
    assert!(lines[0].starts_with("data/ "), "{ls}");
    assert!(lines[0].contains("2 file(s)"), "{ls}");
    assert!(lines[1].starts_with("zeta/ "), "{ls}");
    assert!(lines[1].contains("1 file(s)"), "{ls}");
    assert!(lines[2].starts_with("top.txt "), "{ls}");
    assert!(lines[2].contains("5 B"), "{ls}");
    assert!(lines[2].trim_end().ends_with("local"), "{ls}");

    // One level below a prefix.
    let ls = t.lake().args(["ls", "data"]).ok();
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 2, "{ls}");
    assert!(lines[0].starts_with("data/raw/ "), "{ls}");
    assert!(lines[1].starts_with("data/two.txt "), "{ls}");
    // A trailing slash on the prefix means the same.
    assert_eq!(t.lake().args(["ls", "data/"]).ok(), ls);
}

#[test]
fn ls_recursive_lists_every_name_below_prefix() {
    let t = TestDir::new();
    let src = t.write("x", "x");
    // '-' and '0' sort just before and after '/': the edges of "below a".
    for name in [
        "a/b/c.txt",
        "a/d.txt",
        "e.txt",
        "ab/f.txt",
        "a-z.txt",
        "a0/g.txt",
    ] {
        add(&t, &src, name, &[]);
    }
    let all: Vec<String> = t
        .lake()
        .args(["ls", "-r"])
        .ok()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        all,
        [
            "a-z.txt",
            "a/b/c.txt",
            "a/d.txt",
            "a0/g.txt",
            "ab/f.txt",
            "e.txt"
        ]
    );
    // The prefix is segment-wise: "a" does not match "ab/f.txt".
    let below_a: Vec<String> = t
        .lake()
        .args(["ls", "-r", "a"])
        .ok()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(below_a, ["a/b/c.txt", "a/d.txt"]);
}

#[test]
fn ls_json_has_name_size_blake3_local_in_store() {
    let t = TestDir::new();
    add(&t, &t.write("a", "hello"), "dir/a.txt", &[]);
    add(&t, &t.write("b", "hi"), "b.txt", &[]);
    // Like the text: one level, folders first, each with its totals.
    let level = t.lake().args(["ls", "--json"]).json_lines();
    assert_eq!(names_in_json(&level), ["dir/", "b.txt"]);
    assert_eq!(level[0]["kind"], "folder");
    assert_eq!(level[0]["files"], 1);
    assert_eq!(level[0]["size"], 5);
    assert_eq!(level[1]["kind"], "file");
    let listing = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(names_in_json(&listing), ["b.txt", "dir/a.txt"]);
    let entry = &listing[1];
    assert_eq!(entry["name"], "dir/a.txt");
    assert_eq!(entry["size"], 5);
    let hex = entry["blake3"].as_str().unwrap();
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(entry["local"], true);
    assert_eq!(entry["in_store"], true);
    // The digest names the store object and the local copy.
    assert!(t.store_blob(hex).is_file());
    assert!(t.home_blob(hex).is_file());
    assert_eq!(
        names_in_json(&t.lake().args(["ls", "dir", "--json"]).json_lines()),
        ["dir/a.txt"]
    );
}

#[test]
fn info_json_has_record_and_lineage_with_absolute_source_and_adder() {
    let t = TestDir::new();
    let sub = t.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    t.write("sub/data.csv", "a,b\n1,2\n");
    // A relative source path, run from a subdirectory: lineage must still
    // hold the absolute path.
    t.lake()
        .current_dir(&sub)
        .args(["add", "data.csv", "tables/data.csv"])
        .ok();
    let info = t.lake().args(["info", "tables/data.csv", "--json"]).json();
    assert_eq!(info["name"], "tables/data.csv");
    assert_eq!(info["size"], 8);
    assert_eq!(info["blake3"].as_str().unwrap().len(), 64);
    let created_at = info["created_at"].as_str().expect("created_at is a string");
    assert!(created_at.starts_with("20"), "{created_at}");
    let lineage = &info["lineage"];
    let source = lineage["source"].as_str().expect("lineage.source");
    assert_eq!(Path::new(source), sub.join("data.csv"));
    assert!(Path::new(source).is_absolute());
    assert_eq!(lineage["added_by"], TEST_EMAIL);
    assert!(lineage["added_at"].is_string(), "{lineage}");

    // The human view shows the same facts.
    let human = t.lake().args(["info", "tables/data.csv"]).ok();
    assert!(human.contains("tables/data.csv"), "{human}");
    assert!(human.contains(source), "{human}");
    assert!(human.contains(TEST_EMAIL), "{human}");
}

// --------------------------------------------------- cat, get, local-path

#[test]
fn cat_is_byte_exact_for_text_and_binary_with_nul_bytes() {
    let t = TestDir::new();
    let bin = binary_bytes();
    add(&t, &t.write("blob.bin", &bin), "bin/blob.bin", &[]);
    assert_eq!(t.lake().args(["cat", "bin/blob.bin"]).ok_bytes(), bin);
    add(&t, &t.write("t.txt", "line 1\nline 2\n"), "t.txt", &[]);
    assert_eq!(t.lake().args(["cat", "t.txt"]).ok(), "line 1\nline 2\n");
    // An empty file too.
    add(&t, &t.write("empty", ""), "empty", &[]);
    assert_eq!(t.lake().args(["cat", "empty"]).ok_bytes(), b"");
}

#[test]
fn get_writes_a_writable_copy_and_refuses_to_overwrite_without_force() {
    let t = TestDir::new();
    let bin = binary_bytes();
    add(&t, &t.write("src.bin", &bin), "x/y.bin", &[]);

    let out = t.path().join("out.bin");
    t.lake().args(["get", "x/y.bin", "-o"]).arg(&out).ok();
    assert_eq!(std::fs::read(&out).unwrap(), bin);
    assert!(
        !std::fs::metadata(&out).unwrap().permissions().readonly(),
        "get must give an ordinary writable file"
    );
    // Writable for real, and writing it does not touch the lake's copy.
    std::fs::write(&out, "changed").unwrap();
    assert_eq!(t.lake().args(["cat", "x/y.bin"]).ok_bytes(), bin);

    let err = t.lake().args(["get", "x/y.bin", "-o"]).arg(&out).fails();
    assert_one_line(&err);
    assert!(err.contains("out.bin") && err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"changed");

    t.lake()
        .args(["get", "x/y.bin", "--force", "-o"])
        .arg(&out)
        .ok();
    assert_eq!(std::fs::read(&out).unwrap(), bin);

    // Without -o: the file name, in the current directory.
    t.lake().args(["get", "x/y.bin"]).ok();
    assert_eq!(std::fs::read(t.path().join("y.bin")).unwrap(), bin);
    // -o a directory: the file name inside it.
    std::fs::create_dir(t.path().join("outdir")).unwrap();
    t.lake().args(["get", "x/y.bin", "-o", "outdir"]).ok();
    assert_eq!(std::fs::read(t.path().join("outdir/y.bin")).unwrap(), bin);
}

#[test]
fn local_path_prints_a_read_only_copy_in_the_home() {
    let t = TestDir::new();
    add(&t, &t.write("a", "content"), "a.txt", &[]);
    let printed = t.lake().args(["local-path", "a.txt"]).ok();
    let path = Path::new(printed.trim_end());
    assert!(path.starts_with(t.home().join("blobs")), "{printed}");
    assert_eq!(std::fs::read(path).unwrap(), b"content");
    assert!(std::fs::metadata(path).unwrap().permissions().readonly());
    assert!(std::fs::OpenOptions::new().write(true).open(path).is_err() || is_root());
}

/// Root can write read-only files, so the open-for-write check is moot.
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

// ---------------------------------------------------------- add variants

#[test]
fn add_recursive_adds_one_name_per_file_under_name() {
    let t = TestDir::new();
    t.write("tree/a.txt", "a");
    t.write("tree/sub/b.txt", "b");
    t.write("tree/sub/deeper/c.bin", binary_bytes());
    let out = t.lake().args(["add", "tree", "imports/tree", "-r"]).ok();
    // A line per file (few files), then the summary.
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.lines().last().unwrap().starts_with("3 file(s): 3 new "),
        "{out}"
    );
    let listing = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(
        names_in_json(&listing),
        [
            "imports/tree/a.txt",
            "imports/tree/sub/b.txt",
            "imports/tree/sub/deeper/c.bin"
        ]
    );
    assert_eq!(
        t.lake()
            .args(["cat", "imports/tree/sub/deeper/c.bin"])
            .ok_bytes(),
        binary_bytes()
    );
    // The default is --copy: the tree is still there.
    assert!(t.path().join("tree/sub/b.txt").is_file());
}

#[test]
fn add_directory_without_recursive_is_refused() {
    let t = TestDir::new();
    t.write("tree/a.txt", "a");
    let err = t.lake().args(["add", "tree", "tree"]).fails();
    assert_one_line(&err);
    assert!(err.contains("tree") && err.contains("-r"), "{err}");
    assert_nothing_stored(&t);
}

#[test]
fn add_move_removes_the_source_and_copy_keeps_it() {
    let t = TestDir::new();
    let moved = t.write("moved.txt", "move me");
    add(&t, &moved, "m.txt", &["--move"]);
    assert!(!moved.exists(), "--move must remove the source");
    assert_eq!(t.lake().args(["cat", "m.txt"]).ok(), "move me");

    let copied = t.write("copied.txt", "copy me");
    add(&t, &copied, "c.txt", &["--copy"]);
    assert_eq!(std::fs::read(&copied).unwrap(), b"copy me");
    assert_eq!(t.lake().args(["cat", "c.txt"]).ok(), "copy me");
    // The source stays an ordinary writable file.
    assert!(!std::fs::metadata(&copied).unwrap().permissions().readonly());

    let err = t
        .lake()
        .arg("add")
        .arg(&copied)
        .args(["x", "--copy", "--move"])
        .fails();
    assert!(err.contains("--move") || err.contains("--copy"), "{err}");
}

#[test]
fn add_move_of_a_directory_removes_every_file() {
    let t = TestDir::new();
    t.write("tree/a.txt", "a");
    t.write("tree/sub/b.txt", "b");
    t.lake().args(["add", "tree", "t", "-r", "--move"]).ok();
    assert!(!t.path().join("tree/a.txt").exists());
    assert!(!t.path().join("tree/sub/b.txt").exists());
    assert_eq!(t.lake().args(["cat", "t/sub/b.txt"]).ok(), "b");
}

#[test]
fn failed_move_leaves_the_source_intact_and_writable() {
    let t = TestDir::new();
    add(&t, &t.write("first", "original"), "taken.txt", &[]);
    let source = t.write("second", "different content");
    let err = t
        .lake()
        .arg("add")
        .arg(&source)
        .args(["taken.txt", "--move"])
        .fails();
    assert_one_line(&err);
    assert!(err.contains("\"taken.txt\""), "{err}");
    assert_eq!(std::fs::read(&source).unwrap(), b"different content");
    assert!(
        !std::fs::metadata(&source).unwrap().permissions().readonly(),
        "a failed --move must not leave the source read-only"
    );
    assert_eq!(t.lake().args(["cat", "taken.txt"]).ok(), "original");
}

#[test]
fn add_http_url_stores_the_body_and_records_the_url() {
    let t = TestDir::new();
    let body = binary_bytes();
    let server = HttpServer::start([(
        "/data.bin",
        Response {
            status: 200,
            body: body.clone(),
        },
    )]);
    let url = server.url("/data.bin");
    let out = t.lake().args(["add", &url, "web/data.bin"]).ok();
    assert!(out.starts_with("added web/data.bin"), "{out}");
    assert_eq!(t.lake().args(["cat", "web/data.bin"]).ok_bytes(), body);
    let info = t.lake().args(["info", "web/data.bin", "--json"]).json();
    assert_eq!(info["lineage"]["source"], url.as_str());
    assert_eq!(info["size"], body.len());
}

#[test]
fn add_http_404_is_an_error_and_stores_nothing() {
    let t = TestDir::new();
    let server = HttpServer::start([]);
    let url = server.url("/missing.csv");
    let err = t.lake().args(["add", &url, "web/missing.csv"]).fails();
    assert_one_line(&err);
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("404"), "{err}");
    assert!(!err.contains(NOT_FOUND_PAGE), "{err}");
    assert_nothing_stored(&t);
    // Nothing left in staging either.
    assert_eq!(
        files_in(&t.home().join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(t.home_blobs(t.home()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn add_unreachable_url_is_an_error_naming_it() {
    let t = TestDir::new();
    // Bind then drop a listener, so the port is very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/x");
    let err = t.lake().args(["add", &url, "x"]).fails();
    assert_one_line(&err);
    assert!(err.contains(&url), "{err}");
    assert_nothing_stored(&t);
}

// ------------------------------------------------------------- bad input

#[test]
fn invalid_names_are_refused_quoting_the_name_and_nothing_is_stored() {
    let t = TestDir::new();
    let src = t.write("ok.txt", "fine");
    let long = "a".repeat(600);
    let long_segment = format!("x/{}", "b".repeat(300));
    let cases = [
        "..",
        "a/../b",
        "./a",
        "/abs",
        "/etc/passwd",
        "a//b",
        "trailing/",
        "back\\slash",
        "ctrl\u{7}char",
        "tab\tname",
        "new\nline",
        "",
        long.as_str(),
        long_segment.as_str(),
    ];
    for name in cases {
        let err = t.lake().arg("add").arg(&src).arg(name).fails();
        assert_one_line(&err);
        assert!(
            err.contains(&format!("{name:?}")),
            "the error for {name:?} must quote it:\n{err}"
        );
        assert!(err.contains("invalid name"), "{err}");
    }
    assert_nothing_stored(&t);
    // Nothing escaped the temp dir's expected places.
    assert!(!t.path().join("b").exists());
}

#[test]
fn invalid_names_are_refused_by_every_command() {
    let t = TestDir::new();
    for command in ["info", "cat", "get", "local-path", "verify", "evict"] {
        let err = t.lake().args([command, "../escape"]).fails();
        assert_one_line(&err);
        assert!(err.contains("\"../escape\""), "{command}: {err}");
    }
    let err = t.lake().args(["ls", "a//b"]).fails();
    assert!(err.contains("\"a//b\""), "{err}");
}

#[test]
fn missing_source_file_is_an_error_naming_it() {
    let t = TestDir::new();
    let missing = t.path().join("no-such-file.csv");
    let err = t.lake().arg("add").arg(&missing).arg("x.csv").fails();
    assert_one_line(&err);
    assert!(err.contains("no-such-file.csv"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert_nothing_stored(&t);
    // --move of a missing file is the same error.
    let err = t
        .lake()
        .arg("add")
        .arg(&missing)
        .args(["x.csv", "--move"])
        .fails();
    assert!(err.contains("no-such-file.csv"), "{err}");
    // And -r of a missing directory.
    let err = t.lake().args(["add", "no-such-dir", "d", "-r"]).fails();
    assert!(err.contains("no-such-dir"), "{err}");
    assert_nothing_stored(&t);
}

#[test]
fn unknown_name_is_an_error_for_info_cat_get_local_path_verify_evict() {
    let t = TestDir::new();
    add(&t, &t.write("a", "a"), "known.txt", &[]);
    for command in ["info", "cat", "get", "local-path", "verify", "evict"] {
        let out = t.lake().args([command, "nope/missing.txt"]).output();
        assert!(
            !out.status.success(),
            "{command} of an unknown name succeeded"
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_one_line(&err);
        assert!(
            err.contains("\"nope/missing.txt\""),
            "{command} must name the missing file: {err}"
        );
        assert!(out.stdout.is_empty(), "{command} printed to stdout");
    }
    assert!(!t.path().join("missing.txt").exists(), "get wrote a file");
}

#[test]
fn unsupported_store_scheme_is_an_error_naming_it() {
    let t = TestDir::new();
    let err = t.lake().env("LAKE_STORE", "ftp://x/y").args(["ls"]).fails();
    assert_one_line(&err);
    assert!(err.contains("ftp://x/y"), "{err}");
    assert!(err.contains("store"), "{err}");
}

#[test]
fn s3_store_without_bucket_is_an_error_naming_it() {
    let t = TestDir::new();
    let err = t.lake().env("LAKE_STORE", "s3://").args(["ls"]).fails();
    assert_one_line(&err);
    assert!(err.contains("s3://"), "{err}");
    assert!(err.contains("store"), "{err}");
    let src = t.write("a", "a");
    let err = t
        .lake()
        .env("LAKE_STORE", "s3://")
        .arg("add")
        .arg(&src)
        .arg("a")
        .fails();
    assert_one_line(&err);
    assert!(err.contains("s3://"), "{err}");
}

#[test]
fn unusable_file_store_is_a_one_line_error_not_a_panic() {
    let t = TestDir::new();
    // A store path below a regular file cannot be created.
    let blocker = t.write("blocker", "i am a file");
    let url = format!("file://{}/store", blocker.display());
    let out = t.lake().env("LAKE_STORE", &url).args(["ls"]).output();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_one_line(&err);
    assert!(err.contains(&url), "{err}");
}

#[test]
fn credentials_in_a_bad_store_url_are_not_printed() {
    let t = TestDir::new();
    let err = t
        .lake()
        .env("LAKE_STORE", "ftp://user:hunter2@host/bucket")
        .args(["ls"])
        .fails();
    assert!(!err.contains("hunter2"), "{err}");
}

// ---------------------------------------------------------- immutability

#[test]
fn readding_identical_content_is_a_no_op() {
    let t = TestDir::new();
    let a = t.write("a", "same");
    add(&t, &a, "n.txt", &[]);
    let before = t.lake().args(["info", "n.txt", "--json"]).json();
    let b = t.write("b", "same");
    let out = add(&t, &b, "n.txt", &[]);
    assert!(out.starts_with("unchanged n.txt"), "{out}");
    let after = t.lake().args(["info", "n.txt", "--json"]).json();
    // The record is the first one: same creation time and lineage.
    assert_eq!(before, after);
    assert_eq!(
        names_in_json(&t.lake().args(["ls", "-r", "--json"]).json_lines()),
        ["n.txt"]
    );
}

#[test]
fn readding_different_content_is_refused_and_old_content_still_reads_back() {
    let t = TestDir::new();
    add(&t, &t.write("a", "version one"), "n.txt", &[]);
    let digest = digest_of(&t, "n.txt");
    let err = t
        .lake()
        .arg("add")
        .arg(t.write("b", "version two"))
        .arg("n.txt")
        .fails();
    assert_one_line(&err);
    assert!(err.contains("\"n.txt\""), "{err}");
    assert!(err.contains("immutable"), "{err}");
    assert_eq!(t.lake().args(["cat", "n.txt"]).ok(), "version one");
    assert_eq!(digest_of(&t, "n.txt"), digest);
    // Also from a fresh home, straight from the store.
    let home2 = t.path().join("home2");
    assert_eq!(
        t.lake_with_home(&home2).args(["cat", "n.txt"]).ok(),
        "version one"
    );
    // The refused bytes were not left in the store or the home.
    assert_eq!(files_in(&t.store_dir().join("blobs")).len(), 1);
    assert_eq!(t.home_blobs(t.home()).len(), 1);
}

// ------------------------------------------------- verification, eviction

#[test]
fn tampered_store_object_is_refused_on_download_and_not_cached() {
    let t = TestDir::new();
    add(&t, &t.write("a", "genuine bytes"), "victim.txt", &[]);
    add(&t, &t.write("b", "bystander"), "other.txt", &[]);
    let hex = digest_of(&t, "victim.txt");
    overwrite(&t.store_blob(&hex), "forged bytes!");
    t.lake().args(["evict", "victim.txt"]).ok();
    assert!(!t.home_blob(&hex).exists());

    let out = t.lake().args(["cat", "victim.txt"]).output();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "cat printed forged bytes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt"), "{err}");
    assert!(err.contains("victim.txt"), "{err}");
    assert!(
        !t.home_blob(&hex).exists(),
        "the forged bytes entered the cache"
    );
    assert_eq!(
        files_in(&t.home().join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );
    // local-path and get refuse as well.
    t.lake().args(["local-path", "victim.txt"]).fails();
    t.lake().args(["get", "victim.txt"]).fails();
    assert!(!t.path().join("victim.txt").exists());
    assert!(!t.home_blob(&hex).exists());

    let out = t.lake().args(["verify", "--store"]).output();
    assert!(
        !out.status.success(),
        "verify --store passed a tampered store"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("victim.txt"), "{err}");
    assert!(!err.contains("other.txt"), "{err}");
}

#[test]
fn tampered_store_object_with_same_size_is_refused() {
    let t = TestDir::new();
    add(&t, &t.write("a", "abcdef"), "v.txt", &[]);
    let hex = digest_of(&t, "v.txt");
    overwrite(&t.store_blob(&hex), "abcdeF");
    t.lake().args(["evict", "--all"]).ok();
    let err = t.lake().args(["cat", "v.txt"]).fails();
    assert!(err.contains("corrupt"), "{err}");
    assert!(!t.home_blob(&hex).exists());
    let report = t.lake().args(["verify", "--store", "--json"]).output();
    assert!(!report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["problems"][0]["name"], "v.txt");
    assert_eq!(report["problems"][0]["place"], "store");
}

#[test]
fn corrupted_local_copy_is_found_by_verify_and_fixed_by_repair() {
    // The corrupt copy is a new file (a new inode): whatever else linked
    // to the old one, the store object among them, stays good.
    let t = TestDir::new();
    add(&t, &t.write("a", "the real thing"), "good/one.txt", &[]);
    add(&t, &t.write("b", "fine"), "good/two.txt", &[]);
    let hex = digest_of(&t, "good/one.txt");
    let local = t.home_blob(&hex);
    replace(&local, "rotten");

    let out = t.lake().args(["verify"]).output();
    assert!(!out.status.success(), "verify passed a corrupted copy");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("good/one.txt"), "{err}");
    assert!(!err.contains("good/two.txt"), "{err}");
    // Naming one file checks only that one.
    t.lake().args(["verify", "good/two.txt"]).ok();
    t.lake().args(["verify", "good/one.txt"]).fails();

    let repaired = t.lake().args(["verify", "--repair"]).ok();
    assert!(repaired.contains("1 repaired"), "{repaired}");
    t.lake().args(["verify", "--store"]).ok();
    assert_eq!(std::fs::read(&local).unwrap(), b"the real thing");
    assert!(std::fs::metadata(&local).unwrap().permissions().readonly());
    assert_eq!(
        t.lake().args(["cat", "good/one.txt"]).ok(),
        "the real thing"
    );
}

#[test]
fn file_store_links_the_local_copy_instead_of_copying_it() {
    use std::os::unix::fs::MetadataExt;
    let t = TestDir::new();
    add(&t, &t.write("a", "pristine"), "p.txt", &[]);
    let hex = digest_of(&t, "p.txt");
    let (local, stored) = (
        std::fs::metadata(t.home_blob(&hex)).unwrap(),
        std::fs::metadata(t.store_blob(&hex)).unwrap(),
    );
    // One file on disk, not two, and read-only, so that it cannot change
    // by accident under either name.
    assert_eq!((local.dev(), local.ino()), (stored.dev(), stored.ino()));
    assert!(stored.permissions().readonly());

    // Written in place on purpose (past the read-only bit), the one file
    // is bad under both names: verify says so, and repair refuses to
    // pretend it has a good copy.
    overwrite(&t.home_blob(&hex), "spoiled");
    let report = t.lake().args(["verify", "--store", "--json"]).output();
    assert!(!report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    let places: Vec<_> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["place"].as_str().unwrap()))
        .collect();
    assert_eq!(places, [("p.txt", "local"), ("p.txt", "store")]);
    let err = t.lake().args(["verify", "--repair"]).fails();
    assert!(err.contains("p.txt") && err.contains("corrupt"), "{err}");
}

#[test]
fn verify_json_reports_ok_and_problems() {
    let t = TestDir::new();
    add(&t, &t.write("a", "aaa"), "a", &[]);
    add(&t, &t.write("b", "bbb"), "b", &[]);
    let report = t.lake().args(["verify", "--store", "--json"]).json();
    assert_eq!(report["ok"], serde_json::json!(["a", "b"]));
    assert_eq!(report["problems"], serde_json::json!([]));
    overwrite(&t.home_blob(&digest_of(&t, "b")), "xxx");
    let out = t.lake().args(["verify", "--json"]).output();
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["name"], "b");
    assert_eq!(report["problems"][0]["place"], "local");
}

#[test]
fn evict_makes_a_file_store_only_and_cat_downloads_it_again() {
    let t = TestDir::new();
    add(&t, &t.write("a", binary_bytes()), "e/a.bin", &[]);
    add(&t, &t.write("b", "keep"), "e/b.txt", &[]);
    let out = t.lake().args(["evict", "e/a.bin"]).ok();
    assert!(out.contains("evicted 1"), "{out}");
    let listing = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(listing[0]["name"], "e/a.bin");
    assert_eq!(listing[0]["local"], false);
    assert_eq!(listing[0]["in_store"], true);
    assert_eq!(listing[1]["local"], true);
    let human = t.lake().args(["ls", "e"]).ok();
    assert!(
        human.lines().next().unwrap().trim_end().ends_with("store"),
        "{human}"
    );
    let info = t.lake().args(["info", "e/a.bin", "--json"]).json();
    assert_eq!(info["local"], false);

    assert_eq!(t.lake().args(["cat", "e/a.bin"]).ok_bytes(), binary_bytes());
    assert_eq!(
        t.lake().args(["ls", "-r", "--json"]).json_lines()[0]["local"],
        true,
        "cat must cache the download"
    );

    // evict --all drops every local copy.
    t.lake().args(["evict", "--all"]).ok();
    assert_eq!(t.home_blobs(t.home()), Vec::<std::path::PathBuf>::new());
    assert_eq!(t.lake().args(["cat", "e/b.txt"]).ok(), "keep");
}

// -------------------------------------------------------- second machine

#[test]
fn second_machine_lists_everything_downloads_only_what_it_opens_and_verifies() {
    let t = TestDir::new();
    t.write("tree/one.txt", "one");
    t.write("tree/two/three.bin", binary_bytes());
    t.write("tree/two/four.txt", "four");
    t.lake()
        .env("LAKE_REFRESH_SECS", "0")
        .args(["add", "tree", "shared", "-r"])
        .ok();

    let home2 = t.path().join("home2");
    let second = || {
        let mut cmd = t.lake_with_home(&home2);
        cmd.env("LAKE_REFRESH_SECS", "0");
        cmd
    };
    let listing = second().args(["ls", "-r"]).ok();
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "shared/one.txt",
            "shared/two/four.txt",
            "shared/two/three.bin"
        ]
    );
    assert!(
        listing.lines().all(|l| l.trim_end().ends_with("store")),
        "{listing}"
    );
    let json = second().args(["ls", "-r", "--json"]).json_lines();
    for entry in json.as_array().unwrap() {
        assert_eq!(entry["local"], false, "{entry}");
        assert_eq!(entry["in_store"], true, "{entry}");
    }
    // Listing and info download nothing.
    second().args(["info", "shared/two/three.bin"]).ok();
    assert_eq!(t.home_blobs(&home2), Vec::<std::path::PathBuf>::new());

    assert_eq!(
        second().args(["cat", "shared/two/three.bin"]).ok_bytes(),
        binary_bytes()
    );
    let blobs = t.home_blobs(&home2);
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    assert_eq!(
        blobs[0].file_name().unwrap().to_str().unwrap(),
        digest_of(&t, "shared/two/three.bin")
    );
    second().args(["verify"]).ok();
    second().args(["verify", "--store"]).ok();

    // A name added on the second machine shows up on the first.
    second()
        .arg("add")
        .arg(t.write("late", "late"))
        .arg("shared/late.txt")
        .ok();
    let first = t
        .lake()
        .env("LAKE_REFRESH_SECS", "0")
        .args(["ls", "-r", "--json"])
        .json_lines();
    assert!(names_in_json(&first).contains(&"shared/late.txt".to_owned()));
}

#[test]
fn ls_refresh_sees_names_added_elsewhere_despite_a_long_interval() {
    let t = TestDir::new();
    let home2 = t.path().join("home2");
    t.lake_with_home(&home2)
        .env("LAKE_REFRESH_SECS", "3600")
        .args(["ls"])
        .ok();
    add(&t, &t.write("a", "a"), "a.txt", &[]);
    let refreshed = t
        .lake_with_home(&home2)
        .env("LAKE_REFRESH_SECS", "3600")
        .args(["ls", "-r", "--refresh", "--json"])
        .json_lines();
    assert_eq!(names_in_json(&refreshed), ["a.txt"]);
}

// --------------------------------------------------------- configuration

/// Adds a file through `cmd` and reports which home got the local copy.
fn home_used(t: &TestDir, cmd: &mut lake_tests::LakeCmd, name: &str) -> std::path::PathBuf {
    let src = t.write(&format!("src-{name}"), name);
    cmd.arg("add").arg(src).arg(name).ok();
    let candidates = [
        t.path().join("flaghome"),
        t.path().join("envhome"),
        t.path().join("tomlhome"),
        t.path().join("xdg-data/lake"),
    ];
    let used: Vec<_> = candidates
        .iter()
        .filter(|h| !t.home_blobs(h).is_empty())
        .cloned()
        .collect();
    assert_eq!(
        used.len(),
        1,
        "exactly one home should hold a copy: {used:?}"
    );
    for home in &candidates {
        let _ = std::fs::remove_dir_all(home);
    }
    used[0].clone()
}

#[test]
fn config_precedence_home_flag_then_env_then_lake_toml_then_default() {
    let t = TestDir::new();
    std::fs::write(t.path().join("lake.toml"), "home = \"tomlhome\"\n").unwrap();
    let flag = t.path().join("flaghome");
    let env = t.path().join("envhome");

    let mut cmd = t.lake_bare();
    cmd.arg("--home").arg(&flag).env("LAKE_HOME", &env);
    assert_eq!(home_used(&t, &mut cmd, "one"), flag);

    let mut cmd = t.lake_bare();
    cmd.env("LAKE_HOME", &env);
    assert_eq!(home_used(&t, &mut cmd, "two"), env);

    // lake.toml is found upward from a subdirectory, and its relative home
    // is relative to the file.
    let sub = t.path().join("deep/sub");
    std::fs::create_dir_all(&sub).unwrap();
    let mut cmd = t.lake_bare();
    cmd.current_dir(&sub);
    assert_eq!(home_used(&t, &mut cmd, "three"), t.path().join("tomlhome"));

    std::fs::remove_file(t.path().join("lake.toml")).unwrap();
    let mut cmd = t.lake_bare();
    assert_eq!(
        home_used(&t, &mut cmd, "four"),
        t.path().join("xdg-data/lake")
    );
}

#[test]
fn default_store_is_inside_the_home() {
    let t = TestDir::new();
    let home = t.path().join("solo");
    t.lake_bare()
        .arg("--home")
        .arg(&home)
        .arg("add")
        .arg(t.write("a", "a"))
        .arg("a.txt")
        .ok();
    assert!(home.join("store/names/a.txt.json").is_file());
    assert_eq!(files_in(&home.join("store/blobs")).len(), 1);
}

#[test]
fn store_url_flag_beats_lake_store_env_which_beats_lake_toml() {
    let t = TestDir::new();
    let flag_store = t.path().join("flagstore");
    let env_store = t.path().join("envstore");
    let toml_store = t.path().join("tomlstore");
    std::fs::write(
        t.path().join("lake.toml"),
        format!("store = \"file://{}\"\n", toml_store.display()),
    )
    .unwrap();
    let src = t.write("a", "a");
    t.lake()
        .env("LAKE_STORE", format!("file://{}", env_store.display()))
        .arg("--store-url")
        .arg(format!("file://{}", flag_store.display()))
        .arg("add")
        .arg(&src)
        .arg("flag.txt")
        .ok();
    assert!(flag_store.join("names/flag.txt.json").is_file());
    assert!(!env_store.join("names/flag.txt.json").exists());

    t.lake_bare()
        .env("LAKE_HOME", t.home())
        .env("LAKE_STORE", format!("file://{}", env_store.display()))
        .arg("add")
        .arg(&src)
        .arg("env.txt")
        .ok();
    assert!(env_store.join("names/env.txt.json").is_file());
    assert!(!toml_store.join("names/env.txt.json").exists());

    t.lake_bare()
        .env("LAKE_HOME", t.home())
        .arg("add")
        .arg(&src)
        .arg("toml.txt")
        .ok();
    assert!(toml_store.join("names/toml.txt.json").is_file());
}

#[test]
fn bad_refresh_secs_is_an_error_naming_the_value() {
    let t = TestDir::new();
    let err = t
        .lake()
        .env("LAKE_REFRESH_SECS", "soon")
        .args(["ls"])
        .fails();
    assert_one_line(&err);
    assert!(
        err.contains("LAKE_REFRESH_SECS") && err.contains("soon"),
        "{err}"
    );
}

#[test]
fn unknown_key_in_lake_toml_is_an_error_naming_it() {
    let t = TestDir::new();
    std::fs::write(t.path().join("lake.toml"), "stroe = \"x\"\n").unwrap();
    let err = t.lake().args(["ls"]).fails();
    assert!(err.contains("stroe") && err.contains("lake.toml"), "{err}");
}

/// Runs `cmd` with stdin, stdout and stderr on a pseudo-terminal, as from
/// a user's shell: what the terminal showed, and the exit code. Progress
/// bars and colours appear only on a terminal, so a pipe cannot test them.
fn on_terminal(cmd: lake_tests::LakeCmd) -> (String, i32) {
    use expectrl::process::unix::WaitStatus;
    use expectrl::{Eof, Expect, Session};
    let mut command = cmd.into_command();
    // A terminal that takes colours, unless the test says otherwise: CI
    // runs with no TERM at all.
    if !command.get_envs().any(|(key, _)| key == "TERM") {
        command.env("TERM", "xterm-256color");
    }
    let mut session = Session::spawn(command).expect("spawn lake on a pty");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(300)));
    let shown = session.expect(Eof).expect("lake ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).into_owned();
    match session.get_process().wait().expect("wait for lake") {
        WaitStatus::Exited(_, code) => (shown, code),
        other => panic!("lake did not exit: {other:?}\n{shown}"),
    }
}

/// See issue 11, item 7: this test passed whether or not `-q` worked,
/// since bars never show on a pipe. On a terminal the bar is seen without
/// `-q` (which proves the test can see one) and not with it.
#[test]
fn issue_11_quiet_flag_hides_the_progress_bar_a_terminal_shows() {
    let t = TestDir::new();
    // Above the 4 MiB below which no bar is drawn.
    let big = t.write("big", vec![7u8; 8 << 20]);
    let bar = "/8.00 MiB";

    let mut cmd = t.lake();
    cmd.arg("add").arg(&big).arg("loud.bin");
    let (shown, code) = on_terminal(cmd);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains(bar),
        "no progress bar on the terminal:\n{shown:?}"
    );

    let mut cmd = t.lake();
    cmd.arg("-q").arg("add").arg(&big).arg("quiet.bin");
    let (shown, code) = on_terminal(cmd);
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains(bar), "-q showed a progress bar:\n{shown:?}");
    // Nor the per-file line.
    assert!(!shown.contains("quiet.bin"), "{shown:?}");
    assert_eq!(
        t.lake().args(["cat", "quiet.bin"]).ok_bytes().len(),
        8 << 20
    );
}

// ------------------------------------------------------ more edge cases

#[test]
fn add_recursive_with_one_bad_file_name_stores_nothing() {
    let t = TestDir::new();
    t.write("tree/good.txt", "good");
    t.write("tree/bad\\name.txt", "bad");
    let err = t.lake().args(["add", "tree", "t", "-r"]).fails();
    assert_one_line(&err);
    assert!(err.contains("bad\\\\name.txt"), "{err}");
    assert_nothing_stored(&t);
    assert!(t.path().join("tree/good.txt").is_file());
}

#[test]
fn unicode_names_are_accepted() {
    let t = TestDir::new();
    add(&t, &t.write("a", "ok"), "données/été 2026.csv", &[]);
    assert_eq!(t.lake().args(["cat", "données/été 2026.csv"]).ok(), "ok");
    let listing = t.lake().args(["ls", "données"]).ok();
    assert!(listing.starts_with("données/été 2026.csv"), "{listing}");
}

#[test]
fn add_url_with_move_is_refused() {
    let t = TestDir::new();
    let err = t
        .lake()
        .args(["add", "http://127.0.0.1:9/x", "x", "--move"])
        .fails();
    assert_one_line(&err);
    assert!(err.contains("--move"), "{err}");
    assert_nothing_stored(&t);
}

#[test]
fn add_http_500_is_an_error_and_stores_nothing() {
    let t = TestDir::new();
    let server = HttpServer::start([(
        "/boom",
        Response {
            status: 500,
            body: b"internal error page".to_vec(),
        },
    )]);
    let err = t.lake().args(["add", &server.url("/boom"), "b"]).fails();
    assert_one_line(&err);
    assert!(err.contains("500"), "{err}");
    assert_nothing_stored(&t);
}

#[test]
fn url_credentials_never_reach_errors_or_lineage() {
    // Invariant 8 (docs/design/0000-design.md): no secrets in output.
    let t = TestDir::new();
    let server = HttpServer::start([(
        "/ok.txt",
        Response {
            status: 200,
            body: b"fine".to_vec(),
        },
    )]);
    let with_secret = |path: &str| server.url(path).replace("http://", "http://user:s3cr3t@");
    let err = t
        .lake()
        .args(["add", &with_secret("/missing"), "m"])
        .fails();
    assert!(!err.contains("s3cr3t"), "{err}");
    let out = t
        .lake()
        .args(["add", &with_secret("/ok.txt"), "ok.txt"])
        .ok();
    assert!(!out.contains("s3cr3t"), "{out}");
    let info = t.lake().args(["info", "ok.txt", "--json"]).ok();
    assert!(!info.contains("s3cr3t"), "{info}");
    let record = std::fs::read_to_string(t.store_dir().join("names/ok.txt.json")).unwrap();
    assert!(!record.contains("s3cr3t"), "{record}");
}

#[test]
fn get_into_a_missing_directory_is_an_error_naming_it() {
    let t = TestDir::new();
    add(&t, &t.write("a", "a"), "a.txt", &[]);
    let err = t
        .lake()
        .args(["get", "a.txt", "-o", "no/such/dir/a.txt"])
        .fails();
    assert_one_line(&err);
    assert!(err.contains("no/such/dir"), "{err}");
}

#[test]
fn readding_identical_content_with_move_removes_the_source() {
    let t = TestDir::new();
    add(&t, &t.write("a", "same"), "n.txt", &[]);
    let again = t.write("b", "same");
    let out = add(&t, &again, "n.txt", &["--move"]);
    assert!(out.starts_with("unchanged n.txt"), "{out}");
    assert!(
        !again.exists(),
        "the lake holds the bytes, so --move removes the source"
    );
    assert_eq!(t.lake().args(["cat", "n.txt"]).ok(), "same");
}

#[test]
fn verify_passes_for_store_only_names() {
    let t = TestDir::new();
    add(&t, &t.write("a", "a"), "a.txt", &[]);
    t.lake().args(["evict", "--all"]).ok();
    t.lake().args(["verify"]).ok();
    t.lake().args(["verify", "--store"]).ok();
    t.lake().args(["verify", "a.txt"]).ok();
    // verify never downloads.
    assert_eq!(t.home_blobs(t.home()), Vec::<std::path::PathBuf>::new());
}

#[test]
fn tampered_store_object_is_repaired_from_a_good_local_copy() {
    let t = TestDir::new();
    add(&t, &t.write("a", "keep me safe"), "s.txt", &[]);
    let hex = digest_of(&t, "s.txt");
    // A new inode, so the local copy stays good even if it was a link.
    replace(&t.store_blob(&hex), "evil");
    let err = t.lake().args(["verify", "--store"]).fails();
    assert!(err.contains("s.txt") && err.contains("store"), "{err}");
    t.lake().args(["verify", "--store", "--repair"]).ok();
    t.lake().args(["verify", "--store"]).ok();
    assert_eq!(std::fs::read(t.store_blob(&hex)).unwrap(), b"keep me safe");
}

#[test]
fn missing_store_object_is_a_clear_error_and_found_by_verify() {
    let t = TestDir::new();
    add(&t, &t.write("a", "gone soon"), "g.txt", &[]);
    let hex = digest_of(&t, "g.txt");
    std::fs::remove_file(t.store_blob(&hex)).unwrap();
    t.lake().args(["evict", "--all"]).ok();
    let err = t.lake().args(["cat", "g.txt"]).fails();
    assert_one_line(&err);
    assert!(
        err.contains("\"g.txt\"") && err.contains("missing"),
        "{err}"
    );
    let err = t.lake().args(["verify", "--store"]).fails();
    assert!(err.contains("g.txt"), "{err}");
}

#[test]
fn corrupt_download_error_is_one_line() {
    // Issue 2: "Errors are one clear line on stderr".
    let t = TestDir::new();
    add(&t, &t.write("a", "genuine"), "c.txt", &[]);
    let hex = digest_of(&t, "c.txt");
    t.lake().args(["evict", "--all"]).ok();
    replace(&t.store_blob(&hex), "forgery");
    let err = t.lake().args(["cat", "c.txt"]).fails();
    assert_one_line(&err);
    assert!(
        err.contains("corrupt") && err.contains("\"c.txt\""),
        "{err}"
    );
}

#[test]
fn identical_content_under_two_names_is_stored_once() {
    let t = TestDir::new();
    let src = t.write("a", binary_bytes());
    add(&t, &src, "one.bin", &[]);
    let out = add(&t, &src, "two.bin", &[]);
    assert!(out.starts_with("added two.bin"), "{out}");
    assert_eq!(digest_of(&t, "one.bin"), digest_of(&t, "two.bin"));
    assert_eq!(files_in(&t.store_dir().join("blobs")).len(), 1);
    assert_eq!(t.home_blobs(t.home()).len(), 1);
    assert_eq!(t.lake().args(["cat", "two.bin"]).ok_bytes(), binary_bytes());
}

#[test]
fn pull_downloads_a_prefix_once_and_verifies_it() {
    let t = TestDir::new();
    t.write("tree/a.txt", "alpha");
    t.write("tree/sub/b.bin", binary_bytes());
    t.write("other.txt", "not pulled");
    t.lake().args(["add", "tree", "data", "-r"]).ok();
    t.lake().args(["add", "other.txt", "other.txt"]).ok();

    let home2 = t.path().join("home2");
    let out = t.lake_with_home(&home2).args(["pull", "data"]).ok();
    assert!(out.contains("pulled 2 file(s)"), "{out}");
    assert!(out.contains("0 already local"), "{out}");
    assert_eq!(
        t.home_blobs(&home2).len(),
        2,
        "only the prefix is downloaded"
    );

    let again = t.lake_with_home(&home2).args(["pull", "data"]).ok();
    assert!(
        again.contains("pulled 0 file(s) (0 bytes downloaded); 2 already local"),
        "{again}"
    );
    t.lake_with_home(&home2).args(["verify"]).ok();

    let err = t.lake_with_home(&home2).args(["pull", "../x"]).fails();
    assert!(err.contains("\"../x\""), "{err}");
}

#[test]
fn readding_a_directory_settles_unchanged_files_and_refuses_a_changed_one() {
    let t = TestDir::new();
    let a = t.write("tree/a.txt", "alpha");
    let b = t.write("tree/sub/b.txt", "bravo");
    // Old enough that their stamps are trusted (not "racily clean").
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for path in [&a, &b] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let first = t.lake().args(["add", "-r", "tree", "d"]).ok();
    assert_eq!(first.matches("added").count(), 2, "{first}");
    let again = t.lake().args(["add", "-r", "tree", "d"]).ok();
    assert_eq!(again.matches("unchanged").count(), 2, "{again}");

    // Same size, same mtime, other bytes: the change time still differs.
    std::fs::write(&b, "BRAVO").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&b)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let err = t.lake().args(["add", "-r", "tree", "d"]).fails();
    assert!(err.contains("\"d/sub/b.txt\""), "{err}");
    assert_eq!(t.lake().args(["cat", "d/sub/b.txt"]).ok(), "bravo");
}

// ------------------------------------ issue 14: command-line conventions

/// Runs `cmd` with its stdout on a pipe whose reader has already gone, as
/// `lake … | head -1` leaves it once `head` has its line: the exit code
/// and stderr.
fn with_closed_stdout(cmd: lake_tests::LakeCmd) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = cmd
        .into_command()
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run lake");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// See issue 14: `lake ls -r many | head -1` printed `Broken pipe (os
/// error 32)` and exited 1; so did `info`, `ls --json` and a successful
/// `add -r`.
#[test]
fn issue_14_a_closed_stdout_ends_quietly_with_success() {
    let t = TestDir::new();
    for i in 0..5 {
        t.write(&format!("tree/f{i}.txt"), format!("{i}"));
    }
    t.lake().args(["add", "-r", "tree", "d"]).ok();
    let cases: [&[&str]; 6] = [
        &["ls", "-r"],
        &["ls", "--json"],
        &["info", "d/f1.txt"],
        &["info", "d/f1.txt", "--json"],
        &["cat", "d/f1.txt"],
        &["completions", "bash"],
    ];
    for args in cases {
        let mut cmd = t.lake();
        cmd.args(args);
        let (code, stderr) = with_closed_stdout(cmd);
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "lake {args:?}");
    }
    // A successful add, whose output then has nowhere to go.
    t.write("more/g.txt", "g");
    let mut cmd = t.lake();
    cmd.args(["add", "-r", "more", "m"]);
    let (code, stderr) = with_closed_stdout(cmd);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    assert_eq!(t.lake().args(["cat", "m/g.txt"]).ok(), "g");
    // An error is still one, pipe or not.
    let mut cmd = t.lake();
    cmd.args(["info", "no/such.txt"]);
    let (code, stderr) = with_closed_stdout(cmd);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no/such.txt"), "{stderr}");
}

/// See issue 14: `NO_COLOR=1` still printed italic escape codes.
#[test]
fn issue_14_colours_only_on_a_terminal_and_never_under_no_color() {
    let t = TestDir::new();
    add(&t, &t.write("a", "alpha"), "d/a.txt", &[]);
    let escape = "\x1b[";

    // The test kit sets NO_COLOR for every command; these unset it. The
    // terminal type is set, not inherited: CI machines may have none. And
    // CI is unset, since anstream colours a CI service's terminal whatever
    // TERM says (this test failed under `CI=true`).
    let mut cmd = t.lake();
    cmd.args(["ls", "-r"])
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .env("TERM", "xterm-256color");
    let (shown, code) = on_terminal(cmd);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("d/a.txt"), "{shown:?}");
    assert!(shown.contains(escape), "no styles on a terminal: {shown:?}");

    for (key, value) in [("NO_COLOR", "1"), ("TERM", "dumb")] {
        let mut cmd = t.lake();
        cmd.args(["ls", "-r"])
            .env_remove("NO_COLOR")
            .env_remove("CI")
            .env("TERM", "xterm-256color")
            .env(key, value);
        let (shown, code) = on_terminal(cmd);
        assert_eq!(code, 0, "{shown}");
        assert!(shown.contains("d/a.txt"), "{shown:?}");
        assert!(!shown.contains(escape), "{key}={value}: {shown:?}");
    }
    // An error's "error:" is red on a terminal only.
    let mut cmd = t.lake();
    cmd.args(["info", "nope.txt"])
        .env_remove("NO_COLOR")
        .env_remove("CI")
        .env("TERM", "xterm-256color");
    let (shown, code) = on_terminal(cmd);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains(escape), "{shown:?}");
    let mut cmd = t.lake();
    cmd.args(["info", "nope.txt"]).env("NO_COLOR", "1");
    let (shown, code) = on_terminal(cmd);
    assert_eq!(code, 1, "{shown}");
    assert!(!shown.contains(escape), "{shown:?}");

    // Not a terminal: no escape codes on stdout or stderr.
    let out = t.lake().args(["ls", "-r"]).env_remove("NO_COLOR").output();
    assert!(!out.stdout.contains(&0x1b), "{:?}", out.stdout);
    let out = t
        .lake()
        .args(["info", "nope.txt"])
        .env_remove("NO_COLOR")
        .output();
    assert!(!out.stderr.contains(&0x1b), "{:?}", out.stderr);
}

/// See issue 14: exit codes did not tell a usage error from a problem
/// found by `verify`. The scheme is in `lake --help` and README.md.
#[test]
fn issue_14_exit_codes_tell_usage_errors_errors_and_verify_problems_apart() {
    let t = TestDir::new();
    add(&t, &t.write("a", "alpha"), "a.txt", &[]);
    let code = |args: &[&str]| t.lake().args(args).output().status.code();
    assert_eq!(code(&["ls"]), Some(0));
    assert_eq!(code(&["lss"]), Some(2), "unknown command");
    assert_eq!(code(&["ls", "--bogus"]), Some(2), "unknown flag");
    assert_eq!(code(&["gc", "--grace", "soon"]), Some(2), "bad value");
    assert_eq!(code(&["-q", "-v", "ls"]), Some(2), "conflicting flags");
    assert_eq!(code(&["info", "missing.txt"]), Some(1));
    assert_eq!(code(&["verify"]), Some(0));
    // A new file, not written in place: the store's copy stays good.
    replace(&t.home_blob(&digest_of(&t, "a.txt")), "rotten");
    assert_eq!(code(&["verify"]), Some(3));
    assert_eq!(code(&["verify", "--json"]), Some(3));
    assert_eq!(code(&["verify", "--repair"]), Some(0));

    let help = t.lake().arg("--help").ok();
    for line in [
        "0  success",
        "1  error",
        "2  usage error",
        "3  `lake verify` found problems",
    ] {
        assert!(help.contains(line), "{help}");
    }
}

/// See issue 14: `-q` only hid bars, and there was no `-v`.
#[test]
fn issue_14_quiet_and_verbose_set_what_is_printed_and_the_log_level() {
    let t = TestDir::new();
    let src = t.write("a", "alpha");
    // The first add gives the store its id (an info event) and commits
    // (a debug event).
    let out = t
        .lake()
        .args(["-vv", "add"])
        .arg(&src)
        .arg("a.txt")
        .output();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("INFO") && log.contains("gave the store its lake id"),
        "{log}"
    );
    assert!(log.contains("DEBUG") && log.contains("committed"), "{log}");

    let out = t.lake().args(["-v", "add"]).arg(&src).arg("b.txt").output();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("DEBUG"), "{log}");
    let out = t.lake().args(["add"]).arg(&src).arg("c.txt").output();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // RUST_LOG, when set, is used instead of the flags.
    let out = t
        .lake()
        .args(["add"])
        .arg(&src)
        .arg("d.txt")
        .env("RUST_LOG", "debug")
        .output();
    assert!(String::from_utf8_lossy(&out.stderr).contains("committed"));

    // The most verbose log still goes through the secrets' redactor.
    let out = t
        .lake()
        .args([
            "-vvv",
            "ls",
            "--store-url",
            "http://user:pw-s3cr3t@127.0.0.1:9/x",
        ])
        .output();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains("pw-s3cr3t"), "{log}");

    // -q: no per-file lines, no summaries; what was asked for still prints.
    assert_eq!(t.lake().args(["-q", "add"]).arg(&src).arg("a.txt").ok(), "");
    t.write("tree/x.txt", "x");
    assert_eq!(t.lake().args(["-q", "add", "-r", "tree", "t"]).ok(), "");
    assert_eq!(t.lake().args(["-q", "verify"]).ok(), "");
    assert_eq!(t.lake().args(["-q", "evict", "a.txt"]).ok(), "");
    assert_eq!(t.lake().args(["-q", "pull"]).ok(), "");
    assert_eq!(t.lake().args(["-q", "gc"]).ok(), "");
    assert_eq!(t.lake().args(["-q", "cat", "a.txt"]).ok(), "alpha");
    assert!(t.lake().args(["-q", "ls"]).ok().contains("a.txt"));
}

/// See issue 14: a re-run of `add -r` over 5,000 files printed 5,000
/// `unchanged` lines and no summary.
#[test]
fn issue_14_add_recursive_of_many_files_prints_a_summary() {
    let t = TestDir::new();
    for i in 0..25 {
        t.write(&format!("tree/f{i:02}.txt"), format!("file {i}"));
    }
    let out = t.lake().args(["add", "-r", "tree", "d"]).ok();
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("25 file(s): 25 new (165 B), 0 already held, in "),
        "{out}"
    );
    let again = t.lake().args(["add", "-r", "tree", "d"]).ok();
    assert!(
        again.starts_with("25 file(s): 0 new (0 B), 25 already held, in "),
        "{again}"
    );
    // Issue 16: the store's requests; an unchanged tree uploads nothing.
    assert!(
        out.contains(" request(s) (") && out.contains(" up, "),
        "{out}"
    );
    assert!(again.contains(" request(s) (0 B up, "), "{again}");
    // -v: every file, in sorted order, then the summary.
    let verbose = t.lake().args(["-v", "add", "-r", "tree", "d"]).ok();
    let lines: Vec<&str> = verbose.lines().collect();
    assert_eq!(lines.len(), 26, "{verbose}");
    assert!(lines[0].starts_with("unchanged d/f00.txt "), "{verbose}");
    assert!(lines[24].starts_with("unchanged d/f24.txt "), "{verbose}");
    assert!(lines[25].starts_with("25 file(s): "), "{verbose}");
}

/// See issue 14: `lake ls data/p.txt` printed `data/p.txt/data/  1 file(s)`,
/// and `ls` and `pull` of a prefix that holds nothing succeeded silently.
#[test]
fn issue_14_ls_of_a_file_name_shows_the_file_and_of_nothing_fails() {
    let t = TestDir::new();
    add(&t, &t.write("p", "pp"), "data/p.txt", &[]);
    let ls = t.lake().args(["ls", "data/p.txt"]).ok();
    assert_eq!(ls.lines().count(), 1, "{ls}");
    assert!(ls.starts_with("data/p.txt "), "{ls}");
    assert!(
        ls.contains("2 B") && ls.trim_end().ends_with("local"),
        "{ls}"
    );
    assert_eq!(t.lake().args(["ls", "-r", "data/p.txt"]).ok(), ls);

    for args in [
        &["pull", "nothing"][..],
        &["ls", "nothing"],
        &["ls", "-r", "data/q"],
        &["ls", "--json", "nothing"],
    ] {
        let out = t.lake().args(args).output();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[args.len() - 1]), "{err}");
        assert_one_line(&err);
    }
    // An empty lake lists and pulls nothing, without an error.
    let empty = TestDir::new();
    assert_eq!(empty.lake().arg("ls").ok(), "");
    empty.lake().arg("pull").ok();
    t.lake().args(["pull", "data"]).ok();
}

/// See issue 14: no completions.
#[test]
fn issue_14_completions_for_each_shell() {
    let t = TestDir::new();
    for (shell, marker) in [
        ("bash", "_lake()"),
        ("zsh", "#compdef lake"),
        ("fish", "complete -c lake"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[lake]"),
    ] {
        let script = t.lake_bare().args(["completions", shell]).ok();
        assert!(script.contains(marker), "{shell}:\n{script}");
        assert!(script.contains("local-path"), "{shell}");
    }
    let out = t.lake().args(["completions", "tcsh"]).output();
    assert_eq!(out.status.code(), Some(2));
}

/// See issue 14: README showed `lake verify [--store] [--repair]`, which
/// fails when pasted. Every `lake` line in README.md's shell blocks must
/// be a command as typed: no `[optional]`, `<placeholder>` or `...` parts.
#[test]
fn issue_14_readme_command_lines_can_be_pasted() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let mut in_shell = false;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_shell = line == "```sh";
            continue;
        }
        let command = line.split(" #").next().unwrap().trim();
        if in_shell && command.starts_with("lake ") {
            checked += 1;
            assert!(
                !command.contains(['[', ']', '<', '…']) && !command.contains("..."),
                "README.md: not a command as typed: {line}"
            );
        }
    }
    assert!(
        checked >= 10,
        "{checked} lake command lines found in README.md"
    );
}

/// See issue 14: a mistyped name gets "did you mean" with the closest
/// names this home knows; a name like none of them gets no guess.
#[test]
fn issue_14_a_mistyped_name_suggests_the_closest_names() {
    let dir = TestDir::new();
    dir.write("data.csv", "a,b\n");
    dir.lake().args(["add", "data.csv", "raw/data.csv"]).ok();
    let err = dir.lake().args(["cat", "raw/dta.csv"]).fails();
    assert!(err.contains("no file named \"raw/dta.csv\""), "{err}");
    assert!(err.ends_with("did you mean raw/data.csv?\n"), "{err}");
    let err = dir.lake().args(["info", "zzz/unrelated"]).fails();
    assert!(!err.contains("did you mean"), "{err}");
}

/// See issue 14: a man page, from the same model as `--help`, with no
/// lake configured.
#[test]
fn issue_14_man_page_lists_every_command() {
    let dir = TestDir::new();
    let page = dir.lake_bare().arg("man").ok();
    assert!(page.contains(".TH lake 1"), "{page}");
    for command in [
        "add", "ls", "info", "lineage", "why", "verify", "gc", "evict",
    ] {
        assert!(
            page.contains(&format!("\nlake\\-{command}(1)\n")),
            "{command} missing from the man page"
        );
    }
}

/// See issue 14: `add -r` of a project added its `.git`, and had no way
/// to leave build output out. `.git` is skipped; `.lakeignore` at the top
/// of the directory takes gitignore's patterns, negation included.
#[test]
fn issue_14_add_recursive_skips_git_and_what_lakeignore_lists() {
    let t = TestDir::new();
    t.write("proj/data/a.csv", "a");
    t.write("proj/data/b.tmp", "b");
    t.write("proj/data/keep.tmp", "k");
    t.write("proj/build/out.bin", "o");
    t.write("proj/.git/HEAD", "ref: refs/heads/main");
    t.write("proj/.lakeignore", "*.tmp\n!keep.tmp\nbuild/\n");
    t.lake()
        .args(["add", "-r"])
        .arg(t.path().join("proj"))
        .arg("p")
        .ok();
    let listing = t.lake().args(["ls", "-r", "--json", "p"]).json_lines();
    assert_eq!(
        names_in_json(&listing),
        ["p/data/a.csv", "p/data/keep.tmp"],
        "{listing}"
    );

    // A pattern gitignore cannot parse is refused, naming the file.
    t.write("bad/x.txt", "x");
    t.write("bad/.lakeignore", "a{b\n");
    let err = t
        .lake()
        .args(["add", "-r"])
        .arg(t.path().join("bad"))
        .arg("bad")
        .fails();
    assert!(err.contains(".lakeignore"), "{err}");
}
