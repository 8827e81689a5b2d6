//! Stores: where a lake keeps its blobs, names, runs and notes.
//!
//! [`open_store`] turns a URL into an [`Arc<dyn Store>`](lake_core::Store).
//! Every backend fulfils the same contract (see [`lake_core::Store`]), and
//! the conformance suite in `lake_runtime::testing` checks it.
//!
//! | URL | backend |
//! |---|---|
//! | `memory://` | a fresh in-memory store, private to the caller |
//! | `memory://NAME[/PREFIX]` | the in-memory store `NAME`, shared by the whole process |
//! | `file:///abs/path`, `/abs/path`, `./rel/path` | [`LocalBackend`] in that directory (created if missing) |
//! | `s3://BUCKET[/PREFIX]` | Amazon S3 or compatible |
//! | `az://CONTAINER[/PREFIX]`, `azure://…`, `abfs[s]://…` | Azure Blob Storage |
//! | `gs://BUCKET[/PREFIX]` | Google Cloud Storage |
//! | `http[s]://HOST/PATH` | WebDAV, or S3/Azure when the host says so |
//!
//! # Configuration
//! Cloud stores read their credentials from the environment: every `AWS_*`,
//! `AZURE_*` and `GOOGLE_*` variable is passed to `object_store` as a
//! lowercase option, which ignores the ones it does not know. More options
//! (typically from `lake.toml`) go in [`StoreOptions`].

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod counting;
pub mod local;
pub mod object;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use lake_core::{Store, StoreError};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

pub use counting::{CountingStore, RequestCounts};
pub use local::LocalBackend;
pub use object::{MULTIPART_THRESHOLD, ObjectBackend, redact_url};

use object::{REDACTED, is_secret_key, scrub};

/// Extra configuration for [`open_store_with`]: `(key, value)` pairs.
///
/// Keys are those of `object_store`'s builders (`aws_endpoint`,
/// `azure_storage_account_name`, `google_service_account`, …), its client
/// options (`timeout`, `connect_timeout`, `allow_http`, `proxy_url`, …) and
/// these retry options, which lake handles itself:
///
/// | key | value |
/// |---|---|
/// | `max_retries` | a number; 0 disables retries |
/// | `retry_timeout` | a duration such as `3m`, `30s` or `500ms` (bare numbers are seconds) |
/// | `init_backoff`, `max_backoff` | durations |
/// | `backoff_base` | a number, the backoff multiplier |
///
/// An unknown key is an error for cloud stores, so a typo in `lake.toml`
/// does not go unnoticed; memory and file stores ignore all options.
///
/// # Precedence
/// These options are the configuration-file layer. A variable from the
/// environment for the same setting wins, as the design's precedence says
/// (environment over `lake.toml`), unless [`without_env`](Self::without_env)
/// is set.
///
/// # Example
/// ```
/// use lake_runtime::store::StoreOptions;
///
/// let options = StoreOptions::new()
///     .with("max_retries", "3")
///     .with("aws_secret_access_key", "wJalrXUtnFEMI");
/// assert_eq!(options.redacted(), "max_retries=3, aws_secret_access_key=***");
/// ```
#[derive(Clone, Default)]
pub struct StoreOptions {
    options: Vec<(String, String)>,
    ignore_env: bool,
}

impl StoreOptions {
    /// No options; the environment is read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one option; a later value for the same key wins.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push((key.into(), value.into()));
        self
    }

    /// Ignores `AWS_*`, `AZURE_*` and `GOOGLE_*` variables, for hermetic
    /// tests and for callers that resolved the environment themselves.
    pub fn without_env(mut self) -> Self {
        self.ignore_env = true;
        self
    }

    /// The options, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.options.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `key=value, …` with the values of secret-looking keys replaced by
    /// `***`, for logs and messages.
    pub fn redacted(&self) -> String {
        self.options
            .iter()
            .map(|(k, v)| {
                let v = if is_secret_key(k) { REDACTED } else { v };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreOptions")
            .field("options", &self.redacted())
            .field("ignore_env", &self.ignore_env)
            .finish()
    }
}

/// Opens the store at `url` with no extra options; see [`open_store_with`].
///
/// # Example
/// ```
/// use lake_runtime::store::open_store;
///
/// let a = open_store("memory://docs-example")?;
/// let b = open_store("memory://docs-example")?;
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert!(open_store("ftp://example.com").is_err());
/// # Ok::<(), lake_core::StoreError>(())
/// ```
pub fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_store_with(url, &StoreOptions::new())
}

