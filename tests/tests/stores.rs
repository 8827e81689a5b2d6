//! One home, several stores, through the `lake` command line: what a user
//! meets when they point a home at another store, keep two projects on the
//! default home, or mistype a store URL or option.
//!
//! See: issue 10 ("one home, two stores").

use std::path::Path;

use lake_tests::{TestDir, files_in, names_in_json as names};

fn one_line(stderr: &str) {
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn one_home_pointed_at_another_store_uploads_and_lists_only_that_store() {
    let t = TestDir::new();
    let store_b = t.path().join("store-b");
    let url_b = format!("file://{}", store_b.display());
    let src = t.write("report.csv", "a,b\n1,2\n");
    t.lake().arg("add").arg(&src).arg("reports/q1.csv").ok();
    t.lake()
        .arg("add")
        .arg(t.write("only-a.txt", "a"))
        .arg("only-a.txt")
        .ok();

    // Same home, store B: the bytes are local, the name is not in B.
    let out = t
        .lake()
        .env("LAKE_STORE", &url_b)
        .arg("add")
        .arg(&src)
        .arg("reports/q1.csv")
        .ok();
    assert!(out.starts_with("added reports/q1.csv"), "{out}");
    assert_eq!(files_in(&store_b.join("blobs")).len(), 1);
    assert!(store_b.join("names/reports/q1.csv.json").is_file());
    let again = t
        .lake()
        .env("LAKE_STORE", &url_b)
        .arg("add")
        .arg(&src)
        .arg("reports/q1.csv")
        .ok();
    assert!(again.starts_with("unchanged"), "{again}");

    let on_b = t
        .lake()
        .env("LAKE_STORE", &url_b)
        .args(["ls", "-r", "--json"])
        .json_lines();
    assert_eq!(names(&on_b), ["reports/q1.csv"]);
    let on_a = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(names(&on_a), ["only-a.txt", "reports/q1.csv"]);
    // A name only A has is unknown on B, from B's point of view.
    let err = t
        .lake()
        .env("LAKE_STORE", &url_b)
        .args(["cat", "only-a.txt"])
        .fails();
    assert!(err.contains("only-a.txt"), "{err}");
}

/// A project directory whose `lake.toml` sets only `store`.
fn project(t: &TestDir, name: &str) -> std::path::PathBuf {
    let dir = t.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lake.toml"), "store = \"lake-store\"\n").unwrap();
    dir
}

#[test]
fn two_projects_on_the_default_home_do_not_see_each_others_names() {
    let t = TestDir::new();
    let (one, two) = (project(&t, "one"), project(&t, "two"));
    let add = |dir: &Path, name: &str| {
        let src = t.write(&format!("src-{name}"), name);
        t.lake_bare()
            .current_dir(dir)
            .arg("add")
            .arg(src)
            .arg(name)
            .ok();
    };
    let ls = |dir: &Path| {
        names(
            &t.lake_bare()
                .current_dir(dir)
                .args(["ls", "-r", "--json"])
                .json_lines(),
        )
    };
    add(&one, "one.txt");
    add(&two, "two.txt");
    add(&one, "shared.txt");
    assert_eq!(ls(&one), ["one.txt", "shared.txt"]);
    assert_eq!(ls(&two), ["two.txt"]);
    // Both used the one default home, with one index per store.
    let stores = t.path().join("xdg-data/lake/stores");
    let ids: Vec<_> = std::fs::read_dir(&stores)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "urls")
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
}

#[test]
fn store_url_typos_are_refused_showing_the_accepted_forms() {
    let t = TestDir::new();
    for bad in [
        "s3:/bucket",
        "s3:bucket",
        "file:relative",
        "http:/x",
        "gs:/b/p",
    ] {
        let src = t.write("a", "a");
        let err = t
            .lake()
            .env("LAKE_STORE", bad)
            .arg("add")
            .arg(src)
            .arg("a")
            .fails();
        one_line(&err);
        assert!(err.contains(&format!("{bad:?}")), "{err}");
        for form in [
            "file:///absolute/path",
            "memory://name",
            "s3://bucket/prefix",
            "az://container/prefix",
            "gs://bucket/prefix",
            "http(s)://",
        ] {
            assert!(err.contains(form), "{form} missing: {err}");
        }
    }
    // Nothing was created for the typo, where `s3:/bucket` once became a
    // directory named `s3:`.
    for leftover in ["s3:", "s3:bucket", "file:relative", "http:", "gs:"] {
        assert!(!t.path().join(leftover).exists(), "{leftover} created");
    }

    // The same in lake.toml, named as such.
    std::fs::write(t.path().join("lake.toml"), "store = \"s3:/bucket\"\n").unwrap();
    let err = t.lake_bare().args(["ls"]).fails();
    one_line(&err);
    assert!(
        err.contains("lake.toml") && err.contains("s3:/bucket"),
        "{err}"
    );
}

