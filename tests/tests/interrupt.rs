//! Ctrl-C at a terminal, as a user presses it: an interrupted `lake add`
//! removes its staging files, says so, exits with 130, and leaves no name.
//!
//! See: issue 14 (item 6).

use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{ControlCode, Eof, Expect, Session};
use lake_tests::TestDir;

/// Files in the home's staging directory.
fn staging(t: &TestDir) -> Vec<String> {
    std::fs::read_dir(t.home().join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn ctrl_c_during_add_removes_its_staging_files_and_says_so() {
    let t = TestDir::new();
    // Large enough that the add is still copying when the bar shows.
    let big = t.write("big.bin", vec![5u8; 1 << 30]);
    let mut cmd = t.lake();
    cmd.arg("add").arg(&big).arg("big.bin");
    let mut command = cmd.into_command();
    command.env("TERM", "xterm-256color");
    let mut session = Session::spawn(command).expect("spawn lake on a pty");
    session.set_expect_timeout(Some(Duration::from_secs(120)));
    // The bar shows once the copy is under way.
    session.expect("/1.00 GiB").expect("the progress bar");
    assert!(
        staging(&t).iter().any(|f| f.starts_with("stage-")),
        "no staging file while adding: {:?}",
        staging(&t)
    );
    session.send(ControlCode::EndOfText).expect("press Ctrl-C");
    let shown = session.expect(Eof).expect("lake ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).into_owned();
    let status = session.get_process().wait().expect("wait for lake");
    assert!(
        matches!(status, WaitStatus::Exited(_, 130)),
        "{status:?}\n{shown}"
    );
    assert!(
        shown.contains("interrupted; removed 1 staging file(s)"),
        "{shown}"
    );
    assert!(staging(&t).is_empty(), "left behind: {:?}", staging(&t));
    let listed = t.lake().args(["ls", "-r", "--json"]).json();
    assert_eq!(
        listed,
        serde_json::json!([]),
        "an interrupted add is visible"
    );
    // And the next add completes as if nothing happened.
    t.lake().arg("add").arg(&big).arg("big.bin").ok();
}
