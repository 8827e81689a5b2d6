//! The README's demo, driven as a user would: run the walkthrough example
//! twice on one home, then read its output's lineage with `lake info`.

use lake_tests::TestDir;

fn run_walkthrough(dir: &TestDir) -> String {
    dir.run_example("walkthrough")
}

#[test]
fn walkthrough_computes_once_skips_after_and_second_home_downloads_only_the_output() {
    let dir = TestDir::new();
    let first = run_walkthrough(&dir);
    assert_eq!(first.matches("running process").count(), 1, "{first}");
    assert_eq!(
        first
            .matches("skipping walkthrough::process: outputs exist")
            .count(),
        2,
        "{first}"
    );
    assert!(first.contains("some data\nadditional data\n"), "{first}");
    assert!(
        first.contains("second home downloaded the output: true, the input: false"),
        "{first}"
    );

    let second = run_walkthrough(&dir);
    assert!(!second.contains("running process"), "{second}");
    assert_eq!(
        second.matches("skipping walkthrough::process").count(),
        3,
        "{second}"
    );

    let output_name = first
        .lines()
        .find_map(|l| l.strip_prefix("output ").and_then(|l| l.strip_suffix(':')))
        .expect("the walkthrough prints its output name")
        .to_owned();
    let info = dir.lake().args(["info", &output_name]).ok();
    for expected in [
        "input files",
        "input: walkthrough/data.txt",
        "creation method",
        "walkthrough::process",
        "outputs",
        "<- this file",
        "source:      examples/examples/walkthrough.rs:",
        "run key:",
    ] {
        assert!(info.contains(expected), "missing {expected:?} in:\n{info}");
    }
    let json = dir.lake().args(["info", &output_name, "--json"]).json();
    let lineage = &json["lineage"];
    assert_eq!(lineage["kind"], "created");
    assert_eq!(lineage["creator"], "walkthrough::process");
    assert_eq!(lineage["crate_name"], "lake-examples");
    assert_eq!(lineage["inputs"][0]["name"], "walkthrough/data.txt");
    assert_eq!(lineage["outputs"][0], output_name.as_str());
    assert!(lineage["started_at"].is_string() && lineage["host"].is_string());
}
