//! `lake rm` and `lake evict` from the command line: two homes sharing a
//! store (file://, and moto and Azurite when `scripts/servers start`
//! describes them), the downstream refusal and `--cascade`, the secret
//! gone from the store, evict's counts.
//!
//! See: issue 12 (parts 1–3), docs/design/0010-removal.md.

use std::process::Command;

use lake_tests::{LakeCmd, TestDir, TestServer, example_bin, files_in_recursive};
use serde_json::Value;

/// `lake` with home `<dir>/<home>` on the store of `server` at `url`.
fn lake(t: &TestDir, server: &Option<(TestServer, String)>, home: &str) -> LakeCmd {
    let mut cmd = t.lake_with_home(t.path().join(home));
    if let Some((server, url)) = server {
        server.apply(&mut cmd, url);
    }
    cmd
}

fn ls(cmd: &mut LakeCmd) -> Vec<String> {
    let listing = cmd.args(["ls", "-r", "--json", "--refresh"]).json_lines();
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rm_and_rm_r_from_one_home_are_seen_from_a_second_home() {
    for server in lake_tests::file_moto_azurite() {
        let t = TestDir::new();
        let s = server.map(|s| {
            let url = s.fresh_url("rm-cli");
            (s, url)
        });
        let src = t.write("src/a.txt", "alpha");
        t.write("src/d/b.txt", "beta");
        t.write("src/d/e/c.txt", "gamma");
        lake(&t, &s, "a").arg("add").arg(&src).arg("a.txt").ok();
        lake(&t, &s, "a")
            .args(["add", "-r"])
            .arg(t.path().join("src/d"))
            .arg("d")
            .ok();
        assert_eq!(
            ls(&mut lake(&t, &s, "b")),
            ["a.txt", "d/b.txt", "d/e/c.txt"]
        );
        assert_eq!(lake(&t, &s, "b").args(["cat", "d/b.txt"]).ok(), "beta");

        let out = lake(&t, &s, "a")
            .args(["rm", "a.txt", "-m", "not needed"])
            .ok();
        assert!(out.contains("removed a.txt"), "{out}");
        let dry = lake(&t, &s, "a").args(["rm", "-r", "d", "--dry-run"]).ok();
        assert!(dry.contains("would remove d/b.txt"), "{dry}");
        assert_eq!(
            ls(&mut lake(&t, &s, "a")).len(),
            2,
            "a dry run removes nothing"
        );
        let out = lake(&t, &s, "a").args(["rm", "-r", "d"]).ok();
        assert!(out.contains("removed 2 name(s)"), "{out}");

        // The second home learns it at its refresh and no longer serves it.
        assert_eq!(ls(&mut lake(&t, &s, "b")), Vec::<String>::new());
        let err = lake(&t, &s, "b").args(["cat", "d/b.txt"]).fails();
        assert!(err.contains("no file named \"d/b.txt\""), "{err}");
        // Re-adding other bytes is refused from there, naming the tombstone.
        let other = t.write("other.txt", "not alpha");
        let err = lake(&t, &s, "b")
            .arg("add")
            .arg(&other)
            .arg("a.txt")
            .fails();
        assert!(
            err.contains("was removed by") && err.contains("tombstones/a.txt.json"),
            "{err}"
        );
        // The same bytes restore it.
        let out = lake(&t, &s, "b").arg("add").arg(&src).arg("a.txt").ok();
        assert!(out.starts_with("added a.txt"), "{out}");
        assert_eq!(lake(&t, &s, "a").args(["cat", "a.txt"]).ok(), "alpha");
    }
}

#[test]
fn a_secret_removed_with_rm_is_gone_from_the_store() {
    let t = TestDir::new();
    let secret = "GITHUB_TOKEN=ghp_R3m0v3dS3cr3tT0k3nF0rT3st1ng0000\n";
    let src = t.write("prod.env", secret);
    t.lake().arg("add").arg(&src).arg("cfg/prod.env").ok();
    let out = t
        .lake()
        .args(["rm", "cfg/prod.env", "-m", "secret added by mistake"])
        .ok();
    assert!(out.contains("deleted 1 blob(s)"), "{out}");
    for file in files_in_recursive(&t.store_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ghp_R3m0v3d"),
            "{} still holds the secret",
            file.display()
        );
    }
    for file in files_in_recursive(&t.home()) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("ghp_R3m0v3d"),
            "{} still holds the secret",
            file.display()
        );
    }
    let tombstone: Value = serde_json::from_slice(
        &std::fs::read(t.store_dir().join("tombstones/cfg/prod.env.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tombstone["message"], "secret added by mistake");
    assert_eq!(tombstone["removed_by"], lake_tests::TEST_EMAIL);
}

/// `chain run 3`: seed → step → step → step, each a copy of its input.
fn chain(t: &TestDir) -> Value {
    let out = Command::new(example_bin("chain"))
        .args(["run", "3"])
        .current_dir(t.path())
        .env("LAKE_HOME", t.home())
        .env("LAKE_STORE", t.store_url())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rm_of_an_input_is_refused_then_cascade_removes_the_closure_and_it_runs_again() {
    let t = TestDir::new();
    assert_eq!(chain(&t)["ran"], 4);
    let names = ls(&mut t.lake());
    let seed = names
        .iter()
        .find(|n| n.starts_with("seed/"))
        .unwrap()
        .clone();
    let steps: Vec<&String> = names.iter().filter(|n| n.starts_with("step/")).collect();
    assert_eq!(steps.len(), 3);

    let err = t.lake().args(["rm", &seed]).fails();
    assert!(err.contains("1 file(s) were made from it"), "{err}");
    assert!(err.contains("--cascade"), "{err}");
    // Not a terminal, no --yes: refused, after showing the closure.
    let out = t.lake().args(["rm", "--cascade", &seed]).output();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("will remove 4 file(s), 3 of them made from"),
        "{err}"
    );
    assert!(err.contains("without --yes"), "{err}");
    assert_eq!(ls(&mut t.lake()).len(), 4, "nothing removed");

    let out = t
        .lake()
        .args(["rm", "--cascade", "--yes", "--json", &seed])
        .json();
    let removed: Vec<&str> = out["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 4);
    assert_eq!(removed[3], seed, "the input goes last");
    assert_eq!(out["blobs_deleted"].as_array().unwrap().len(), 1, "{out}");
    assert!(ls(&mut t.lake()).is_empty());
    assert!(lake_tests::files_in(&t.store_dir().join("blobs")).is_empty());
    assert!(lake_tests::files_in(&t.store_dir().join("runs")).is_empty());

    // The creators run again; then bottom-up removal needs no cascade.
    assert_eq!(chain(&t)["ran"], 4);
    assert_eq!(chain(&t)["ran"], 0);
    let mut names = ls(&mut t.lake());
    let last = chain(&t)["last"].as_str().unwrap().to_owned();
    t.lake().args(["rm", &last]).ok();
    names.retain(|n| n != &last);
    assert_eq!(ls(&mut t.lake()), names);
    assert_eq!(chain(&t)["ran"], 1, "only the removed step runs again");
}

#[test]
fn evict_refuses_without_arguments_takes_prefixes_and_keeps_shared_copies() {
    let t = TestDir::new();
    let shared = t.write("s.txt", "shared");
    t.lake().arg("add").arg(&shared).arg("p/a.txt").ok();
    t.lake().arg("add").arg(&shared).arg("q/b.txt").ok();
    t.lake()
        .arg("add")
        .arg(t.write("o.txt", "own"))
        .arg("p/c.txt")
        .ok();

    let err = t.lake().arg("evict").fails();
    assert!(err.contains("--all") || err.contains("<TARGETS>"), "{err}");
    assert_eq!(t.home_blobs(t.home()).len(), 2, "nothing evicted");

    let out = t.lake().args(["evict", "p"]).ok();
    assert!(
        out.contains("evicted 1 name(s): 1 local cop(ies), 3 bytes"),
        "{out}"
    );
    assert!(
        out.contains("kept p/a.txt: its bytes are also q/b.txt"),
        "{out}"
    );
    let out = t.lake().args(["evict", "p/a.txt", "q"]).ok();
    assert!(
        out.contains("evicted 2 name(s): 1 local cop(ies), 6 bytes"),
        "{out}"
    );
    assert!(t.home_blobs(t.home()).is_empty());
    assert_eq!(t.lake().args(["cat", "q/b.txt"]).ok(), "shared");
    let out = t.lake().args(["evict", "--all"]).ok();
    assert!(out.contains("1 local cop(ies), 6 bytes"), "{out}");
}
