//! `lake config` as a user runs it: each setting with where it came from
//! (a flag, the environment, `lake.toml`, the default), secrets hidden.
//!
//! See: issue 14 (item 4).

use lake_tests::TestDir;

#[test]
fn lake_config_shows_each_value_and_its_origin_without_secrets() {
    let t = TestDir::new();
    let secret = "config-secret-81c2f7";
    t.write(
        "lake.toml",
        format!(
            "store = \"s3://bucket/lake\"\nrefresh_secs = 5\n[store_options]\n\
             aws_region = \"eu-west-1\"\naws_secret_access_key = \"{secret}\"\n"
        ),
    );
    let text = t
        .lake_bare()
        .env("LAKE_HOME", t.path().join("from-env"))
        .env("LAKE_STORE_OPT_MAX_RETRIES", "2")
        .arg("config")
        .ok();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} line in:\n{text}"))
            .to_owned()
    };
    assert!(line("config file").contains("lake.toml"), "{text}");
    assert!(line("home").ends_with("environment LAKE_HOME"), "{text}");
    assert!(line("store ").contains("s3://bucket/lake"), "{text}");
    assert!(line("store ").ends_with("lake.toml: store"), "{text}");
    assert!(
        line("refresh_secs").ends_with("lake.toml: refresh_secs"),
        "{text}"
    );
    assert!(text.contains("aws_region=eu-west-1"), "{text}");
    assert!(text.contains("aws_secret_access_key=***"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("max_retries=2")
            && l.ends_with("environment LAKE_STORE_OPT_MAX_RETRIES")),
        "{text}"
    );
    assert!(!text.contains(secret), "the secret was printed:\n{text}");

    // A flag wins over everything; with no lake.toml, defaults say so.
    let bare = TestDir::new();
    let json = bare
        .lake_bare()
        .args(["--home"])
        .arg(bare.path().join("flag-home"))
        .args(["config", "--json"])
        .json();
    assert_eq!(json["home"]["from"], "set explicitly", "{json:#}");
    assert_eq!(json["refresh_secs"]["from"], "default", "{json:#}");
    assert_eq!(json["refresh_secs"]["value"], 30, "{json:#}");
    assert!(json["file"].is_null(), "{json:#}");
    assert!(
        json["store"]["from"]
            .as_str()
            .unwrap()
            .starts_with("default"),
        "{json:#}"
    );
}
