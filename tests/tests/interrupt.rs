//! Ctrl-C at a terminal, as a user presses it: an interrupted `lake add`
//! removes its staging files, says so, exits with 130, and leaves no name.
//!
//! See: issue 14 (item 6).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// An HTTP server that promises 1 GiB, sends the first 8 MiB, and then
/// sends nothing more until the returned sender is dropped. An add from
/// it is still staging whenever the test looks, however fast the
/// machine (a local 1 GiB file could be copied before the test looked).
fn withholding_server() -> (String, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}/big.bin", listener.local_addr().unwrap());
    let (release, released) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("lake connects");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).expect("read the request");
            assert!(n > 0, "lake closed before sending its request");
            head.extend_from_slice(&buf[..n]);
        }
        let reply = "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\
                     Content-Type: application/octet-stream\r\n\r\n";
        stream.write_all(reply.as_bytes()).expect("send the head");
        let _ = stream.write_all(&vec![5u8; 8 << 20]);
        let _ = stream.flush();
        // Hold the connection open, and the rest of the body back.
        let _ = released.recv();
    });
    (url, release)
}

#[test]
fn ctrl_c_during_add_removes_its_staging_files_and_says_so() {
    let t = TestDir::new();
    let (url, release) = withholding_server();
    let mut cmd = t.lake();
    cmd.arg("add").arg(&url).arg("big.bin");
    let mut command = cmd.into_command();
    command.env("TERM", "xterm-256color");
    let mut session = Session::spawn(command).expect("spawn lake on a pty");
    session.set_expect_timeout(Some(Duration::from_secs(120)));
    // The bar shows as the download begins (it can be drawn a moment
    // before the staging file is created: run 19 of the session that wrote
    // this saw exactly that), and the download cannot finish, so the
    // staging file must appear.
    session.expect("/1.00 GiB").expect("the progress bar");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !staging(&t).iter().any(|f| f.starts_with("stage-")) {
        assert!(
            Instant::now() < deadline,
            "no staging file a minute into the add: {:?}",
            staging(&t)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    session.send(ControlCode::EndOfText).expect("press Ctrl-C");
    let shown = session.expect(Eof).expect("lake ends");
    let shown = String::from_utf8_lossy(shown.as_bytes()).into_owned();
    let status = session.get_process().wait().expect("wait for lake");
    drop(release);
    assert!(
        matches!(status, WaitStatus::Exited(_, 130)),
        "{status:?}\n{shown}"
    );
    assert!(
        shown.contains("interrupted; removed 1 staging file(s)"),
        "{shown}"
    );
    assert!(staging(&t).is_empty(), "left behind: {:?}", staging(&t));
    let listed = t.lake().args(["ls", "-r", "--json"]).json_lines();
    assert_eq!(
        listed,
        serde_json::json!([]),
        "an interrupted add is visible"
    );
    // And the next add of that name completes as if nothing happened.
    let small = t.write("small.bin", vec![5u8; 1 << 20]);
    t.lake().arg("add").arg(&small).arg("big.bin").ok();
}
