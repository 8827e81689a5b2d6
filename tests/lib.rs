//! Helpers for the end-to-end tests in `tests/`.
//!
//! # Overview
//! Every test gets a [`TestDir`]: a fresh temporary directory holding a home
//! (`<dir>/home`) and a `file://` store (`<dir>/store`). [`TestDir::lake`]
//! returns a [`LakeCmd`], a builder that runs the `lake` binary with
//! `LAKE_HOME` and `LAKE_STORE` pointing there, every inherited `LAKE_*`
//! variable removed, `HOME`/`XDG_*` pointing into the temp dir (so neither the
//! default home nor the git identity leaks in from the machine) and the temp
//! dir as the working directory. This is ripgrep's `TestCommand` habit
//! (STYLE 35).
//!
//! # Quick start
//! ```no_run
//! let t = lake_tests::TestDir::new();
//! let src = t.write("a.txt", b"hello");
//! t.lake().args(["add"]).arg(&src).arg("docs/a.txt").ok();
//! assert_eq!(t.lake().args(["cat", "docs/a.txt"]).ok(), "hello");
//! ```
//!
//! # The binary
//! The `lake` binary belongs to `lake-runtime`, so `env!("CARGO_BIN_EXE_lake")`
//! is not available in this package. [`lake_bin`] looks for it next to the
//! test executable's parent (`target/<profile>/lake`, given that tests run from
//! `target/<profile>/deps/`). `cargo test --workspace` builds it; with
//! `cargo test -p lake-tests`, run `cargo build -p lake-runtime --bin lake`
//! first. `LAKE_TEST_BIN` overrides the location.
//!
//! # Configuration
//! - `LAKE_TEST_BIN`: path of the `lake` binary to test.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The `lake` binary under test; panics with instructions if it is missing
/// or is not the real command line (checked once, with `lake --version`).
pub fn lake_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = find_lake_bin();
        // A shared target directory can hold another checkout's `lake`
        // (a stub `fn main() {}` in a worktree, say): refuse it up front
        // rather than let every test fail on empty output.
        let version = Command::new(&bin)
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
        assert!(
            String::from_utf8_lossy(&version.stdout).starts_with("lake "),
            "{} is not the lake command line (`--version` printed {:?}); rebuild it with \
             `cargo build -p lake-runtime --bin lake` or point LAKE_TEST_BIN at it",
            bin.display(),
            String::from_utf8_lossy(&version.stdout)
        );
        bin
    })
    .clone()
}

fn find_lake_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("LAKE_TEST_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/lake
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("lake{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the lake binary is missing at {}; build it with `cargo build -p lake-runtime --bin lake` \
         (or run `cargo test --workspace`, which builds it), or set LAKE_TEST_BIN",
        bin.display()
    );
    bin
}

