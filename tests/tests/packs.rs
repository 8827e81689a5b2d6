//! Record packs from the command line: `lake add -r` on machine A writes
//! one pack of the records it created, and machine B (a fresh home on the
//! same store) learns every name from it instead of one GET per name.
//! See `docs/design/0008-record-packs.md`.
//!
//! Packs are written and trusted only where a store's e-tags are the MD5
//! of the bytes (S3, moto): on moto when `LAKE_TEST_MOTO_*` is set. On a
//! `file://` store no pack is written and names are read one by one.

use std::path::PathBuf;

use lake_tests::{LakeCmd, TestDir, TestServer, files_in_recursive};

const FILES: usize = 50;

/// `FILES` small files below `<dir>/src`, in a few subdirectories.
fn source_dir(t: &TestDir) -> PathBuf {
    for i in 0..FILES {
        t.write(
            &format!("src/d{}/f{i:02}.txt", i % 4),
            format!("small file {i}\n"),
        );
    }
    t.path().join("src")
}

fn add_on_a_then_read_on_b(t: &TestDir, machine: impl Fn(&str) -> LakeCmd) {
    let src = source_dir(t);
    machine("home-a")
        .args(["-q", "add", "-r"])
        .arg(&src)
        .arg("data")
        .ok();

    // The refresh logs where its records came from.
    let out = machine("home-b")
        .env("RUST_LOG", "lake_runtime=debug")
        .args(["ls", "-r", "data"])
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ls failed:\n{stdout}\n{stderr}");
    let listed: Vec<&str> = stdout.lines().filter(|l| l.contains("data/")).collect();
    assert_eq!(listed.len(), FILES, "{stdout}");
    assert!(
        stderr.contains(&format!("from_packs={FILES}")) && stderr.contains("fetched=0"),
        "machine B did not learn the names from the pack:\n{stderr}"
    );

    assert_eq!(
        machine("home-b").args(["cat", "data/d3/f07.txt"]).ok(),
        "small file 7\n"
    );
}

#[test]
fn a_file_store_gets_no_pack_and_a_second_machine_reads_each_name() {
    let t = TestDir::new();
    let src = source_dir(&t);
    t.lake_with_home(t.path().join("home-a"))
        .args(["-q", "add", "-r"])
        .arg(&src)
        .arg("data")
        .ok();
    assert!(files_in_recursive(&t.store_dir().join("packs")).is_empty());
    let out = t
        .lake_with_home(t.path().join("home-b"))
        .env("RUST_LOG", "lake_runtime=debug")
        .args(["ls", "-r", "data"])
        .output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("data/")).count(),
        FILES
    );
    assert!(stderr.contains(&format!("fetched={FILES}")), "{stderr}");
}

#[test]
fn a_second_machine_learns_an_added_directory_from_its_pack_on_moto() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let t = TestDir::new();
    let url = server.fresh_url("packs");
    add_on_a_then_read_on_b(&t, |home| {
        let mut cmd = t.lake_with_home(t.path().join(home));
        server.apply(&mut cmd, &url);
        cmd
    });
}