/// Opens the store at `url` (see the [module docs](self) for the schemes),
/// configured by `options` and the environment.
///
/// Errors are [`StoreError::Config`] naming the URL, redacted: unknown
/// scheme, missing bucket, unparsable URL, unknown option or bad value.
pub fn open_store_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    let raw = url.trim();
    let config = |message: String| StoreError::Config {
        url: redact_url(raw),
        message,
    };
    if raw.is_empty() {
        return Err(config("the store url is empty".into()));
    }
    if !raw.contains("://") {
        // A bare path; made absolute so the store means the same directory
        // whatever the process's current directory later becomes.
        let path =
            std::path::absolute(raw).map_err(|e| config(format!("cannot resolve path: {e}")))?;
        return Ok(Arc::new(LocalBackend::open(&path)?));
    }
    let parsed = Url::parse(raw).map_err(|e| config(format!("not a valid url: {e}")))?;
    match parsed.scheme() {
        "memory" => open_memory(&parsed).map_err(config),
        "file" => {
            if !matches!(parsed.host_str(), None | Some("") | Some("localhost")) {
                return Err(config(
                    "file urls cannot name a remote host; use file:///absolute/path".into(),
                ));
            }
            let path = parsed
                .to_file_path()
                .map_err(|()| config("not an absolute file path".into()))?;
            let fsync = match options.iter().find(|(k, _)| *k == "local_fsync") {
                None => false,
                Some((_, v)) => v
                    .parse::<bool>()
                    .map_err(|_| config(format!("local_fsync must be true or false, not {v:?}")))?,
            };
            Ok(Arc::new(LocalBackend::open(&path)?.with_fsync(fsync)))
        }
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "adl" | "http" | "https" => {
            open_cloud(raw, &parsed, options).map_err(config)
        }
        other => Err(config(format!(
            "unsupported scheme {other:?}; expected memory, file, s3, az, azure, abfs, gs, http or https"
        ))),
    }
}

/// Named in-memory stores, kept for the life of the process so two lakes in
/// one test can share one. Never emptied: test stores are small.
static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(Default::default);

/// Opened `memory://NAME/PREFIX` stores, so that opening the same URL twice
/// gives the very same `Arc`.
static MEMORY_HANDLES: LazyLock<Mutex<HashMap<String, Arc<dyn Store>>>> =
    LazyLock::new(Default::default);

fn open_memory(url: &Url) -> Result<Arc<dyn Store>, String> {
    let name = url.host_str().unwrap_or_default();
    let prefix = Path::from_url_path(url.path()).map_err(|e| format!("bad prefix: {e}"))?;
    let display = |name: &str| match prefix.as_ref() {
        "" => format!("memory://{name}"),
        p => format!("memory://{name}/{p}"),
    };
    let wrap = |memory: Arc<InMemory>| -> Arc<dyn ObjectStore> {
        if prefix.as_ref().is_empty() {
            memory
        } else {
            Arc::new(PrefixStore::new(memory, prefix.clone()))
        }
    };
    if name.is_empty() {
        let store = ObjectBackend::new(wrap(Arc::new(InMemory::new())), &display(""));
        return Ok(Arc::new(store));
    }
    let key = display(name);
    // The lock is never held across a panic-prone call, so poisoning would
    // only follow a panic elsewhere; the maps stay consistent regardless.
    let mut handles = MEMORY_HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = handles.get(&key) {
        return Ok(store.clone());
    }
    let memory = MEMORY_STORES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone();
    let store: Arc<dyn Store> = Arc::new(ObjectBackend::new(wrap(memory), &key));
    handles.insert(key, store.clone());
    Ok(store)
}

