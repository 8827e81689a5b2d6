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
//! Anything else that starts like a URL (`word:`) is refused with the list
//! of accepted forms, [`ACCEPTED_FORMS`]: a typo such as `s3:/bucket` must
//! not quietly become a local directory named `s3:`.
//!
//! # Identity
//! A store gets an id the first time lake uses it, an object at
//! [`STORE_ID_KEY`]; see [`StoreIdentity`]. A home keeps one index per
//! store id, so one home can serve several stores without mixing them.
//!
//! # Configuration
//! Cloud stores read their credentials from the environment: every `AWS_*`,
//! `AZURE_*` and `GOOGLE_*` variable is passed to `object_store` as a
//! lowercase option, which ignores the ones it does not know. More options
//! (typically from `lake.toml`) go in [`StoreOptions`].

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

pub mod counting;
mod identity;
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
use object_store::{ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};
use url::Url;

pub use counting::{CountingStore, RequestCounts};
pub use identity::{STORE_ID_KEY, StoreIdentity};
pub use local::LocalBackend;
pub use object::{MULTIPART_THRESHOLD, ObjectBackend, redact_known_secrets, redact_url};

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
/// File stores take one option, `local_fsync` (`true` or `false`), and
/// memory stores none. An unknown key is an error on every backend, naming
/// the key and listing the valid ones, so a typo in `lake.toml` or a
/// `LAKE_STORE_OPT_*` meant for another store does not go unnoticed.
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
    if classify_store_url(raw).map_err(config)? == StoreUrlForm::Path {
        check_options("a file store", options, FILE_OPTIONS).map_err(config)?;
        // A bare path; made absolute so the store means the same directory
        // whatever the process's current directory later becomes.
        let path =
            std::path::absolute(raw).map_err(|e| config(format!("cannot resolve path: {e}")))?;
        return Ok(Arc::new(
            LocalBackend::open(&path)?.with_fsync(local_fsync(options).map_err(config)?),
        ));
    }
    let parsed = Url::parse(raw).map_err(|e| config(format!("not a valid url: {e}")))?;
    match parsed.scheme() {
        "memory" => {
            check_options("a memory store", options, &[]).map_err(config)?;
            open_memory(&parsed).map_err(config)
        }
        "file" => {
            check_options("a file store", options, FILE_OPTIONS).map_err(config)?;
            if !matches!(parsed.host_str(), None | Some("") | Some("localhost")) {
                return Err(config(
                    "file urls cannot name a remote host; use file:///absolute/path".into(),
                ));
            }
            let path = parsed
                .to_file_path()
                .map_err(|()| config("not an absolute file path".into()))?;
            let fsync = local_fsync(options).map_err(config)?;
            Ok(Arc::new(LocalBackend::open(&path)?.with_fsync(fsync)))
        }
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "adl" | "http" | "https" => {
            open_cloud(raw, &parsed, options).map_err(config)
        }
        // `classify_store_url` let only the schemes above through.
        other => Err(config(format!(
            "unsupported scheme {other:?}; accepted forms: {ACCEPTED_FORMS}"
        ))),
    }
}

/// The store URL forms lake accepts, for messages.
pub const ACCEPTED_FORMS: &str = "file:///absolute/path or a plain path, memory://name, \
s3://bucket/prefix, az://container/prefix, gs://bucket/prefix, http(s)://host/path";

/// Schemes [`open_store_with`] opens, lowercase.
const KNOWN_SCHEMES: &[&str] = &[
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
pub(crate) fn classify_store_url(raw: &str) -> Result<StoreUrlForm, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the store url is empty".into());
    }
    let Some(scheme) = url_scheme(raw) else {
        return Ok(StoreUrlForm::Path);
    };
    let lower = scheme.to_ascii_lowercase();
    if !KNOWN_SCHEMES.contains(&lower.as_str()) {
        return Err(format!(
            "unsupported store url scheme {scheme:?}; accepted forms: {ACCEPTED_FORMS}"
        ));
    }
    let rest = &raw[scheme.len() + 1..];
    if !rest.starts_with("//") {
        return Err(format!(
            "malformed {lower} store url (expected {lower}:// then the location); accepted forms: \
             {ACCEPTED_FORMS}"
        ));
    }
    if lower == "file" && !(rest.starts_with("///") || rest.starts_with("//localhost/")) {
        return Err(format!(
            "a file store url needs an absolute path, as in file:///absolute/path; accepted forms: \
             {ACCEPTED_FORMS}"
        ));
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

/// Options a file store takes.
const FILE_OPTIONS: &[&str] = &["local_fsync"];

/// Refuses any option of `options` that is not in `valid`, naming it and
/// listing the valid ones.
fn check_options(kind: &str, options: &StoreOptions, valid: &[&str]) -> Result<(), String> {
    for (key, _) in options.iter() {
        if !valid.contains(&key.to_ascii_lowercase().as_str()) {
            let valid = if valid.is_empty() {
                "none".to_owned()
            } else {
                valid.join(", ")
            };
            return Err(format!(
                "unknown option {key:?} for {kind}; valid options: {valid}"
            ));
        }
    }
    Ok(())
}

/// The `local_fsync` option of a file store; off by default.
fn local_fsync(options: &StoreOptions) -> Result<bool, String> {
    match options
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("local_fsync"))
        .last()
    {
        None => Ok(false),
        Some((_, v)) => v
            .trim()
            .parse::<bool>()
            .map_err(|_| format!("local_fsync must be true or false, not {v:?}")),
    }
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
    let cloud = classify_store_url(url) == Ok(StoreUrlForm::Url)
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
    if !options.ignore_env {
        settings.extend(
            std::env::vars()
                .filter(|(k, _)| {
                    ["AWS_", "AZURE_", "GOOGLE_"]
                        .iter()
                        .any(|p| k.starts_with(p))
                })
                .map(|(k, v)| (format!("env:{}", k.to_ascii_lowercase()), v))
                .filter(|(k, _)| picks_the_server(k)),
        );
    }
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

/// A kind of cloud store and the options its builder takes, for messages.
/// The lists are `object_store` 0.14's canonical key names; a unit test
/// checks that each one parses, so they cannot drift from the builders.
struct CloudKind {
    /// `an s3 store`, …
    name: &'static str,
    /// The builder's own keys.
    own: &'static [&'static str],
}

