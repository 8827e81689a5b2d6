//! Named stores from the command line: `lake cp`, `lake mv`, `lake rm
//! --from`, `lake ls --where` and `lake history`, with a default store and a
//! replica on `file://`, and on moto and Azurite when `scripts/servers
//! start` describes them; reads falling back along the read order while
//! the preferred store is down.
//!
//! See: issue 12 (parts 4–6), docs/design/0013-stores-and-history.md.

use lake_runtime::Digest;
use lake_tests::{NamedStoreSpec, TestDir, TestServer};
use serde_json::Value;

fn label(server: &Option<TestServer>) -> &str {
    server.as_ref().map_or("file", |s| s.kind.as_str())
}

/// `main` (the default) and `archive`, on `server` or in `t`.
fn two_stores(t: &TestDir, server: &Option<TestServer>) -> [NamedStoreSpec; 2] {
    [
        NamedStoreSpec::on("main", server.as_ref(), t.path()),
        NamedStoreSpec::on("archive", server.as_ref(), t.path()),
    ]
}

/// The stores `ls --where --json` gives for each name.
fn places(t: &TestDir, home: &str) -> Vec<(String, Vec<String>)> {
    let listing = t
        .lake_named(home)
        .args(["ls", "-r", "--where", "--json", "--refresh"])
        .json_lines();
    listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let at = e["where"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            (e["name"].as_str().unwrap().to_owned(), at)
        })
        .collect()
}

fn events(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let store = e["store"]["name"].as_str().unwrap_or("-");
            format!("{} {store}", e["event"].as_str().unwrap())
        })
        .collect()
}

/// The machine's name, as `[hosts.NAME]` matches it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read the host name")
        .trim()
        .to_owned()
}

#[test]
fn cp_and_mv_record_locations_that_ls_where_and_history_show_on_another_home() {
    for server in lake_tests::file_moto_azurite() {
        let context = label(&server);
        let t = TestDir::new();
        let stores = two_stores(&t, &server);
        t.write_stores(&stores, "");
        let a = t.write("a.txt", "alpha");
        let b = t.write("b.txt", "beta");
        t.lake_named("h1").arg("add").arg(&a).arg("a.txt").ok();
        t.lake_named("h1").arg("add").arg(&b).arg("b.txt").ok();
        assert_eq!(
            places(&t, "h1"),
            [
                ("a.txt".to_owned(), vec!["main".to_owned()]),
                ("b.txt".to_owned(), vec!["main".to_owned()])
            ],
            "{context}"
        );

        let out = t
            .lake_named("h1")
            .args(["cp", "a.txt", "--to", "archive"])
            .ok();
        assert!(out.contains("1 uploaded (5 bytes)"), "{context}: {out}");
        let out = t
            .lake_named("h1")
            .args(["mv", "b.txt", "--from", "main", "--to", "archive"])
            .ok();
        assert!(out.contains("1 cop(ies) removed"), "{context}: {out}");
        // Copying again is a no-op: the history already places it there.
        let again = t
            .lake_named("h1")
            .args(["cp", "a.txt", "--to", "archive", "--json"])
            .json();
        assert_eq!(again["already_there"][0], "a.txt", "{context}");

        // A second home (another machine) reads the same history.
        let mut seen = places(&t, "h2");
        for (_, at) in &mut seen {
            at.sort();
        }
        assert_eq!(
            seen,
            [
                (
                    "a.txt".to_owned(),
                    vec!["archive".to_owned(), "main".to_owned()]
                ),
                ("b.txt".to_owned(), vec!["archive".to_owned()])
            ],
            "{context}"
        );
        let text = t.lake_named("h2").args(["ls", "-r", "--where"]).ok();
        assert!(
            text.lines()
                .any(|l| l.starts_with("b.txt") && l.ends_with("in archive")),
            "{context}: {text}"
        );
        let history = t
            .lake_named("h2")
            .args(["history", "b.txt", "--json"])
            .json();
        assert_eq!(
            events(&history),
            [
                "copy_started archive",
                "copied archive",
                "remove_started main",
                "location_removed main"
            ],
            "{context}"
        );
        assert_eq!(history["events"][0]["from"]["name"], "main", "{context}");
        assert_eq!(
            history["events"][0]["by"],
            lake_tests::TEST_EMAIL,
            "{context}"
        );
        assert!(
            history["events"][3]["command"]
                .as_str()
                .unwrap()
                .contains("mv b.txt --from main --to archive"),
            "{context}: {history:#}"
        );
        // b.txt is no longer in main, yet every home reads it (from the
        // archive, verified), and verify --store checks it there.
        assert_eq!(t.lake_named("h3").args(["cat", "b.txt"]).ok(), "beta");
        let report = t
            .lake_named("h3")
            .args(["verify", "--store", "--json"])
            .json();
        assert_eq!(
            report["ok"].as_array().unwrap().len(),
            2,
            "{context}: {report:#}"
        );

        // The text form: creation first, then each event, then where.
        let text = t.lake_named("h2").args(["history", "b.txt"]).ok();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("created"), "{context}: {text}");
        assert!(
            lines[0].contains("by tester@lake.test"),
            "{context}: {text}"
        );
        assert!(
            lines[1].contains("copy_started main -> archive"),
            "{context}: {text}"
        );
        assert_eq!(
            lines.last().unwrap(),
            &"now: in archive",
            "{context}: {text}"
        );

        // rm takes the name from every store, and the history keeps it.
        t.lake_named("h1").args(["rm", "b.txt", "-m", "done"]).ok();
        let history = t
            .lake_named("h2")
            .args(["history", "b.txt", "--json"])
            .json();
        assert_eq!(
            events(&history).last().unwrap(),
            "removed -",
            "{context}: {history:#}"
        );
        assert!(history["locations"].as_array().unwrap().is_empty());
        let text = t.lake_named("h2").args(["history", "b.txt"]).ok();
        assert!(text.ends_with("now: removed\n"), "{context}: {text}");
        if server.is_none() {
            let digest = Digest::of(b"beta").to_hex();
            for store in ["main", "archive"] {
                let blob = t
                    .path()
                    .join("stores")
                    .join(store)
                    .join("blobs")
                    .join(&digest);
                assert!(!blob.exists(), "{} left behind", blob.display());
            }
        }
    }
}