/// Options lake handles itself rather than passing to `object_store`.
const RETRY_KEYS: &[&str] = &[
    "max_retries",
    "retry_timeout",
    "init_backoff",
    "max_backoff",
    "backoff_base",
];

/// The configuration of one cloud store, split by where it came from, in
/// increasing precedence.
struct CloudConfig {
    defaults: Vec<(String, String)>,
    options: Vec<(String, String)>,
    env: Vec<(String, String)>,
    retry: RetryConfig,
}

impl CloudConfig {
    /// Applies every layer to `builder`. Unknown keys from `options` are
    /// errors; from the environment they are expected (`AWS_PROFILE`, …)
    /// and skipped.
    fn apply<B, K: FromStr>(
        &self,
        mut builder: B,
        set: impl Fn(B, K, String) -> B,
    ) -> Result<B, String> {
        for (key, value) in &self.defaults {
            if let Ok(k) = key.parse() {
                builder = set(builder, k, value.clone());
            }
        }
        for (key, value) in &self.options {
            match key.to_ascii_lowercase().parse() {
                Ok(k) => builder = set(builder, k, value.clone()),
                Err(_) => return Err(format!("unknown option {key:?} for this kind of store")),
            }
        }
        for (key, value) in &self.env {
            if let Ok(k) = key.parse() {
                builder = set(builder, k, value.clone());
            }
        }
        Ok(builder)
    }
}