/// A temporary directory with a home and a `file://` store in it.
#[derive(Debug)]
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TestDir {
    /// A fresh directory. The home and store are created by `lake` on first use.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lake-test-")
            .tempdir()
            .expect("create a temp dir");
        // A git identity of our own, so lineage's "added by" is predictable
        // and the machine's ~/.gitconfig does not leak into tests.
        std::fs::create_dir_all(dir.path().join("userhome")).unwrap();
        std::fs::write(
            dir.path().join("userhome/.gitconfig"),
            format!("[user]\n\temail = {TEST_EMAIL}\n"),
        )
        .unwrap();
        Self { dir }
    }

    /// The temp dir (also the working directory of every command).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The default home of the tests: `<dir>/home`.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// The directory of the default store: `<dir>/store`.
    pub fn store_dir(&self) -> PathBuf {
        self.path().join("store")
    }

    /// `file://<dir>/store`.
    pub fn store_url(&self) -> String {
        format!("file://{}", self.store_dir().display())
    }

    /// `lake` with `LAKE_HOME=<dir>/home` and `LAKE_STORE=file://<dir>/store`.
    pub fn lake(&self) -> LakeCmd {
        self.lake_with_home(self.home())
    }

    /// `lake` with another home on the same store (a "second machine").
    pub fn lake_with_home(&self, home: impl AsRef<Path>) -> LakeCmd {
        let mut cmd = self.lake_bare();
        cmd.env("LAKE_HOME", home.as_ref())
            .env("LAKE_STORE", self.store_url());
        cmd
    }

    /// `lake` with no `LAKE_HOME` or `LAKE_STORE`: only the isolation (no
    /// inherited `LAKE_*`, `HOME` and `XDG_DATA_HOME` in the temp dir).
    /// The default home is then `<dir>/xdg-data/lake`.
    pub fn lake_bare(&self) -> LakeCmd {
        let mut cmd = Command::new(lake_bin());
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if key_str.starts_with("LAKE_")
                || key_str.starts_with("XDG_")
                || key_str.to_ascii_lowercase().ends_with("_proxy")
                || key_str.starts_with("GIT_")
                || key_str == "RUST_LOG"
            {
                cmd.env_remove(&key);
            }
        }
        let userhome = self.path().join("userhome");
        cmd.current_dir(self.path())
            .env("HOME", &userhome)
            .env("XDG_DATA_HOME", self.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", userhome.join(".config"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("USER", "tester")
            .env("NO_COLOR", "1");
        LakeCmd { cmd }
    }

    /// Writes `bytes` to `<dir>/<rel>` (creating parents) and returns the path.
    pub fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// The files in `<home>/blobs/`, sorted.
    pub fn home_blobs(&self, home: impl AsRef<Path>) -> Vec<PathBuf> {
        files_in(&home.as_ref().join("blobs"))
    }

    /// `<home>/blobs/<hex>`.
    pub fn home_blob(&self, hex: &str) -> PathBuf {
        self.home().join("blobs").join(hex)
    }

    /// `<store>/blobs/<hex>`.
    pub fn store_blob(&self, hex: &str) -> PathBuf {
        self.store_dir().join("blobs").join(hex)
    }

    /// The files in `<store>/names/` and `<store>/blobs/`, recursively.
    pub fn store_files(&self) -> Vec<PathBuf> {
        let mut out = files_in_recursive(&self.store_dir().join("names"));
        out.extend(files_in_recursive(&self.store_dir().join("blobs")));
        out
    }
}

/// The git `user.email` every test command sees.
pub const TEST_EMAIL: &str = "tester@lake.test";

/// The regular files directly in `dir`, sorted (empty if `dir` is missing).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// The regular files below `dir`, sorted (empty if `dir` is missing).
pub fn files_in_recursive(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Makes `path` writable (cached copies are read-only) and replaces its bytes.
pub fn overwrite(path: &Path, bytes: impl AsRef<[u8]>) {
    let mut perms = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)] // test files in a temp dir
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Replaces `path` with a new file (a new inode) holding `bytes`, leaving
/// any other hard link to the old file untouched.
pub fn replace(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::remove_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::write(path, bytes).unwrap();
}

/// A `lake` invocation being built.
pub struct LakeCmd {
    cmd: Command,
}