#[test]
fn rm_from_refuses_the_last_copy_unless_forced() {
    for server in lake_tests::file_moto_azurite() {
        let context = label(&server);
        let t = TestDir::new();
        let stores = two_stores(&t, &server);
        t.write_stores(&stores, "");
        let x = t.write("x.txt", "the only copy");
        t.lake_named("h").arg("add").arg(&x).arg("x.txt").ok();

        let err = t
            .lake_named("h")
            .args(["rm", "x.txt", "--from", "main"])
            .fails();
        assert!(
            err.contains("refusing to delete the last copy of \"x.txt\" from store main"),
            "{context}: {err}"
        );
        assert!(err.contains("--force-last"), "{context}: {err}");
        let err = t
            .lake_named("h")
            .args(["rm", "x.txt", "--from", "archive"])
            .fails();
        assert!(
            err.contains("has no copy in store archive"),
            "{context}: {err}"
        );
        let err = t
            .lake_named("h")
            .args(["rm", "x.txt", "--from", "attic"])
            .fails();
        assert!(
            err.contains("no store named \"attic\"; the stores are: main, archive"),
            "{context}: {err}"
        );
        // Nothing was deleted: a fresh home reads it.
        assert_eq!(
            t.lake_named("fresh1").args(["cat", "x.txt"]).ok(),
            "the only copy"
        );

        // Copied elsewhere, the copy in main may go; then the archive's
        // is the last one.
        t.lake_named("h")
            .args(["cp", "x.txt", "--to", "archive"])
            .ok();
        t.lake_named("h")
            .args(["rm", "x.txt", "--from", "main"])
            .ok();
        assert_eq!(
            places(&t, "h"),
            [("x.txt".to_owned(), vec!["archive".to_owned()])]
        );
        let err = t
            .lake_named("h")
            .args(["rm", "x.txt", "--from", "archive"])
            .fails();
        assert!(err.contains("last copy"), "{context}: {err}");
        assert_eq!(
            t.lake_named("fresh2").args(["cat", "x.txt"]).ok(),
            "the only copy"
        );
        // Forced: gone, and reads say so, naming every store tried.
        t.lake_named("h")
            .args(["rm", "x.txt", "--from", "archive", "--force-last"])
            .ok();
        let err = t.lake_named("fresh3").args(["cat", "x.txt"]).fails();
        assert!(
            err.contains("no store gave a verified copy of \"x.txt\""),
            "{context}: {err}"
        );
        assert!(
            err.contains("main:") && err.contains("archive:"),
            "{context}: {err}"
        );
    }
}