#[test]
fn unknown_store_options_are_refused_on_every_backend() {
    let t = TestDir::new();
    for (store, listed) in [
        (t.store_url(), "local_fsync"),
        (t.path().join("plain").display().to_string(), "local_fsync"),
        ("memory://opts".to_owned(), "none"),
        ("s3://bucket/prefix".to_owned(), "aws_endpoint"),
        (
            "az://container/prefix".to_owned(),
            "azure_storage_account_name",
        ),
        ("gs://bucket/prefix".to_owned(), "google_service_account"),
    ] {
        let err = t
            .lake()
            .env("LAKE_STORE", &store)
            .env("LAKE_STORE_OPT_COLOUR", "blue")
            .args(["ls"])
            .fails();
        one_line(&err);
        assert!(err.contains("\"colour\""), "{store}: {err}");
        assert!(err.contains(listed), "{store}: {err}");
    }

    // From lake.toml too.
    std::fs::write(
        t.path().join("lake.toml"),
        "[store_options]\nlocal_fsnyc = true\n",
    )
    .unwrap();
    let err = t.lake().args(["ls"]).fails();
    assert!(
        err.contains("local_fsnyc") && err.contains("local_fsync"),
        "{err}"
    );
    std::fs::write(
        t.path().join("lake.toml"),
        "[store_options]\nlocal_fsync = true\n",
    )
    .unwrap();
    t.lake().args(["ls"]).ok();
}

#[test]
fn a_home_from_before_store_ids_keeps_working() {
    let t = TestDir::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(t.home().join("index.sqlite"), "left by an older lake").unwrap();
    let src = t.write("a.txt", "a");
    t.lake().arg("add").arg(&src).arg("a.txt").ok();
    assert_eq!(t.lake().args(["cat", "a.txt"]).ok(), "a");
    let listing = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(names(&listing), ["a.txt"]);
    // Left alone: an older lake may still have it open.
    assert!(t.home().join("index.sqlite").is_file());
}

#[test]
fn one_home_on_two_s3_prefixes_keeps_them_apart_on_moto() {
    let Some(server) = lake_tests::TestServer::from_env("MOTO") else {
        return;
    };
    let t = TestDir::new();
    let (url_a, url_b) = (server.fresh_url("home-a"), server.fresh_url("home-b"));
    let lake = |url: &str| {
        let mut cmd = t.lake();
        server.apply(&mut cmd, url);
        cmd
    };
    let src = t.write("data.bin", "shared bytes");
    lake(&url_a).arg("add").arg(&src).arg("data.bin").ok();
    lake(&url_a)
        .arg("add")
        .arg(t.write("a-only", "a"))
        .arg("a-only")
        .ok();
    let out = lake(&url_b).arg("add").arg(&src).arg("data.bin").ok();
    assert!(out.starts_with("added data.bin"), "{out}");
    let on_b = lake(&url_b).args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(names(&on_b), ["data.bin"]);
    // B's copy is really in B: a second home on B reads it back.
    let mut other = t.lake_with_home(t.path().join("other-home"));
    server.apply(&mut other, &url_b);
    assert_eq!(other.args(["cat", "data.bin"]).ok(), "shared bytes");
    // One index per store in the home.
    let ids = std::fs::read_dir(t.home().join("stores"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "urls")
        .count();
    assert_eq!(ids, 2);
}

/// `chain run 3` with this home and `store`: how many step bodies ran, and
/// the last output's name.
fn run_chain(t: &TestDir, home: &Path, store: &str) -> (u64, String) {
    let out = std::process::Command::new(lake_tests::example_bin("chain"))
        .args(["run", "3"])
        .current_dir(t.path())
        .env("LAKE_HOME", home)
        .env("LAKE_STORE", store)
        .env_remove("LAKE_REFRESH_SECS")
        .output()
        .expect("run the chain example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        report["ran"].as_u64().unwrap(),
        report["last"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_pipeline_pointed_at_another_store_runs_there_instead_of_returning_the_first_stores_outputs() {
    let t = TestDir::new();
    let url_b = format!("file://{}", t.path().join("store-b").display());
    assert_eq!(run_chain(&t, &t.home(), &t.store_url()).0, 4, "A runs");
    assert_eq!(run_chain(&t, &t.home(), &t.store_url()).0, 0, "A hits");
    // Same home, store B: nothing of A's may answer for B.
    let (ran, last) = run_chain(&t, &t.home(), &url_b);
    assert_eq!(ran, 4, "B must run its own steps");
    assert_eq!(run_chain(&t, &t.home(), &url_b).0, 0, "B hits");
    // B holds what its pipeline returned: another home on B reads it.
    let mut other = t.lake_bare();
    other
        .env("LAKE_HOME", t.path().join("other-home"))
        .env("LAKE_STORE", &url_b);
    let text = other.args(["cat", &last]).ok();
    assert!(text.starts_with("lake chain seed"), "{text}");
}