impl fmt::Debug for LakeCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "lake")?;
        for arg in self.cmd.get_args() {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

impl LakeCmd {
    /// Adds one argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env(key, value);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.cmd.env_remove(key);
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.cmd.current_dir(dir);
        self
    }

    /// Runs it and returns whatever happened.
    pub fn output(&mut self) -> Output {
        self.cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"))
    }

    /// Runs it, asserts success, returns stdout as bytes.
    pub fn ok_bytes(&mut self) -> Vec<u8> {
        let out = self.output();
        assert!(
            out.status.success(),
            "{self:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Runs it, asserts success, returns stdout.
    pub fn ok(&mut self) -> String {
        String::from_utf8(self.ok_bytes()).expect("stdout is UTF-8")
    }

    /// Runs it, asserts a non-zero exit, returns stderr.
    pub fn fails(&mut self) -> String {
        let out = self.output();
        assert!(
            !out.status.success(),
            "{self:?} succeeded but should have failed\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs it, asserts success, parses stdout as JSON.
    pub fn json(&mut self) -> serde_json::Value {
        let stdout = self.ok();
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{self:?} printed invalid JSON ({e}):\n{stdout}"))
    }

    /// Runs it, asserts success, parses stdout as JSON Lines (what `ls`,
    /// `status` and `creators` print with `--json`): an array of the lines'
    /// objects. Each line must be one compact object.
    pub fn json_lines(&mut self) -> serde_json::Value {
        let stdout = self.ok();
        let rows = stdout
            .lines()
            .map(|line| {
                let row: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!("{self:?} printed a line that is not JSON ({e}): {line:?}\n{stdout}")
                });
                assert!(
                    row.is_object(),
                    "{self:?}: a JSON line is not an object: {line}"
                );
                row
            })
            .collect();
        serde_json::Value::Array(rows)
    }
}

/// The top-level fields of the JSON shape that `docs/json.md` documents
/// under `<!-- shape: KIND -->`, read from its example.
pub fn documented_json_fields(kind: &str) -> std::collections::BTreeSet<String> {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/json.md");
    let doc = std::fs::read_to_string(&doc_path).expect("docs/json.md");
    let marker = format!("<!-- shape: {kind} -->");
    let after = doc
        .split_once(&marker)
        .unwrap_or_else(|| panic!("docs/json.md documents no shape {kind:?}"))
        .1;
    let block = after
        .split_once("```json\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .unwrap_or_else(|| panic!("docs/json.md: no json block after {marker}"))
        .0;
    let example: serde_json::Value = serde_json::from_str(block)
        .unwrap_or_else(|e| panic!("docs/json.md: the {kind} example is not JSON: {e}"));
    example
        .as_object()
        .unwrap_or_else(|| panic!("docs/json.md: the {kind} example is not an object"))
        .keys()
        .cloned()
        .collect()
}

/// The top-level fields of one JSON object.
pub fn json_fields(value: &serde_json::Value) -> std::collections::BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// The names in a `lake ls --json` listing, in its order.
pub fn names_in_json(listing: &serde_json::Value) -> Vec<String> {
    listing
        .as_array()
        .expect("ls --json prints an array")
        .iter()
        .map(|e| {
            e["name"]
                .as_str()
                .expect("a listed name is a string")
                .to_owned()
        })
        .collect()
}

/// A canned HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that serves fixed responses by path
/// and answers 404 with an HTML error page for anything else. It runs on a
/// detached thread until the test process exits.
#[derive(Debug)]
pub struct HttpServer {
    port: u16,
}

/// The body of the server's 404 page, which must never be stored.
pub const NOT_FOUND_PAGE: &str = "<html><body><h1>404 Not Found</h1></body></html>";

impl HttpServer {
    /// Starts serving `routes` (path → response).
    pub fn start(routes: impl IntoIterator<Item = (&'static str, Response)>) -> Self {
        let routes: BTreeMap<String, Response> =
            routes.into_iter().map(|(p, r)| (p.to_owned(), r)).collect();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let path = read_request_path(&mut stream);
                let response = routes.get(&path).cloned().unwrap_or(Response {
                    status: 404,
                    body: NOT_FOUND_PAGE.as_bytes().to_vec(),
                });
                let reason = match response.status {
                    200 => "OK",
                    404 => "Not Found",
                    500 => "Internal Server Error",
                    _ => "Other",
                };
                let head = format!(
                    "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    response.status,
                    response.body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&response.body);
                let _ = stream.flush();
            }
        });
        Self { port }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Reads the request head and returns its path ("" if unreadable).
fn read_request_path(stream: &mut std::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            break;
        }
    }
    let head = String::from_utf8_lossy(&head);
    head.lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("")
        .to_owned()
}

// ------------------------------------------------------- real test servers

/// A real object-store server for the tests, from `LAKE_TEST_<X>_URL` and
/// `LAKE_TEST_<X>_OPTS` (comma-separated `key=value` store options), as
/// exported by `scripts/servers`.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// `MOTO`, `S3S` or `AZURITE`.
    pub kind: String,
    /// The store URL, e.g. `s3://lake-test`.
    pub url: String,
    /// The store options.
    pub options: Vec<(String, String)>,
}

