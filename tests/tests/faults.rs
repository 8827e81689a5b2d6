//! Server faults (issue 4, item 5; invariants 2 and 5 of
//! docs/design/0000-design.md), against moto through a fault-injecting TCP proxy written here:
//! - the server answers 500 to the first N requests: with `max_retries` ≥ N
//!   the command succeeds, with `max_retries=0` it fails with one clear line
//!   in bounded time;
//! - the server goes away mid-upload of 32 MiB: a clear error in bounded
//!   time, nothing visible, and after a restart the same command succeeds
//!   and `verify --store` is clean;
//! - a tampered blob in the bucket is refused on download and never enters
//!   the cache.
//!
//! Skips loudly without `LAKE_TEST_MOTO_*`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lake_tests::{LakeCmd, TestDir, TestServer};

// ------------------------------------------------------------------ proxy

#[derive(Default)]
struct ProxyState {
    /// 500s still to answer, one per new connection's first request.
    faults_left: AtomicUsize,
    /// 500s answered.
    faults_sent: AtomicUsize,
    /// Bytes forwarded from lake to the server.
    bytes_up: AtomicU64,
    stopped: AtomicBool,
    /// Every open socket, to cut them all on `stop`.
    sockets: Mutex<Vec<TcpStream>>,
    /// Pause per 64 KiB forwarded upstream, to make uploads last.
    throttle: Option<Duration>,
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`.
struct Proxy {
    port: u16,
    state: Arc<ProxyState>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    fn start(port: u16, upstream: SocketAddr, faults: usize, throttle: Option<Duration>) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(ProxyState {
            faults_left: AtomicUsize::new(faults),
            throttle,
            ..ProxyState::default()
        });
        let shared = state.clone();
        let accept = std::thread::spawn(move || {
            while !shared.stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let shared = shared.clone();
                        std::thread::spawn(move || serve(client, upstream, &shared));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
            // The listener drops here: new connections are refused.
        });
        Self {
            port,
            state,
            accept: Some(accept),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server "goes away": stop accepting and cut every connection.
    fn stop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        for socket in self.state.sockets.lock().unwrap().drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        if let Some(accept) = self.accept.take() {
            accept.join().unwrap();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut client: TcpStream, upstream: SocketAddr, state: &ProxyState) {
    if state.stopped.load(Ordering::SeqCst) {
        return;
    }
    state
        .sockets
        .lock()
        .unwrap()
        .push(client.try_clone().unwrap());
    let fault = state
        .faults_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fault {
        // Read the whole request, then answer 500 and hang up.
        if read_request(&mut client).is_some() {
            state.faults_sent.fetch_add(1, Ordering::SeqCst);
            let _ = client.write_all(
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    state
        .sockets
        .lock()
        .unwrap()
        .push(server.try_clone().unwrap());
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let throttle = state.throttle;
    let up = std::thread::scope(|scope| {
        let up = scope.spawn(|| {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match c_read.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        state.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
                        if let Some(pause) = throttle {
                            std::thread::sleep(pause);
                        }
                    }
                }
            }
            let _ = s_write.shutdown(Shutdown::Write);
        });
        let (mut s_read, mut c_write) = (server, client);
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(Shutdown::Both);
        up.join()
    });
    let _ = up;
}

/// Reads one HTTP request (head and `Content-Length` body).
fn read_request(stream: &mut TcpStream) -> Option<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: u64 = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut stream.take(length), &mut std::io::sink()).ok()?;
    Some(())
}

// ---------------------------------------------------------------- helpers

fn moto_addr(server: &TestServer) -> SocketAddr {
    let endpoint = server
        .option("aws_endpoint")
        .expect("LAKE_TEST_MOTO_OPTS sets aws_endpoint");
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    host.parse().expect("aws_endpoint is http://IP:PORT")
}

/// `lake` on `url` through `endpoint`, with the server's other options and
/// `extra` ones.
fn lake_via(
    dir: &TestDir,
    home: &str,
    server: &TestServer,
    url: &str,
    endpoint: &str,
    extra: &[(&str, &str)],
) -> LakeCmd {
    let mut cmd = dir.lake_with_home(dir.path().join(home));
    server.apply(&mut cmd, url);
    cmd.env("LAKE_STORE_OPT_AWS_ENDPOINT", endpoint);
    for (k, v) in extra {
        cmd.env(format!("LAKE_STORE_OPT_{}", k.to_ascii_uppercase()), v);
    }
    cmd
}

const FAST_BACKOFF: [(&str, &str); 2] = [("init_backoff", "10ms"), ("max_backoff", "100ms")];

fn one_error_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line of error expected:\n{stderr}");
    assert!(lines[0].starts_with("lake: error: "), "{stderr}");
    lines[0]
}

/// Deterministic bytes that no other test produces.
fn pseudo_random(len: usize, seed: &str) -> Vec<u8> {
    let mut x = seed.bytes().fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    });
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

// ------------------------------------------------------------------ tests

#[test]
fn answers_of_500_are_retried_up_to_max_retries() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let url = server.fresh_url("faults-500");
    let src = dir.write("a.txt", format!("retry me {url}"));

    // Three 500s, four retries allowed: success.
    let proxy = Proxy::start(0, moto_addr(&server), 3, None);
    let mut retry = FAST_BACKOFF.to_vec();
    retry.extend([("max_retries", "4"), ("retry_timeout", "30s")]);
    lake_via(&dir, "home-a", &server, &url, &proxy.endpoint(), &retry)
        .arg("add")
        .arg(&src)
        .arg("f/a.txt")
        .ok();
    assert_eq!(proxy.state.faults_sent.load(Ordering::SeqCst), 3);
    let text = lake_via(&dir, "home-b", &server, &url, &proxy.endpoint(), &retry)
        .args(["cat", "f/a.txt"])
        .ok();
    assert_eq!(text, format!("retry me {url}"));
    drop(proxy);

    // Every answer a 500 and no retries: one clear line, quickly.
    let proxy = Proxy::start(0, moto_addr(&server), usize::MAX, None);
    let src = dir.write("b.txt", format!("never stored {url}"));
    let started = Instant::now();
    let stderr = lake_via(
        &dir,
        "home-a",
        &server,
        &url,
        &proxy.endpoint(),
        &[("max_retries", "0")],
    )
    .arg("add")
    .arg(&src)
    .arg("f/b.txt")
    .fails();
    let elapsed = started.elapsed();
    let line = one_error_line(&stderr);
    assert!(
        line.contains("500") || line.to_ascii_lowercase().contains("internal server error"),
        "{line}"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(
        proxy.state.faults_sent.load(Ordering::SeqCst),
        1,
        "no retry"
    );
    eprintln!("max_retries=0 against 500s failed in {elapsed:.1?}: {line}");
}

#[test]
fn server_gone_mid_upload_fails_clearly_then_the_same_add_succeeds() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let url = server.fresh_url("faults-gone");
    let big = dir.write("big.bin", pseudo_random(32 << 20, &url));
    let options = [
        ("max_retries", "2"),
        ("retry_timeout", "3s"),
        ("timeout", "5s"),
        ("connect_timeout", "2s"),
        ("init_backoff", "50ms"),
        ("max_backoff", "200ms"),
    ];

    let mut proxy = Proxy::start(0, moto_addr(&server), 0, Some(Duration::from_millis(2)));
    let port = proxy.port;
    let endpoint = proxy.endpoint();
    let mut add = lake_via(&dir, "home-a", &server, &url, &endpoint, &options);
    add.arg("add").arg(&big).arg("f/big.bin").arg("--quiet");
    let mut child = add.spawn_piped();
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.state.bytes_up.load(Ordering::SeqCst) < 4 << 20 {
        assert!(Instant::now() < deadline, "the upload never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "lake add ended before the server went away"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let sent = proxy.state.bytes_up.load(Ordering::SeqCst);
    let stopped_at = Instant::now();
    proxy.stop();
    let out = child.wait_with_output().unwrap();
    let elapsed = stopped_at.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the add should fail:\n{stderr}");
    let line = one_error_line(&stderr).to_owned();
    assert!(
        elapsed < Duration::from_secs(30),
        "failed only after {elapsed:?}"
    );
    eprintln!(
        "server gone after {} MiB of 32: failed in {elapsed:.1?}: {line}",
        sent >> 20
    );

    // Restart on the same port: nothing was made visible, and the very
    // same command now succeeds.
    let proxy = Proxy::start(port, moto_addr(&server), 0, None);
    let listed = lake_via(&dir, "home-b", &server, &url, &endpoint, &options)
        .args(["ls", "-r", "--json", "--refresh"])
        .json_lines();
    assert_eq!(listed, serde_json::json!([]), "a failed add leaves no name");
    add.ok();
    let report = lake_via(&dir, "home-c", &server, &url, &endpoint, &options)
        .args(["verify", "--store", "--json"])
        .json();
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert_eq!(report["ok"], serde_json::json!(["f/big.bin"]), "{report}");
    drop(proxy);
}

#[test]
fn tampered_blob_is_refused_and_never_cached() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let url = server.fresh_url("faults-tamper");
    let content = format!("the true content {url}\n").repeat(100);
    let src = dir.write("t.txt", &content);
    let endpoint = server.option("aws_endpoint").unwrap().to_owned();
    let lake = |home: &str| lake_via(&dir, home, &server, &url, &endpoint, &[]);
    lake("home-a").arg("add").arg(&src).arg("t/x.txt").ok();
    let hex = lake("home-a").args(["info", "t/x.txt", "--json"]).json()["blake3"]
        .as_str()
        .unwrap()
        .to_owned();

    // Overwrite blobs/<hex> behind lake's back (moto checks no signature).
    let key = url.strip_prefix("s3://").unwrap();
    let forged = content.replace("true", "fake");
    assert_eq!(forged.len(), content.len());
    let status = raw_put(
        moto_addr(&server),
        &format!("/{key}/blobs/{hex}"),
        forged.as_bytes(),
    );
    assert_eq!(status, 200);

    let stderr = lake("home-b").args(["cat", "t/x.txt"]).fails();
    let line = one_error_line(&stderr);
    assert!(line.contains("corrupt") && line.contains(&hex), "{line}");
    assert!(
        dir.home_blobs(dir.path().join("home-b")).is_empty(),
        "a corrupt download entered the cache"
    );
    lake("home-b").args(["local-path", "t/x.txt"]).fails();
    assert!(dir.home_blobs(dir.path().join("home-b")).is_empty());
    // The home that added it still has the true bytes, and `verify --store`
    // names the bad object.
    assert_eq!(lake("home-a").args(["cat", "t/x.txt"]).ok(), content);
    let out = lake("home-a")
        .args(["verify", "--store", "--json"])
        .output();
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["place"], "store", "{report}");
}

/// A `PUT` straight to the S3 server with a dummy signature (moto checks
/// none, but refuses anonymous overwrites); returns the status code.
fn raw_put(addr: SocketAddr, path: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=00\r\n\
         x-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: 20260101T000000Z\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
