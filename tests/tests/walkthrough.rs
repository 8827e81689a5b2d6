//! The README's demo, driven as a user would: run the walkthrough example
//! twice on one home, then read its output's lineage with `lake info`.

use std::path::PathBuf;
use std::process::Command;

use lake_tests::{TestDir, lake_bin};

fn walkthrough_bin() -> PathBuf {
    // `cargo test --workspace` builds examples next to the binaries.
    let bin = lake_bin()
        .parent()
        .expect("lake lives in target/<profile>")
        .join("examples")
        .join(format!("walkthrough{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing; run `cargo test --workspace` or `cargo build -p lake-examples --examples`",
        bin.display()
    );
    bin
}

fn run_walkthrough(dir: &TestDir) -> String {
    let out = Command::new(walkthrough_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("LAKE_HOME", dir.home())
        .env("LAKE_STORE", dir.store_url())
        .current_dir(dir.path())
        .output()
        .expect("walkthrough runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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
