//! A name is a file or a folder, never both: `lake add` refuses a name
//! below a file and a file where names are below, from the home that made
//! them and from a second home that only the store can tell, for `add` and
//! `add -r`, on `file://` and moto.
//!
//! See: issue 14 (item 5).

use lake_tests::{LakeCmd, TestDir, TestServer};

fn lake(t: &TestDir, server: &Option<(TestServer, String)>, home: &str) -> LakeCmd {
    let mut cmd = t.lake_with_home(t.path().join(home));
    if let Some((server, url)) = server {
        server.apply(&mut cmd, url);
    }
    cmd
}

fn names(t: &TestDir, s: &Option<(TestServer, String)>) -> Vec<String> {
    let listing = lake(t, s, "a")
        .args(["ls", "-r", "--json", "--refresh"])
        .json_lines();
    let mut out: Vec<String> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn a_name_is_never_both_a_file_and_a_folder() {
    let mut servers = vec![None];
    servers.extend(TestServer::from_env("MOTO").map(Some));
    for server in servers {
        let t = TestDir::new();
        let s = server.map(|s| {
            let url = s.fresh_url("nesting");
            (s, url)
        });
        let src = t.write("src.txt", "content");
        lake(&t, &s, "a")
            .arg("add")
            .arg(&src)
            .arg("data/p.txt")
            .ok();
        lake(&t, &s, "a")
            .arg("add")
            .arg(&src)
            .arg("data/q/child.txt")
            .ok();

        // In the home that made them (the index knows), then in a fresh
        // home (only the store knows).
        for home in ["a", "b"] {
            let err = lake(&t, &s, home)
                .arg("add")
                .arg(&src)
                .arg("data/p.txt/child")
                .fails();
            assert!(
                err.contains("\"data/p.txt\" is a file") && err.contains("never both"),
                "{home}: {err}"
            );
            let err = lake(&t, &s, home)
                .arg("add")
                .arg(&src)
                .arg("data/q")
                .fails();
            assert!(
                err.contains("\"data/q/child.txt\" is below it"),
                "{home}: {err}"
            );
        }

        // add -r: a file of the tree where a folder is, and a tree below a
        // file.
        t.write("tree/q", "would shadow the folder data/q");
        t.write("tree/fine/r.txt", "fine");
        let err = lake(&t, &s, "b")
            .args(["add", "-r"])
            .arg(t.path().join("tree"))
            .arg("data")
            .fails();
        assert!(err.contains("\"data/q/child.txt\" is below it"), "{err}");
        let err = lake(&t, &s, "b")
            .args(["add", "-r"])
            .arg(t.path().join("tree"))
            .arg("data/p.txt")
            .fails();
        assert!(err.contains("\"data/p.txt\" is a file"), "{err}");

        assert_eq!(
            names(&t, &s),
            ["data/p.txt", "data/q/child.txt"],
            "a refused add left a name"
        );
    }
}
