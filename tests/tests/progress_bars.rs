//! The overall bar of `add -r`, `pull` and `verify`, seen on a pseudo-terminal as a
//! user sees it, and absent on a pipe.
//!
//! See: issue 14 (item 5).

use std::time::Duration;

use expectrl::process::unix::WaitStatus;
use expectrl::{Eof, Expect, Session};
use lake_tests::{LakeCmd, TestDir};

/// What a terminal showed while `cmd` ran, and its exit code.
fn on_terminal(cmd: LakeCmd) -> (String, i32) {
    let mut command = cmd.into_command();
    command.env("TERM", "xterm-256color");
    let mut session = Session::spawn(command).expect("spawn lake on a pty");
    session.set_expect_timeout(Some(Duration::from_secs(120)));
    let shown = session.expect(Eof).expect("lake ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).into_owned();
    match session.get_process().wait().expect("wait for lake") {
        WaitStatus::Exited(_, code) => (shown, code),
        other => panic!("lake did not exit: {other:?}\n{shown}"),
    }
}

#[test]
fn add_r_and_pull_show_one_overall_bar_on_a_terminal_only() {
    let t = TestDir::new();
    for i in 0..40 {
        t.write(&format!("tree/f{i:02}.bin"), vec![i as u8; 256 << 10]);
    }
    let mut add = t.lake();
    add.args(["add", "-r", "tree", "d"]);
    let (shown, code) = on_terminal(add);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("add d [") && shown.contains("/40 files"),
        "{shown}"
    );
    assert!(shown.contains("40 file(s): 40 new"), "{shown}");

    t.lake().args(["evict", "--all"]).ok();
    let mut pull = t.lake();
    pull.args(["pull", "d"]);
    let (shown, code) = on_terminal(pull);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("pull d [") && shown.contains("/40 files"),
        "{shown}"
    );
    assert!(shown.contains("pulled 40 file(s)"), "{shown}");

    let mut verify = t.lake();
    verify.args(["verify", "--store"]);
    let (shown, code) = on_terminal(verify);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("verify [") && shown.contains("/40 files"),
        "{shown}"
    );

    // On a pipe: the summary only.
    t.lake().args(["evict", "--all"]).ok();
    let piped = t.lake().args(["pull", "d"]).output();
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("files ("), "a bar on a pipe: {stderr}");
}