fn open_cloud(raw: &str, url: &Url, options: &StoreOptions) -> Result<Arc<dyn Store>, String> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(match url.scheme() {
            "http" | "https" => "missing host".to_owned(),
            scheme => format!("missing bucket or container; expected {scheme}://NAME[/PREFIX]"),
        });
    }
    let (scheme, prefix) =
        ObjectStoreScheme::parse(url).map_err(|e| format!("unrecognised url: {e}"))?;

    let mut secrets = Vec::new();
    secrets.extend(url.password().map(str::to_owned));
    for (key, value) in url.query_pairs() {
        if is_secret_key(&key) {
            secrets.push(value.into_owned());
        }
    }
    let mut retry = RetryConfig::default();
    let mut passed = Vec::new();
    for (key, value) in options.iter() {
        if is_secret_key(key) {
            secrets.push(value.to_owned());
        }
        let lower = key.to_ascii_lowercase();
        if RETRY_KEYS.contains(&lower.as_str()) {
            set_retry(&mut retry, &lower, value)?;
        } else {
            passed.push((lower, value.to_owned()));
        }
    }
    let env: Vec<(String, String)> = if options.ignore_env {
        Vec::new()
    } else {
        std::env::vars()
            .filter(|(k, _)| {
                ["AWS_", "AZURE_", "GOOGLE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
    };
    secrets.extend(
        env.iter()
            .filter(|(k, _)| is_secret_key(k))
            .map(|(_, v)| v.clone()),
    );

    let mut defaults = Vec::new();
    if scheme == ObjectStoreScheme::AmazonS3 {
        // Create needs If-None-Match and notes need If-Match; S3 and moto
        // support both, and copy-if-not-exists needs the multipart trick.
        defaults.push(("aws_conditional_put".to_owned(), "etag".to_owned()));
        defaults.push(("aws_copy_if_not_exists".to_owned(), "multipart".to_owned()));
    }
    if url.scheme() == "http" {
        // The user asked for plain HTTP by writing it.
        defaults.push(("allow_http".to_owned(), "true".to_owned()));
    }
    let config = CloudConfig {
        defaults,
        options: passed,
        env,
        retry,
    };
    // The builders are called directly rather than through
    // `object_store::parse_url_opts` (which does the same key parsing)
    // because retries are configured with `with_retry`, not with options.
    let built = |e: object_store::Error| {
        format!(
            "cannot configure the store: {}",
            scrub(&e.to_string(), &secrets)
        )
    };

    let (inner, sorted): (Arc<dyn ObjectStore>, bool) = match scheme {
        ObjectStoreScheme::AmazonS3 => {
            let builder = config.apply(AmazonS3Builder::new().with_url(raw), |b, k, v| {
                b.with_config(k, v)
            })?;
            (
                Arc::new(
                    builder
                        .with_retry(config.retry.clone())
                        .build()
                        .map_err(built)?,
                ),
                true,
            )
        }
        ObjectStoreScheme::MicrosoftAzure => {
            let builder = config.apply(MicrosoftAzureBuilder::new().with_url(raw), |b, k, v| {
                b.with_config(k, v)
            })?;
            (
                Arc::new(
                    builder
                        .with_retry(config.retry.clone())
                        .build()
                        .map_err(built)?,
                ),
                true,
            )
        }
        ObjectStoreScheme::GoogleCloudStorage => {
            let builder = config
                .apply(GoogleCloudStorageBuilder::new().with_url(raw), |b, k, v| {
                    b.with_config(k, v)
                })?;
            (
                Arc::new(
                    builder
                        .with_retry(config.retry.clone())
                        .build()
                        .map_err(built)?,
                ),
                true,
            )
        }
        ObjectStoreScheme::Http => {
            let base = &url[..url::Position::BeforePath];
            let builder = config.apply(
                HttpBuilder::new().with_url(base),
                |b, k: ClientConfigKey, v| b.with_config(k, v),
            )?;
            // WebDAV listings come in server order.
            (
                Arc::new(
                    builder
                        .with_retry(config.retry.clone())
                        .build()
                        .map_err(built)?,
                ),
                false,
            )
        }
        other => return Err(format!("unsupported store kind {other:?}")),
    };
    let inner: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
        inner
    } else {
        Arc::new(PrefixStore::new(inner, prefix))
    };
    let mut backend = ObjectBackend::new(inner, raw).with_secrets(secrets);
    if !sorted {
        backend = backend.with_unsorted_listing();
    }
    if scheme == ObjectStoreScheme::MicrosoftAzure {
        backend = backend.with_unquoted_listed_e_tags();
    }
    Ok(Arc::new(backend))
}

fn set_retry(retry: &mut RetryConfig, key: &str, value: &str) -> Result<(), String> {
    let bad =
        |expected: &str| format!("invalid value {value:?} for option {key}: expected {expected}");
    match key {
        "max_retries" => {
            retry.max_retries = value.trim().parse().map_err(|_| bad("a whole number"))?
        }
        "backoff_base" => retry.backoff.base = value.trim().parse().map_err(|_| bad("a number"))?,
        _ => {
            let duration =
                parse_duration(value).ok_or_else(|| bad("a duration such as 30s or 500ms"))?;
            match key {
                "retry_timeout" => retry.retry_timeout = duration,
                "init_backoff" => retry.backoff.init_backoff = duration,
                _ => retry.backoff.max_backoff = duration,
            }
        }
    }
    Ok(())
}

/// `500ms`, `30s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" | "min" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-1s"), None);
    }

    #[test]
    fn bad_retry_value_names_key_and_value() {
        let options = StoreOptions::new()
            .without_env()
            .with("retry_timeout", "forever");
        let err = open_store_with("s3://bucket/p", &options)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("retry_timeout") && err.contains("forever"),
            "{err}"
        );
    }

    #[test]
    fn unknown_option_is_an_error_for_cloud_stores() {
        let options = StoreOptions::new().without_env().with("max_retires", "3");
        let err = open_store_with("s3://bucket/p", &options)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_retires"), "{err}");
        assert!(open_store_with("memory://", &options).is_ok());
    }

    #[test]
    fn s3_store_opens_with_options_and_hides_secrets() {
        let options = StoreOptions::new()
            .without_env()
            .with("aws_access_key_id", "AKIAEXAMPLE")
            .with("aws_secret_access_key", "planted-secret-value")
            .with("aws_endpoint", "http://127.0.0.1:1")
            .with("allow_http", "true")
            .with("max_retries", "0")
            .with("timeout", "5s");
        let store = open_store_with("s3://bucket/some/prefix", &options).unwrap();
        assert_eq!(store.to_string(), "s3://bucket/some/prefix");
        assert!(!format!("{store:?}").contains("planted-secret-value"));
        assert!(!format!("{options:?}").contains("planted-secret-value"));
    }
}
