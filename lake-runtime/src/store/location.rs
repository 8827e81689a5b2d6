//! Telling a store URL from a plain path, refusing what is neither, and
//! where a URL points ([`store_location`]) for a home's cache of store ids.

use lake_core::StoreConfigError;

use super::StoreOptions;
use super::redact::{is_secret_key, redact_url};

/// The store URL forms lake accepts, for messages.
pub const ACCEPTED_FORMS: &str = "file:///absolute/path or a plain path, memory://name, \
s3://bucket/prefix, az://container/prefix, gs://bucket/prefix, http(s)://host/path";

/// Schemes [`open_store_with`](super::open_store_with) opens, lowercase.
pub(super) const KNOWN_SCHEMES: &[&str] = &[
    "memory", "file", "s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl", "http", "https",
];

/// What a store URL string is, before any backend looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreUrlForm {
    /// A plain local path, absolute or relative.
    Path,
    /// `scheme://…` with a scheme lake knows.
    Url,
}

/// Tells a plain path from a URL, refusing what is neither: an unknown
/// scheme (`ftp://x`, `s4://b`) or a known one without `//` (`s3:/bucket`,
/// `s3:bucket`, `file:relative`, `http:/x`). A string is taken for a URL
/// as soon as it starts with an RFC 3986 scheme and a colon, because a
/// path that looks like that is far less likely than a typo of a URL; such
/// a path can still be written `./word:…`.
pub(crate) fn classify_store_url(raw: &str) -> Result<StoreUrlForm, StoreConfigError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(StoreConfigError::EmptyUrl);
    }
    let Some(scheme) = url_scheme(raw) else {
        return Ok(StoreUrlForm::Path);
    };
    let lower = scheme.to_ascii_lowercase();
    if !KNOWN_SCHEMES.contains(&lower.as_str()) {
        return Err(StoreConfigError::UnsupportedScheme {
            scheme: scheme.to_owned(),
            accepted: ACCEPTED_FORMS,
        });
    }
    let rest = &raw[scheme.len() + 1..];
    if !rest.starts_with("//") {
        return Err(StoreConfigError::MissingSlashes {
            scheme: lower,
            accepted: ACCEPTED_FORMS,
        });
    }
    if lower == "file" && !(rest.starts_with("///") || rest.starts_with("//localhost/")) {
        return Err(StoreConfigError::RelativeFileUrl {
            accepted: ACCEPTED_FORMS,
        });
    }
    Ok(StoreUrlForm::Url)
}

/// The scheme `raw` starts with, if it starts like a URL: a letter, then
/// letters, digits, `+`, `-` or `.`, then `:`. A Windows drive letter
/// (`C:\…`) is a path.
fn url_scheme(raw: &str) -> Option<&str> {
    let (scheme, _) = raw.split_once(':')?;
    let mut chars = scheme.chars();
    let starts_like_one = chars.next()?.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let drive_letter = cfg!(windows) && scheme.len() == 1;
    (starts_like_one && !drive_letter).then_some(scheme)
}

/// Where `url` with `options` points, as text without credentials: the
/// redacted URL, and for cloud stores the settings that pick a server or
/// account (endpoints, account names, emulator switches) from `options` and
/// the environment. A home caches which store id it found at a location, so
/// a fresh process finds its index without asking the store; two locations
/// that differ only in a secret share one binding, and a changed endpoint
/// gets its own.
pub(crate) fn store_location(url: &str, options: &StoreOptions) -> String {
    let url = url.trim();
    let mut location = redact_url(url).trim_end_matches('/').to_owned();
    let cloud = matches!(classify_store_url(url), Ok(StoreUrlForm::Url))
        && url_scheme(url)
            .is_some_and(|s| !s.eq_ignore_ascii_case("memory") && !s.eq_ignore_ascii_case("file"));
    if !cloud {
        return location;
    }
    let picks_the_server = |key: &str| {
        !is_secret_key(key)
            && [
                "endpoint",
                "base_url",
                "account_name",
                "emulator",
                "bucket",
                "container",
            ]
            .iter()
            .any(|part| key.contains(part))
    };
    let mut settings: Vec<(String, String)> = options
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .filter(|(k, _)| picks_the_server(k))
        .collect();
    settings.extend(
        options
            .env_options()
            .into_iter()
            .map(|(k, v)| (format!("env:{k}"), v))
            .filter(|(k, _)| picks_the_server(k)),
    );
    settings.sort();
    for (key, value) in settings {
        location.push_str(&format!(" {key}={}", redact_url(value.trim())));
    }
    location
}