impl CloudKind {
    /// Every key accepted: the builder's own, the HTTP client's (all
    /// builders take them, except through WebDAV's own list), and lake's
    /// retry keys.
    fn valid_options(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self.own.to_vec();
        all.extend_from_slice(CLIENT_OPTIONS);
        all.extend_from_slice(RETRY_KEYS);
        all
    }
}

const S3: CloudKind = CloudKind {
    name: "an s3 store",
    own: &[
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "aws_region",
        "aws_default_region",
        "aws_bucket",
        "aws_endpoint",
        "aws_endpoint_url_s3",
        "aws_endpoint_url_sts",
        "aws_imdsv1_fallback",
        "aws_virtual_hosted_style_request",
        "aws_s3_express",
        "aws_metadata_endpoint",
        "aws_unsigned_payload",
        "aws_checksum_algorithm",
        "aws_container_credentials_relative_uri",
        "aws_container_credentials_full_uri",
        "aws_container_authorization_token_file",
        "aws_web_identity_token_file",
        "aws_role_arn",
        "aws_role_session_name",
        "aws_skip_signature",
        "aws_copy_if_not_exists",
        "aws_conditional_put",
        "aws_disable_tagging",
        "aws_disable_bulk_delete",
        "aws_request_payer",
        "aws_server_side_encryption",
        "aws_sse_kms_key_id",
        "aws_sse_bucket_key_enabled",
        "aws_sse_customer_key_base64",
    ],
};

const AZURE: CloudKind = CloudKind {
    name: "an azure store",
    own: &[
        "azure_storage_account_name",
        "azure_storage_account_key",
        "azure_storage_client_id",
        "azure_storage_client_secret",
        "azure_storage_tenant_id",
        "azure_storage_authority_host",
        "azure_storage_sas_key",
        "azure_storage_token",
        "azure_storage_use_emulator",
        "azure_use_fabric_endpoint",
        "azure_storage_endpoint",
        "azure_msi_endpoint",
        "azure_object_id",
        "azure_msi_resource_id",
        "azure_federated_token_file",
        "azure_use_azure_cli",
        "azure_skip_signature",
        "azure_container_name",
        "azure_disable_tagging",
        "azure_fabric_token_service_url",
        "azure_fabric_workload_host",
        "azure_fabric_session_token",
        "azure_fabric_cluster_identifier",
        "azure_credential_type",
        "azure_storage_encryption_key",
    ],
};

const GCS: CloudKind = CloudKind {
    name: "a gcs store",
    own: &[
        "google_service_account",
        "google_service_account_key",
        "google_bucket",
        "google_base_url",
        "google_application_credentials",
        "google_bearer_token",
        "google_skip_signature",
    ],
};

const HTTP: CloudKind = CloudKind {
    name: "an http store",
    own: &[],
};