#[test]
fn rm_from_refuses_when_the_other_recorded_copy_does_not_verify() {
    let t = TestDir::new();
    let stores = two_stores(&t, &None);
    t.write_stores(&stores, "");
    let y = t.write("y.txt", "checked");
    t.lake_named("h").arg("add").arg(&y).arg("y.txt").ok();
    t.lake_named("h")
        .args(["cp", "y.txt", "--to", "archive"])
        .ok();
    // The archive's copy disappears behind lake's back.
    let digest = Digest::of(b"checked").to_hex();
    std::fs::remove_file(t.path().join("stores/archive/blobs").join(&digest)).unwrap();
    let err = t
        .lake_named("h")
        .args(["rm", "y.txt", "--from", "main"])
        .fails();
    assert!(
        err.contains("no other copy verifies (archive: missing or corrupt)"),
        "{err}"
    );
    assert!(t.path().join("stores/main/blobs").join(&digest).exists());
}

#[test]
fn reads_fall_back_to_a_replica_while_the_preferred_store_is_down() {
    for server in lake_tests::file_moto_azurite() {
        let context = label(&server);
        let t = TestDir::new();
        let [main, archive] = two_stores(&t, &server);
        t.write_stores(&[main.clone(), archive.clone()], "");
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let src = t.write("data.bin", &bytes);
        t.lake_named("h").arg("add").arg(&src).arg("data.bin").ok();
        t.lake_named("h")
            .args(["cp", "data.bin", "--to", "archive"])
            .ok();

        // This host prefers the archive, and the archive is down.
        let host = format!(
            "[hosts.{}]\nread_order = [\"archive\", \"main\"]",
            serde_json::to_string(&hostname()).unwrap()
        );
        t.write_stores(&[main.clone(), NamedStoreSpec::down("archive")], &host);
        let out = t.lake_named("reader").args(["cat", "data.bin"]).output();
        assert!(
            out.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout, bytes,
            "{context}: the fallback read is verified"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("trying the next store") && stderr.contains("archive"),
            "{context}: the failed preferred store is reported: {stderr}"
        );

        // Up again, with the bytes only in the archive: main misses, and
        // the read falls through to the archive.
        t.write_stores(&[main.clone(), archive.clone()], "");
        t.lake_named("h")
            .args(["mv", "data.bin", "--from", "main", "--to", "archive"])
            .ok();
        let read = t.lake_named("reader2").args(["cat", "data.bin"]).ok_bytes();
        assert_eq!(read, bytes, "{context}");
        // And with the archive down too, no store has it: a clear error.
        t.write_stores(&[main, NamedStoreSpec::down("archive")], "");
        let err = t.lake_named("reader3").args(["cat", "data.bin"]).fails();
        assert!(
            err.contains("no store gave a verified copy"),
            "{context}: {err}"
        );
    }
}

#[test]
fn bad_store_configuration_is_refused_naming_the_value() {
    let t = TestDir::new();
    let stores = two_stores(&t, &None);
    t.write_stores(&stores, "read_order = [\"main\", \"archve\"]");
    let err = t.lake_named("h").args(["ls"]).fails();
    assert!(
        err.contains("\"archve\"") && err.contains("the stores are: main, archive"),
        "{err}"
    );
    // The single `store` key, and LAKE_STORE, keep working as before.
    t.write("lake.toml", "store = \"plain-store\"\n");
    let a = t.write("a.txt", "a");
    t.lake_named("h").arg("add").arg(&a).arg("a.txt").ok();
    assert!(t.path().join("plain-store/names/a.txt.json").exists());
    let err = t
        .lake_named("h")
        .args(["cp", "a.txt", "--to", "archive"])
        .fails();
    assert!(
        err.contains("no store named \"archive\"; the stores are: default"),
        "{err}"
    );
}

