//! The longest names validation accepts work on every backend, and the
//! characters that would let one name pass for another are refused.
//!
//! Regression tests for issue 17 ("names"): a segment of 249–250 bytes
//! passed validation but failed on `file://` with "File name too long",
//! after its blob was written; U+202E and U+200B were accepted.

use std::io::Write;
use std::path::Path;

use lake_runtime::{Lake, LakeConfigBuilder, MAX_NAME_LEN, MAX_SEGMENT_LEN, Name};
use lake_tests::{TestDir, TestServer};

fn lake(home: &Path, url: &str, options: &[(String, String)]) -> Lake {
    let config = options
        .iter()
        .fold(
            LakeConfigBuilder::new().with_home(home).with_store(url),
            |b, (k, v)| b.with_store_option(k, v),
        )
        .with_progress(false)
        .build()
        .unwrap();
    Lake::open_with(config).unwrap()
}

/// Every segment at the limit, and the whole name as long as allowed.
fn longest_names() -> Vec<String> {
    let segment = |c: char| c.to_string().repeat(MAX_SEGMENT_LEN);
    let deep = {
        let mut name = String::new();
        let mut c = b'a';
        while name.len() + 1 + MAX_SEGMENT_LEN <= MAX_NAME_LEN {
            if !name.is_empty() {
                name.push('/');
            }
            name.push_str(&segment(char::from(c)));
            c += 1;
        }
        let rest = MAX_NAME_LEN - name.len() - 1;
        format!("{name}/{}", "z".repeat(rest))
    };
    assert_eq!(deep.len(), MAX_NAME_LEN);
    // A multi-byte segment: the limit is in bytes.
    let wide = "é".repeat(MAX_SEGMENT_LEN / 2);
    vec![segment('s'), deep, format!("wide/{wide}")]
}

fn check_backend(home: &Path, url: &str, options: &[(String, String)]) {
    let lake = lake(home, url, options);
    for (i, name) in longest_names().into_iter().enumerate() {
        Name::new(name.as_str()).expect("the test name is valid");
        let mut w = lake.create(&name).unwrap();
        write!(w, "content {i}").unwrap();
        let file = w
            .commit()
            .unwrap_or_else(|e| panic!("{url}: committing a {}-byte name: {e}", name.len()));
        assert_eq!(file.read_to_string().unwrap(), format!("content {i}"));
        // A fresh home sees it through a listing of the store.
        let other = tempfile::tempdir().unwrap();
        let fresh = self::lake(other.path(), url, options);
        let listed = fresh.list("", true).unwrap();
        assert!(
            listed.iter().any(|e| e.name.as_str() == name),
            "{url}: {name:.40}… not listed"
        );
        assert_eq!(
            fresh.file(&name).unwrap().read_to_string().unwrap(),
            format!("content {i}")
        );
    }
}

#[test]
fn issue_17_longest_names_work_on_a_file_store() {
    let t = TestDir::new();
    let url = format!("file://{}", t.path().join("store").display());
    check_backend(&t.path().join("home"), &url, &[]);
}

#[test]
fn issue_17_longest_names_work_on_moto() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let t = TestDir::new();
    check_backend(
        &t.path().join("home"),
        &server.fresh_url("names"),
        &server.options,
    );
}

#[test]
fn issue_17_longest_names_work_on_s3s() {
    let Some(server) = TestServer::from_env("S3S") else {
        return;
    };
    let t = TestDir::new();
    check_backend(
        &t.path().join("home"),
        &server.fresh_url("names"),
        &server.options,
    );
}

#[test]
fn issue_17_longest_names_work_on_azurite() {
    let Some(server) = TestServer::from_env("AZURITE") else {
        return;
    };
    let t = TestDir::new();
    check_backend(
        &t.path().join("home"),
        &server.fresh_url("names"),
        &server.options,
    );
}

#[test]
fn issue_17_spoofing_characters_are_refused_by_the_cli_naming_the_code_point() {
    let t = TestDir::new();
    let src = t.write("a.txt", b"x");
    for (name, code) in [
        ("invoice\u{202E}txt.exe", "U+202E"),
        ("a\u{200B}b", "U+200B"),
    ] {
        let err = t.lake().args(["add"]).arg(&src).arg(name).fails();
        assert!(err.contains(code), "{err}");
    }
    let too_long = "b".repeat(MAX_SEGMENT_LEN + 1);
    let err = t.lake().args(["add"]).arg(&src).arg(&too_long).fails();
    assert!(
        err.contains(&format!("the limit is {MAX_SEGMENT_LEN}")),
        "{err}"
    );
    assert!(
        t.store_files().is_empty(),
        "a refused name leaves nothing in the store: {:?}",
        t.store_files()
    );
}