/// The HTTP client's options, taken by every cloud builder.
const CLIENT_OPTIONS: &[&str] = &[
    "allow_http",
    "allow_invalid_certificates",
    "disable_system_certificates",
    "connect_timeout",
    "default_content_type",
    "http1_only",
    "http2_only",
    "http2_keep_alive_interval",
    "http2_keep_alive_timeout",
    "http2_keep_alive_while_idle",
    "http2_max_frame_size",
    "pool_idle_timeout",
    "pool_max_idle_per_host",
    "proxy_url",
    "proxy_ca_certificate",
    "proxy_excludes",
    "randomize_addresses",
    "read_timeout",
    "timeout",
    "user_agent",
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
        kind: &CloudKind,
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
                Err(_) => {
                    return Err(format!(
                        "unknown option {key:?} for {}; valid options: {}",
                        kind.name,
                        kind.valid_options().join(", ")
                    ));
                }
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

/// Client options that send `user:password` as HTTP Basic authorization,
/// marked sensitive so that no debug output shows it.
fn basic_auth(user: &str, password: Option<&str>) -> Result<ClientOptions, String> {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD
        .encode(format!("{user}:{}", password.unwrap_or_default()));
    let mut value = http::HeaderValue::from_str(&format!("Basic {token}"))
        .map_err(|_| "the url's user name or password is not valid in a header".to_owned())?;
    value.set_sensitive(true);
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, value);
    Ok(ClientOptions::new().with_default_headers(headers))
}

/// A URL's user or password component, percent-decoded.
fn percent_decode(component: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", component.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
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
            let builder = config.apply(AmazonS3Builder::new().with_url(raw), &S3, |b, k, v| {
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
            let builder = config.apply(
                MicrosoftAzureBuilder::new().with_url(raw),
                &AZURE,
                |b, k, v| b.with_config(k, v),
            )?;
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
            let builder = config.apply(
                GoogleCloudStorageBuilder::new().with_url(raw),
                &GCS,
                |b, k, v| b.with_config(k, v),
            )?;
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
            // User-info travels as a header, never inside the URL: the HTTP
            // client's dependencies print request URLs at trace level.
            let mut bare = url.clone();
            let user = percent_decode(bare.username());
            let password = bare.password().map(percent_decode);
            let _ = bare.set_username("");
            let _ = bare.set_password(None);
            let base = &bare[..url::Position::BeforePath];
            let mut builder = HttpBuilder::new().with_url(base);
            if !user.is_empty() || password.is_some() {
                builder = builder.with_client_options(basic_auth(&user, password.as_deref())?);
            }
            let builder = config.apply(builder, &HTTP, |b, k: ClientConfigKey, v| {
                b.with_config(k, v)
            })?;
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
    object::remember_secrets(&secrets);
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

    // See: issue 10 (unknown store options are refused on every backend).
    #[test]
    fn unknown_option_is_refused_on_every_backend_listing_the_valid_ones() {
        let file = tempfile::tempdir().unwrap();
        let file_url = format!("file://{}", file.path().display());
        let plain_path = file.path().join("plain").display().to_string();
        for (url, listed) in [
            ("memory://", "none"),
            ("memory://opts", "none"),
            (file_url.as_str(), "local_fsync"),
            (plain_path.as_str(), "local_fsync"),
            ("s3://bucket/p", "aws_endpoint"),
            ("az://container/p", "azure_storage_account_name"),
            ("gs://bucket/p", "google_service_account"),
            ("https://example.com/dav", "timeout"),
        ] {
            let options = StoreOptions::new().without_env().with("max_retires", "3");
            let err = open_store_with(url, &options).unwrap_err().to_string();
            assert!(
                err.contains("unknown option \"max_retires\""),
                "{url}: {err}"
            );
            assert!(err.contains("valid options: "), "{url}: {err}");
            assert!(err.contains(listed), "{url}: {err}");
            assert!(!err.contains('\n'), "{url}: {err}");
        }
        assert!(!file.path().join("plain").exists(), "nothing created");
    }

    #[test]
    fn file_stores_take_local_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let ok = StoreOptions::new()
            .without_env()
            .with("local_fsync", "true");
        assert!(open_store_with(&url, &ok).is_ok());
        let bad = StoreOptions::new()
            .without_env()
            .with("local_fsync", "often");
        let err = open_store_with(&url, &bad).unwrap_err().to_string();
        assert!(
            err.contains("local_fsync") && err.contains("often"),
            "{err}"
        );
    }

    #[test]
    fn listed_cloud_options_are_the_builders_keys() {
        use object_store::aws::AmazonS3ConfigKey;
        use object_store::azure::AzureConfigKey;
        use object_store::gcp::GoogleConfigKey;
        for key in S3.valid_options() {
            if !RETRY_KEYS.contains(&key) {
                let parsed: AmazonS3ConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in AZURE.valid_options() {
            if !RETRY_KEYS.contains(&key) {
                let parsed: AzureConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in GCS.valid_options() {
            if !RETRY_KEYS.contains(&key) {
                let parsed: GoogleConfigKey = key.parse().unwrap();
                assert_eq!(parsed.as_ref(), key);
            }
        }
        for key in CLIENT_OPTIONS {
            let parsed: ClientConfigKey = key.parse().unwrap();
            assert_eq!(parsed.as_ref(), *key);
        }
    }

    // See: issue 10 (`s3:/bucket` silently became a directory named `s3:`).
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
            assert_eq!(classify_store_url(path), Ok(StoreUrlForm::Path), "{path}");
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
            assert_eq!(classify_store_url(url), Ok(StoreUrlForm::Url), "{url}");
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