impl TestServer {
    /// The server `kind` if its variables are set. Otherwise prints a loud
    /// skip message and returns `None`, or panics when `CI=true`, where every
    /// server must be present.
    pub fn from_env(kind: &str) -> Option<Self> {
        let url = std::env::var(format!("LAKE_TEST_{kind}_URL")).ok();
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            let message = format!(
                "LAKE_TEST_{kind}_URL is not set: SKIPPING this test against {kind}; \
                 start the servers with scripts/servers"
            );
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{message} (CI=true requires it)"
            );
            eprintln!("=== {message} ===");
            return None;
        };
        let options = std::env::var(format!("LAKE_TEST_{kind}_OPTS"))
            .unwrap_or_default()
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect();
        Some(Self {
            kind: kind.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
            options,
        })
    }

    /// A store URL below a fresh, unique prefix, so tests never collide.
    pub fn fresh_url(&self, tag: &str) -> String {
        format!("{}/{}", self.url, unique_prefix(tag))
    }

    /// The value of option `key`, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The options as `lake_runtime` store options (environment ignored).
    pub fn store_options(&self) -> lake_runtime::store::StoreOptions {
        self.options
            .iter()
            .fold(lake_runtime::store::StoreOptions::new(), |o, (k, v)| {
                o.with(k, v)
            })
    }

    /// The options as `(LAKE_STORE_OPT_<KEY>, value)` variables.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.options
            .iter()
            .map(|(k, v)| {
                (
                    format!("LAKE_STORE_OPT_{}", k.to_ascii_uppercase()),
                    v.clone(),
                )
            })
            .collect()
    }

    /// Points `cmd` at `store_url` on this server.
    pub fn apply(&self, cmd: &mut LakeCmd, store_url: &str) {
        cmd.env("LAKE_STORE", store_url);
        for (k, v) in self.env_vars() {
            cmd.env(k, v);
        }
    }
}

/// The stores the file-and-server tests run against: `None` for the test
/// dir's `file://` store, then moto and Azurite when `scripts/servers start`
/// describes them (a missing one is skipped loudly, or fails under
/// `CI=true`, as [`TestServer::from_env`] does).
pub fn file_moto_azurite() -> Vec<Option<TestServer>> {
    let mut out = vec![None];
    out.extend(
        ["MOTO", "AZURITE"]
            .map(TestServer::from_env)
            .into_iter()
            .flatten()
            .map(Some),
    );
    out
}

/// `<tag>-<pid>-<nanos>-<counter>`: unique across processes and calls.
pub fn unique_prefix(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{tag}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The example binary `name`, built next to the `lake` binary
/// (`cargo build -p lake-examples --examples`).
pub fn example_bin(name: &str) -> PathBuf {
    let bin = lake_bin()
        .parent()
        .expect("lake lives in target/<profile>")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing; run `cargo test --workspace` or `cargo build -p lake-examples --examples`",
        bin.display()
    );
    bin
}

