//! Stores to test: private memory stores, and the test servers that
//! `scripts/servers start` describes in the environment.

use crate::store::{StoreOptions, open_store_with};

use super::{Fixture, unique};

/// A `memory://` URL no other caller in this process uses.
pub fn unique_memory_url() -> String {
    format!("memory://{}", unique("lake-test"))
}

/// The store of the test server `server` (`MOTO`, `S3S`, `AZURITE`, …) that
/// `scripts/servers start` describes in the environment, below a prefix no
/// other caller uses: `(url, options)` for
/// [`open_store_with`].
///
/// Reads `LAKE_TEST_<server>_URL` (e.g. `s3://lake-test`) and
/// `LAKE_TEST_<server>_OPTS` (comma-separated `key=value` store options;
/// a value may contain `=` but not `,`). The options ignore the process's
/// `AWS_*`/`AZURE_*`/`GOOGLE_*` variables, so the test is hermetic.
///
/// When the URL is unset this prints a loud `SKIPPED:` line and returns
/// `None`, unless `CI=true`, where it panics: CI must not skip silently.
///
/// # Panics
/// On `CI=true` without the variable, and on a malformed `_OPTS`.
pub fn server_from_env(server: &str) -> Option<(String, StoreOptions)> {
    let url_var = format!("LAKE_TEST_{server}_URL");
    let opts_var = format!("LAKE_TEST_{server}_OPTS");
    let base = match std::env::var(&url_var) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "{url_var} is unset but CI=true: CI must run against the test servers \
                     (scripts/test starts them with scripts/servers start)"
                );
            }
            eprintln!(
                "SKIPPED: {url_var} unset: no {server} test server; run `scripts/servers start` \
                 and `source target/test-servers/env.sh`, or scripts/test"
            );
            return None;
        }
    };
    let mut options = StoreOptions::new().without_env();
    let raw = std::env::var(&opts_var).unwrap_or_default();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = pair.split_once('=') else {
            // The pair may hold a secret: name the variable and the key only.
            let shown = pair.split(':').next().unwrap_or_default();
            panic!("{opts_var}: expected key=value, got an item starting {shown:.12?}…");
        };
        options = options.with(k.trim(), v.trim());
    }
    let url = format!(
        "{}/{}",
        base.trim().trim_end_matches('/'),
        unique(&server.to_ascii_lowercase())
    );
    Some((url, options))
}

/// A [`Fixture`] on [`server_from_env`]'s store, with the values of its
/// secret options planted; `None` (after a loud `SKIPPED:` line) when the
/// server is not configured.
///
/// # Panics
/// As [`server_from_env`], and when the store does not open.
pub fn server_fixture(server: &str) -> Option<Fixture> {
    let (url, options) = server_from_env(server)?;
    let store = open_store_with(&url, &options)
        .unwrap_or_else(|e| panic!("cannot open the {server} test server's store: {e}"));
    let mut fixture = Fixture::new(store);
    for (k, v) in options.iter() {
        let k = k.to_ascii_lowercase();
        if k.contains("secret") || k.ends_with("_key") || k.contains("token") {
            fixture = fixture.with_planted_secret(v);
        }
    }
    Some(fixture)
}
