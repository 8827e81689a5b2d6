//! Nothing lost, nothing wrong served: regression tests for issue 17, each
//! driven through the `lake` binary as a user would.

use std::process::{Command, Output};

use lake_tests::{TestDir, example_bin, files_in_recursive};

fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// See issue 17, "two `add -r` processes on one home": a deferred `BEGIN`
/// that upgraded to a write lock skipped the busy timeout, and 8 runs in 20
/// failed with `database is locked`.
#[test]
fn issue_17_eight_processes_share_one_home_for_twenty_rounds() {
    let t = TestDir::new();
    for tree in 0..2 {
        for i in 0..30 {
            t.write(
                &format!("src{tree}/f{i}.txt"),
                format!("tree {tree} file {i}"),
            );
        }
    }
    let seeded = t
        .lake()
        .args(["add", "-r"])
        .arg(t.path().join("src0"))
        .arg("seed")
        .output();
    assert_success("seeding add -r", &seeded);
    let chain = example_bin("chain");
    for round in 0..20 {
        let children: Vec<(String, std::process::Child)> = (0..8)
            .map(|p| {
                let what = format!("round {round} process {p}");
                let child = match p % 4 {
                    0 => t
                        .lake()
                        .args(["add", "-r"])
                        .arg(t.path().join(format!("src{}", p % 2)))
                        .arg(format!("r{round}/p{p}"))
                        .spawn_piped(),
                    1 => t.lake().args(["ls", "-r", "--refresh"]).spawn_piped(),
                    2 => t.lake().args(["pull", "seed"]).spawn_piped(),
                    _ => Command::new(&chain)
                        .args(["run", "4"])
                        .current_dir(t.path())
                        .env("LAKE_HOME", t.home())
                        .env("LAKE_STORE", t.store_url())
                        .env_remove("RUST_LOG")
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .expect("start the chain example"),
                };
                (what, child)
            })
            .collect();
        for (what, child) in children {
            let out = child.wait_with_output().expect("wait for a process");
            assert_success(&what, &out);
        }
    }
    let listed = t.lake().args(["ls", "-r", "r19"]).ok();
    assert_eq!(
        listed.lines().filter(|l| l.contains(".txt")).count(),
        2 * 30
    );
}

/// See issue 17, "a garbage `index.sqlite`": every command failed with
/// "file is not a database", printed three times, though the index is only
/// a cache of the store.
#[test]
fn issue_17_a_garbage_index_is_rebuilt_with_one_notice() {
    let t = TestDir::new();
    let src = t.write("a.txt", b"hello");
    t.lake().args(["add"]).arg(&src).arg("docs/a.txt").ok();
    let indexes: Vec<_> = files_in_recursive(&t.home())
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "index.sqlite"))
        .collect();
    assert!(!indexes.is_empty(), "no index.sqlite under the home");
    for index in &indexes {
        std::fs::write(index, b"this is not a database, just garbage bytes").unwrap();
    }
    let out = t.lake().args(["ls", "-r"]).output();
    assert_success("ls over a garbage index", &out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("docs/a.txt"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("rebuilding it from the store").count(),
        1,
        "one notice: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // And the next command says nothing more.
    let again = t.lake().args(["cat", "docs/a.txt"]).output();
    assert_success("cat after the rebuild", &again);
    assert_eq!(again.stdout, b"hello");
    assert!(
        again.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
