//! Invariant 8, no secrets in output: distinctive fake credentials planted in
//! the environment (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), in store
//! options (`LAKE_STORE_OPT_*`), in a store URL's userinfo and query, and in
//! an added http URL's userinfo and query. Every command runs at
//! `RUST_LOG=trace`; none of the secrets may appear in stdout, stderr, the
//! lineage (`info --json`), `ls --json`, or any file of the homes.
//!
//! The store is moto when `LAKE_TEST_MOTO_*` is set (skips loudly otherwise).

use std::process::Output;

use lake_tests::{HttpServer, LakeCmd, Response, TestDir, TestServer, files_in_recursive};

const ENV_SECRET: &str = "EnvSecretQz81xWvL0";
const ENV_TOKEN: &str = "EnvSessionTokR55p";
const OPT_SECRET: &str = "OptSecretKp27mNbT4";
const OPT_TOKEN: &str = "OptSessionTokJj90";
const URL_PASSWORD: &str = "UrlPassSecretHh61";
const URL_TOKEN: &str = "UrlQueryTokenYy42";
const HTTP_PASSWORD: &str = "HttpPassSecretGg73";
const HTTP_TOKEN: &str = "HttpQueryTokenFf15";
const FAIL_PASSWORD: &str = "FailPassSecretDd08";
const FAIL_TOKEN: &str = "FailQueryTokenCc29";
const WEB_STORE_PASSWORD: &str = "WebStorePassWw58";

const SECRETS: &[&str] = &[
    ENV_SECRET,
    ENV_TOKEN,
    OPT_SECRET,
    OPT_TOKEN,
    URL_PASSWORD,
    URL_TOKEN,
    HTTP_PASSWORD,
    HTTP_TOKEN,
    FAIL_PASSWORD,
    FAIL_TOKEN,
    WEB_STORE_PASSWORD,
];

struct Transcript {
    text: String,
    commands: usize,
}