/// The two states a crashed `cp`/`mv` can leave, made by hand on
/// `file://`: a copy made but never recorded (its `copied` event lost),
/// and a location whose copy is gone (deleted, `location_removed` never
/// written). `verify --store` reports both; `--repair` records the truth
/// and deletes nothing.
#[test]
fn verify_store_repair_settles_an_unrecorded_copy_and_a_lost_location() {
    let t = TestDir::new();
    let stores = two_stores(&t, &None);
    t.write_stores(&stores, "");
    let src = t.write("r.txt", "repair me");
    t.lake_named("h").arg("add").arg(&src).arg("r.txt").ok();
    t.lake_named("h")
        .args(["cp", "r.txt", "--to", "archive"])
        .ok();

    // Lose the `copied` event: the copy exists, the history does not say so.
    let events_dir = t.path().join("stores/main/history/r.txt.hist");
    let mut files = lake_tests::files_in(&events_dir);
    assert_eq!(files.len(), 2);
    let copied = files.pop().unwrap();
    assert!(
        std::fs::read_to_string(&copied)
            .unwrap()
            .contains("\"copied\"")
    );
    std::fs::remove_file(&copied).unwrap();
    // And lose main's copy, as a kill after a move's delete would.
    let digest = Digest::of(b"repair me").to_hex();
    std::fs::remove_file(t.path().join("stores/main/blobs").join(&digest)).unwrap();

    let text = t.lake_named("h").args(["history", "r.txt"]).ok();
    assert!(text.contains("unfinished: a copy to archive"), "{text}");
    let out = t
        .lake_named("h")
        .args(["verify", "--store", "--json"])
        .output();
    assert_eq!(out.status.code(), Some(3), "problems found");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["place"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["history", "store"], "{report:#}");
    assert!(
        report["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the copy there verifies"),
        "{report:#}"
    );

    t.lake_named("h")
        .args(["verify", "--store", "--repair"])
        .ok();
    let report = t
        .lake_named("h")
        .args(["verify", "--store", "--json"])
        .json();
    assert!(
        report["problems"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    let history = t
        .lake_named("h")
        .args(["history", "r.txt", "--json"])
        .json();
    assert_eq!(
        events(&history),
        [
            "copy_started archive",
            "copied archive",
            "location_removed main"
        ],
        "{history:#}"
    );
    assert!(
        history["events"][1]["note"]
            .as_str()
            .unwrap()
            .contains("lake verify --store --repair"),
        "{history:#}"
    );
    assert_eq!(
        places(&t, "h"),
        [("r.txt".to_owned(), vec!["archive".to_owned()])]
    );
    assert_eq!(
        t.lake_named("fresh").args(["cat", "r.txt"]).ok(),
        "repair me"
    );
    assert!(t.path().join("stores/archive/blobs").join(&digest).exists());
}

/// Two names for one store: a move between them would delete its own
/// source, so it is refused, naming both.
#[test]
fn mv_between_two_names_of_one_store_is_refused() {
    let t = TestDir::new();
    let main = NamedStoreSpec::on("main", None, t.path());
    let alias = NamedStoreSpec::new("alias", main.url.clone(), &[]);
    t.write_stores(&[main, alias], "");
    let src = t.write("s.txt", "same store");
    t.lake_named("h").arg("add").arg(&src).arg("s.txt").ok();
    let err = t
        .lake_named("h")
        .args(["mv", "s.txt", "--from", "main", "--to", "alias"])
        .fails();
    assert!(
        err.contains("stores main and alias are the same store"),
        "{err}"
    );
    assert_eq!(
        t.lake_named("fresh").args(["cat", "s.txt"]).ok(),
        "same store"
    );
}