impl TestDir {
    /// Runs the example `name` on this directory's home and store, with a
    /// clean environment, as a user would from this directory; returns its
    /// stdout and panics, showing both streams, if it fails.
    pub fn run_example(&self, name: &str) -> String {
        let out = Command::new(example_bin(name))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("LAKE_HOME", self.home())
            .env("LAKE_STORE", self.store_url())
            .current_dir(self.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run the {name} example: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "the {name} example failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

impl LakeCmd {
    /// The command itself, for a test that runs it some other way (in a
    /// pseudo-terminal, say).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Starts it without waiting, stdout and stderr piped (for tests that
    /// act while the command runs).
    pub fn spawn_piped(&mut self) -> std::process::Child {
        self.cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"))
    }
}

// ------------------------------------------------------------------ batches

/// Writes batch `id` into the `file://` store at `store_dir`: one call of
/// `lake_batch_pipeline::scale` (tests/bin/batch_pipeline.rs) described by
/// other code (a code hash no build has), as a driver built from another
/// commit would store it (docs/design/0012). Returns the batch's directory.
pub fn foreign_batch(store_dir: &Path, id: &str) -> PathBuf {
    let spec = serde_json::json!({
        "schema_version": 1,
        "calls": [{
            "creator": "lake_batch_pipeline::scale",
            "code": { "hash": "0123456789abcdef0123456789abcdef" },
            "key": "00".repeat(32),
            "args": [],
            "inputs": [],
            "explicit_outputs": null
        }]
    });
    let dir = store_dir.join("batches").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("calls.json"), spec.to_string()).unwrap();
    dir
}

/// Chunk `index` (1 MiB) of the content `lake-stream-write` streams: one
/// pseudo-random MiB, with the chunk's index in its first 8 bytes so no two
/// chunks are equal and a reordered or repeated part changes the digest.
pub fn streamed_chunk(index: u64, chunk: &mut [u8]) {
    use std::sync::OnceLock;
    static BLOCK: OnceLock<Vec<u8>> = OnceLock::new();
    let block = BLOCK.get_or_init(|| {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        (0..1 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect()
    });
    chunk.copy_from_slice(block);
    chunk[..8].copy_from_slice(&index.to_le_bytes());
}

// ------------------------------------------------------------ named stores

/// One `[stores.NAME]` table of a test's `lake.toml`.
#[derive(Debug, Clone)]
pub struct NamedStoreSpec {
    /// The store's name.
    pub name: String,
    /// Its URL.
    pub url: String,
    /// Its store options (written as keys of its table).
    pub options: Vec<(String, String)>,
}

impl NamedStoreSpec {
    /// A store `name` at `url`, with `options`.
    pub fn new(name: &str, url: impl Into<String>, options: &[(String, String)]) -> Self {
        Self {
            name: name.to_owned(),
            url: url.into(),
            options: options.to_vec(),
        }
    }

    /// A store `name` on `server` (a fresh prefix), or, with no server, a
    /// `file://` directory `<dir>/stores/<name>`.
    pub fn on(name: &str, server: Option<&TestServer>, dir: &Path) -> Self {
        match server {
            Some(server) => Self::new(name, server.fresh_url(name), &server.options),
            None => Self::new(
                name,
                format!("file://{}", dir.join("stores").join(name).display()),
                &[],
            ),
        }
    }

    /// A store nothing answers: an S3 endpoint on a loopback port that
    /// nobody listens on, with retries off, so it fails at once.
    pub fn down(name: &str) -> Self {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let options = [
            ("aws_endpoint", format!("http://127.0.0.1:{port}")),
            ("aws_access_key_id", "down".to_owned()),
            ("aws_secret_access_key", "down-secret".to_owned()),
            ("aws_region", "us-east-1".to_owned()),
            ("aws_allow_http", "true".to_owned()),
            ("max_retries", "0".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec();
        Self::new(name, "s3://down-bucket/lake", &options)
    }
}

/// The text of a `lake.toml` naming `stores`, the first the default, with
/// `extra` (e.g. a `read_order` line) before the tables.
pub fn stores_toml(stores: &[NamedStoreSpec], extra: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    let mut text = format!("default_store = {}\n{extra}\n", quote(&stores[0].name));
    for store in stores {
        text.push_str(&format!(
            "[stores.{}]\nurl = {}\n",
            store.name,
            quote(&store.url)
        ));
        for (k, v) in &store.options {
            text.push_str(&format!("{k} = {}\n", quote(v)));
        }
    }
    text
}

impl TestDir {
    /// `lake` with home `<dir>/<home>` and the stores of `<dir>/lake.toml`
    /// (no `LAKE_STORE`, which would replace the default store's URL).
    pub fn lake_named(&self, home: &str) -> LakeCmd {
        let mut cmd = self.lake_bare();
        cmd.env("LAKE_HOME", self.path().join(home));
        cmd
    }

    /// Writes `<dir>/lake.toml` naming `stores` (see [`stores_toml`]).
    pub fn write_stores(&self, stores: &[NamedStoreSpec], extra: &str) {
        self.write("lake.toml", stores_toml(stores, extra));
    }
}

// ------------------------------------------------ the cluster example

/// One `stage N: <report>` line of the cluster example
/// (examples/examples/cluster.rs), which prints `BatchReport`'s `Display`:
/// `200 calls, 200 distinct, 0 done before, 200 dispatched, 1 job(s)
/// submitted (12)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageReport {
    /// Calls added.
    pub calls: usize,
    /// Calls done before the stage ran.
    pub done_before: usize,
    /// Calls handed to the executor.
    pub dispatched: usize,
    /// Slurm jobs submitted.
    pub jobs: usize,
}

impl StageReport {
    /// A report of `calls` calls of which `dispatched` ran in `jobs` jobs.
    pub fn new(calls: usize, dispatched: usize, jobs: usize) -> Self {
        Self {
            calls,
            done_before: calls - dispatched,
            dispatched,
            jobs,
        }
    }
}

/// The two stage reports in the cluster example's stdout, in order.
pub fn stage_reports(stdout: &str) -> [StageReport; 2] {
    let parse = |stage: &str| -> StageReport {
        let prefix = format!("stage {stage}: ");
        // Anywhere in a line: on a terminal, stderr's bar shares the lines.
        let line = stdout
            .lines()
            .find_map(|l| l.split_once(&prefix).map(|(_, rest)| rest.trim_end()))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"));
        // "<n> calls, <n> distinct, <n> done before, <n> dispatched, <n> job(s) submitted…"
        let number = |what: &str| -> usize {
            line.split(", ")
                .find_map(|part| part.split_once(what).map(|(n, _)| n))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("no `{what}` in {line:?}"))
        };
        StageReport {
            calls: number(" calls"),
            done_before: number(" done before"),
            dispatched: number(" dispatched"),
            jobs: number(" job(s) submitted"),
        }
    };
    [parse("1"), parse("2")]
}

/// The cluster example's result lines (`station-NN window=…`), in order.
pub fn station_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("station-"))
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// Changes one reading of a station file of the cluster example (a new
/// value on day 100): that station's stage 1 and stage 2 results change.
pub fn change_a_reading(station: &Path) {
    let text = std::fs::read_to_string(station).unwrap();
    let changed: String = text
        .lines()
        .map(|l| match l.strip_prefix("100,") {
            Some(_) => "100,99.50".to_owned(),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(
        changed.trim_end(),
        text.trim_end(),
        "{} has no day 100",
        station.display()
    );
    std::fs::write(station, changed + "\n").unwrap();
}

/// Adds a `#` comment line to a station file: the file changes, so its
/// stage 1 calls run again, but they make the same bytes, so its stage 2
/// call does not (early cutoff, seen only because stage 2 is planned after
/// stage 1 ran).
pub fn add_a_comment(station: &Path) {
    let mut text = std::fs::read_to_string(station).unwrap();
    text.push_str("# recalibrated sensor, readings unchanged\n");
    std::fs::write(station, text).unwrap();
}