impl Transcript {
    fn record(&mut self, what: &str, out: &Output) {
        self.commands += 1;
        self.text.push_str(&format!(
            "\n===== {what} ({})\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    fn run(&mut self, what: &str, cmd: &mut LakeCmd, expect_ok: bool) -> Output {
        let out = cmd.output();
        assert_eq!(
            out.status.success(),
            expect_ok,
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.record(what, &out);
        out
    }
}

fn assert_no_secrets(haystack: &str, place: &str) {
    for secret in SECRETS {
        if let Some(at) = haystack.find(secret) {
            let start = haystack[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            let end = (at + secret.len() + 200).min(haystack.len());
            panic!(
                "secret {secret:?} leaked in {place}:\n…{}…",
                haystack.get(start..end).unwrap_or("<non-utf8 boundary>")
            );
        }
    }
}

#[test]
fn planted_credentials_never_appear_in_output_lineage_or_home() {
    let Some(server) = TestServer::from_env("MOTO") else {
        return;
    };
    let dir = TestDir::new();
    let url = server.fresh_url("secrets");
    let lake = |home: &str, store_url: &str| {
        let mut cmd = dir.lake_with_home(dir.path().join(home));
        server.apply(&mut cmd, store_url);
        cmd.env("RUST_LOG", "trace")
            .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
            .env("AWS_SESSION_TOKEN", ENV_TOKEN)
            .env("LAKE_STORE_OPT_AWS_SECRET_ACCESS_KEY", OPT_SECRET)
            .env("LAKE_STORE_OPT_AWS_SESSION_TOKEN", OPT_TOKEN);
        cmd
    };
    let http = HttpServer::start([(
        // The server matches the whole request target, query included.
        Box::leak(format!("/data.txt?token={HTTP_TOKEN}").into_boxed_str()) as &'static str,
        Response {
            status: 200,
            body: b"fetched over http\n".to_vec(),
        },
    )]);
    let http_url = http
        .url(&format!("/data.txt?token={HTTP_TOKEN}"))
        .replace("http://", &format!("http://alice:{HTTP_PASSWORD}@"));
    let failing_url = http
        .url(&format!("/missing?token={FAIL_TOKEN}"))
        .replace("http://", &format!("http://bob:{FAIL_PASSWORD}@"));
    let src = dir.write("a.txt", "plain content\n");

    let mut t = Transcript {
        text: String::new(),
        commands: 0,
    };
    t.run(
        "add file",
        lake("home-a", &url).arg("add").arg(&src).arg("s/a.txt"),
        true,
    );
    t.run(
        "add url",
        lake("home-a", &url).args(["add", &http_url, "s/web.txt"]),
        true,
    );
    t.run("ls", lake("home-a", &url).args(["ls", "-r"]), true);
    t.run(
        "ls json",
        lake("home-a", &url).args(["ls", "-r", "--json"]),
        true,
    );
    for name in ["s/a.txt", "s/web.txt"] {
        t.run("info", lake("home-a", &url).args(["info", name]), true);
        let out = t.run(
            "info json",
            lake("home-a", &url).args(["info", name, "--json"]),
            true,
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["lineage"].is_object(), "{json}");
        if name == "s/web.txt" {
            // The lineage keeps the source, so its lack of secrets means
            // redaction, not omission.
            let source = json["lineage"]["source"].as_str().unwrap_or_default();
            assert!(source.contains("/data.txt"), "{json}");
        }
    }
    t.run("cat", lake("home-b", &url).args(["cat", "s/web.txt"]), true);
    t.run(
        "verify",
        lake("home-b", &url).args(["verify", "--store"]),
        true,
    );

    // Annotations and pointers (issue 13): a pointer carries the store URL,
    // which must arrive without credentials.
    t.run(
        "tag",
        lake("home-a", &url).args(["tag", "s/a.txt", "site=north"]),
        true,
    );
    t.run(
        "label",
        lake("home-b", &url).args(["label", "s/a.txt", "checked"]),
        true,
    );
    t.run(
        "ls by tag",
        lake("home-b", &url).args(["ls", "-r", "--tag", "site=north", "--label", "checked"]),
        true,
    );
    let pointer = t.run(
        "pointer",
        lake("home-a", &url).args(["pointer", "s/a.txt"]),
        true,
    );
    let pointer_file = dir.write("a.pointer.json", &pointer.stdout);
    t.run(
        "cat pointer",
        lake("home-b", &url)
            .arg("cat")
            .arg("--pointer")
            .arg(&pointer_file),
        true,
    );

    // Failing commands: a missing name, a URL that answers 404, an
    // unreachable store.
    t.run(
        "cat missing",
        lake("home-a", &url).args(["cat", "s/none"]),
        false,
    );
    t.run(
        "add 404",
        lake("home-a", &url).args(["add", &failing_url, "s/x"]),
        false,
    );
    t.run(
        "unreachable store",
        lake("home-c", &url)
            .env("LAKE_STORE_OPT_AWS_ENDPOINT", "http://127.0.0.1:9")
            .env("LAKE_STORE_OPT_MAX_RETRIES", "0")
            .args(["ls", "-r", "--refresh"]),
        false,
    );

    // A store URL carrying credentials in its userinfo and query: whether
    // the backend accepts it or not, they must not be echoed.
    let (bucket_and_prefix, _) = (url.trim_start_matches("s3://"), ());
    let (bucket, prefix) = bucket_and_prefix.split_once('/').unwrap();
    let secret_url = format!("s3://user:{URL_PASSWORD}@{bucket}/{prefix}?token={URL_TOKEN}");
    for (what, args) in [
        ("ls via secret url", vec!["ls", "-r", "--refresh"]),
        ("info via secret url", vec!["info", "s/a.txt", "--json"]),
        ("cat via secret url", vec!["cat", "s/a.txt"]),
        ("pointer via secret url", vec!["pointer", "s/a.txt"]),
        ("bad name via secret url", vec!["cat", "../escape"]),
    ] {
        let out = lake("home-d", &secret_url).args(&args).output();
        t.record(what, &out);
    }
    t.run(
        "bad scheme with secrets",
        lake(
            "home-e",
            &format!("ftp://user:{URL_PASSWORD}@host/p?token={URL_TOKEN}"),
        )
        .args(["ls"]),
        false,
    );

    // An http(s) store whose URL carries user-info, with the HTTP stack's
    // own logging asked for by name (issue 17: 22 hyper_util lines printed
    // `u:PASS@…`). The user-info must go out as a header, and every line,
    // a dependency's too, goes through the redactor.
    let web_store = http
        .url("/store")
        .replace("http://", &format!("http://u:{WEB_STORE_PASSWORD}@"));
    let out = lake("home-f", &web_store)
        .env(
            "RUST_LOG",
            "trace,hyper=trace,hyper_util=trace,reqwest=trace,h2=trace",
        )
        .env("LAKE_STORE_OPT_MAX_RETRIES", "0")
        .args(["ls", "-r", "--refresh"])
        .output();
    t.record("web store with user-info", &out);

    assert!(
        t.text.contains("TRACE") || t.text.contains("DEBUG"),
        "RUST_LOG=trace took effect"
    );
    assert_no_secrets(&t.text, "command output");
    let mut files = 0;
    for path in files_in_recursive(dir.path()) {
        if path.starts_with(dir.path().join("userhome")) || path == src {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert_no_secrets(
            &String::from_utf8_lossy(&bytes),
            &path.display().to_string(),
        );
        files += 1;
    }
    eprintln!(
        "{} planted secrets: none in the output of {} commands at RUST_LOG=trace ({} bytes) \
         nor in {files} home files",
        SECRETS.len(),
        t.commands,
        t.text.len()
    );
}
