//! `status` and `creators` from a pipeline's own binary, which is also its
//! `lake` command line (`lake_runtime::cli::main`): an output made by an
//! older version of its creator is stale, and so is what was made from it.
//! The plain `lake` binary has no creators and says so.
//!
//! See: issue 14 (item 3).

use std::process::Command;

use lake_runtime::{Lineage, Record};
use lake_tests::{TestDir, documented_json_fields, json_fields};

fn pipeline(t: &TestDir, home: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lake-pipeline-cli"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("LAKE_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("LAKE_HOME", t.path().join(home))
        .env("LAKE_STORE", t.store_url())
        .env("NO_COLOR", "1")
        .current_dir(t.path());
    cmd
}

/// Parses JSON Lines, one object per line.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run lake-pipeline-cli");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn status_finds_outputs_of_older_code_and_what_was_made_from_them() {
    let t = TestDir::new();
    let made = ok(pipeline(&t, "a").arg("run"));
    let (upper, summary) = made.trim().split_once(' ').expect("two names");

    let fresh = ok(pipeline(&t, "a").arg("status"));
    assert!(fresh.contains("every output is up to date"), "{fresh}");

    let creators = ok(pipeline(&t, "a").arg("creators"));
    assert!(
        creators.contains("pipeline_cli::first  version 2"),
        "{creators}"
    );
    assert!(
        creators.contains("pipeline_cli::second  code "),
        "{creators}"
    );
    let rows = json_lines(&ok(pipeline(&t, "a").args(["creators", "--json"])));
    let listed: Vec<&str> = rows
        .iter()
        .map(|r| r["creator"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        ["lake_pipeline_cli::first", "lake_pipeline_cli::second"]
    );
    for row in &rows {
        assert_eq!(json_fields(row), documented_json_fields("creator"), "{row}");
    }
    assert_eq!(
        rows[0]["code_identity"],
        serde_json::json!({"version": "2"})
    );

    // As if version 1 of `first` had made `upper`: its record says so.
    let path = t.store_dir().join("names").join(format!("{upper}.json"));
    let mut record: Record = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let Lineage::Created(run) = &mut record.lineage else {
        panic!("a run's output has run lineage");
    };
    run.version = Some("1".into());
    std::fs::write(&path, record.to_json()).unwrap();

    // A home that reads the store afresh.
    let stale = ok(pipeline(&t, "b").arg("status"));
    let lines: Vec<&str> = stale.lines().collect();
    assert_eq!(lines.len(), 2, "{stale}");
    assert!(
        stale.contains(&format!("stale  {upper}  ")) && stale.contains("version changed"),
        "{stale}"
    );
    assert!(
        stale.contains(&format!(
            "stale  {summary}  made from {upper}, which is stale"
        )),
        "{stale}"
    );
    // JSON Lines, each in the shape docs/json.md documents.
    let rows = json_lines(&ok(pipeline(&t, "b").args(["status", "--json"])));
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for row in &rows {
        assert_eq!(json_fields(row), documented_json_fields("stale"), "{row}");
    }
    let through_upper = rows
        .iter()
        .find(|r| r["name"] == *summary)
        .expect("the summary is listed");
    assert_eq!(through_upper["upstream"], *upper);

    // The plain `lake` has no creators to compare with.
    let plain = t.lake().arg("status").ok();
    assert!(plain.contains("no creator is registered"), "{plain}");
}
