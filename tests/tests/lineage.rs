//! `lake lineage` and `lake why` on the example pipeline's lake, driven as
//! a user would (issue 14, items 1 and 2).

use std::path::PathBuf;
use std::process::Command;

use lake_tests::{TestDir, lake_bin};

fn pipeline_bin() -> PathBuf {
    let bin = lake_bin()
        .parent()
        .expect("lake lives in target/<profile>")
        .join("examples")
        .join(format!("pipeline{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing; run `cargo build -p lake-examples --examples`",
        bin.display()
    );
    bin
}

/// Runs the pipeline example on `dir`'s lake; returns the names it lists
/// under "outputs:", as (label, name).
fn run_pipeline(dir: &TestDir) -> Vec<(String, String)> {
    let out = Command::new(pipeline_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("LAKE_HOME", dir.home())
        .env("LAKE_STORE", dir.store_url())
        .current_dir(dir.path())
        .output()
        .expect("pipeline runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "pipeline failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .skip_while(|l| *l != "outputs:")
        .skip(1)
        .map_while(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(label), Some(name), None) => Some((label.to_owned(), name.to_owned())),
                _ => None,
            }
        })
        .collect()
}

fn named<'a>(outputs: &'a [(String, String)], label: &str) -> Vec<&'a str> {
    outputs
        .iter()
        .filter(|(l, _)| l == label)
        .map(|(_, n)| n.as_str())
        .collect()
}

#[test]
fn lineage_of_the_report_reaches_every_raw_file_in_each_format() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    let report = named(&outputs, "report")[0];
    let raws = named(&outputs, "raw");
    assert_eq!(raws.len(), 3, "{outputs:?}");

    let text = dir.lake().args(["lineage", report, "--up"]).ok();
    assert!(text.starts_with(&format!("{report}  ← ")), "{text}");
    for raw in &raws {
        assert!(text.contains(raw), "{raw} missing from\n{text}");
    }
    assert!(text.contains("└── "), "{text}");

    let json = dir
        .lake()
        .args(["lineage", report, "--up", "--format", "json"])
        .json();
    assert_eq!(json["root"], report);
    let nodes = json["nodes"].as_array().unwrap();
    let edges = json["edges"].as_array().unwrap();
    for raw in &raws {
        assert!(nodes.iter().any(|n| n["name"] == *raw), "{json}");
    }
    // Every edge joins two nodes of the graph.
    for edge in edges {
        for end in ["from", "to"] {
            assert!(nodes.iter().any(|n| n["name"] == edge[end]), "{edge}");
        }
    }

    let dot = dir
        .lake()
        .args(["lineage", report, "--up", "--format", "dot"])
        .ok();
    assert!(dot.starts_with("digraph lineage {"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), edges.len(), "{dot}");

    let mermaid_file = dir.path().join("lineage.mmd");
    dir.lake()
        .args(["lineage", report, "--up", "--format", "mermaid", "-o"])
        .arg(&mermaid_file)
        .ok();
    let mermaid = std::fs::read_to_string(&mermaid_file).unwrap();
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert_eq!(mermaid.matches(" -->|").count(), edges.len(), "{mermaid}");
}

#[test]
fn lineage_down_from_a_raw_file_reaches_the_report_and_depth_limits_it() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    let raw = named(&outputs, "raw")[0];
    let report = named(&outputs, "report")[0];
    let down = dir.lake().args(["lineage", raw, "--down"]).ok();
    assert!(down.contains(report), "{down}");
    let near = dir
        .lake()
        .args(["lineage", raw, "--down", "--depth", "1", "--format", "json"])
        .json();
    let edges = near["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    assert!(edges.iter().all(|e| e["from"] == raw), "{near}");

    // A name that does not exist is an error naming it.
    let err = dir.lake().args(["lineage", "no/such"]).fails();
    assert!(err.contains("no/such"), "{err}");
}

#[test]
fn why_names_the_argument_that_differs_from_the_previous_run() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    // The pipeline fetches Lisbon, then Oslo: Oslo's run differs by city.
    let oslo = named(&outputs, "raw")[1];
    let why = dir.lake().args(["why", oslo]).ok();
    assert!(why.contains("was made by pipeline::fetch"), "{why}");
    assert!(
        why.contains("~ argument city differs (was \"Lisbon\", now \"Oslo\")"),
        "{why}"
    );
    let json = dir.lake().args(["why", oslo, "--json"]).json();
    assert_eq!(json["creator"], "pipeline::fetch");
    assert_eq!(json["previous"]["name"], named(&outputs, "raw")[0]);

    // The first run has nothing earlier; an added file has no run at all.
    let lisbon = named(&outputs, "raw")[0];
    let first = dir.lake().args(["why", lisbon]).ok();
    assert!(first.contains("first run of pipeline::fetch"), "{first}");
    dir.write("added.txt", "x");
    dir.lake()
        .args(["add", "added.txt", "plain/added.txt"])
        .ok();
    let err = dir.lake().args(["why", "plain/added.txt"]).fails();
    assert!(
        err.contains("was added, not made by a creator's run"),
        "{err}"
    );
}