/// True if the store at `url` lives only as long as this process
/// (`memory://`): an id cached in a home would outlive it.
pub(crate) fn is_process_local(url: &str) -> bool {
    url_scheme(url.trim()).is_some_and(|s| s.eq_ignore_ascii_case("memory"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::open_store;

    #[test]
    fn malformed_and_unknown_store_urls_are_refused_with_the_accepted_forms() {
        let cwd = tempfile::tempdir().unwrap();
        for bad in [
            "s3:/bucket",
            "s3:bucket",
            "S3:/bucket",
            "file:relative",
            "file:/abs/path",
            "http:/x",
            "memory:name",
            "gs:bucket/prefix",
            "az:/container",
            "ftp://x/y",
            "s4://bucket",
            "c:/x",
        ] {
            assert!(classify_store_url(bad).is_err(), "{bad}");
            let err = open_store(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
            for form in [
                "file:///absolute/path",
                "a plain path",
                "memory://name",
                "s3://bucket/prefix",
                "az://container/prefix",
                "gs://bucket/prefix",
                "http(s)://",
            ] {
                assert!(err.contains(form), "{bad}: {err}");
            }
        }
        assert!(!cwd.path().join("s3:").exists());
        assert!(!std::path::Path::new("s3:").exists());
        for path in ["store", "./s3:/bucket", "/abs/store", "data/x:y", "../up"] {
            assert_eq!(
                classify_store_url(path).ok(),
                Some(StoreUrlForm::Path),
                "{path}"
            );
        }
        for url in [
            "file:///abs",
            "file://localhost/abs",
            "memory://",
            "memory://n/p",
            "s3://b/p",
            "az://c/p",
            "gs://b",
            "https://h/p",
        ] {
            assert_eq!(
                classify_store_url(url).ok(),
                Some(StoreUrlForm::Url),
                "{url}"
            );
        }
    }

    #[test]
    fn credentials_in_a_malformed_url_are_not_echoed() {
        let err = open_store("s3:/user:hunter2@bucket?token=abc")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2") && !err.contains("abc"), "{err}");
        assert!(err.contains("s3:/***@bucket"), "{err}");
        let err = open_store("s3:user:hunter2@bucket")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn location_keeps_endpoints_and_drops_secrets() {
        let plain = StoreOptions::new().without_env();
        let a = StoreOptions::new()
            .without_env()
            .with("aws_endpoint", "http://127.0.0.1:9000")
            .with("aws_secret_access_key", "planted-secret");
        let b = StoreOptions::new()
            .without_env()
            .with("aws_endpoint", "http://127.0.0.1:9001");
        let la = store_location("s3://bucket/p", &a);
        assert!(la.contains("127.0.0.1:9000"), "{la}");
        assert!(!la.contains("planted-secret"), "{la}");
        assert_ne!(la, store_location("s3://bucket/p", &b));
        assert_ne!(la, store_location("s3://bucket/p", &plain));
        assert_eq!(
            store_location("s3://bucket/p/", &plain),
            store_location("s3://bucket/p", &plain)
        );
        let secret = store_location("s3://u:hunter2@bucket/p?token=t0k", &plain);
        assert!(
            !secret.contains("hunter2") && !secret.contains("t0k"),
            "{secret}"
        );
        // Options do not move a file store.
        let f = StoreOptions::new().without_env().with("aws_endpoint", "x");
        assert_eq!(store_location("file:///s", &f), "file:///s");
    }
}
