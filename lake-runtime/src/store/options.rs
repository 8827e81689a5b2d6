//! [`StoreOptions`], the `(key, value)` configuration of a store, and the
//! checks and parsing of the options lake handles itself: `local_fsync`,
//! the retry settings and the transfer settings.

use std::fmt;
use std::time::Duration;

use lake_core::{DownloadTuning, StoreConfigError};
use object_store::RetryConfig;

use super::redact::{REDACTED, is_secret_key};

/// Extra configuration for [`open_store_with`](super::open_store_with): `(key, value)` pairs.
///
/// Keys are those of `object_store`'s builders (`aws_endpoint`,
/// `azure_storage_account_name`, `google_service_account`, …), its client
/// options (`timeout`, `connect_timeout`, `allow_http`, `proxy_url`, …) and
/// these options (cloud stores only), which lake handles itself:
///
/// | key | value |
/// |---|---|
/// | `max_retries` | a number; 0 disables retries |
/// | `retry_timeout` | a duration such as `3m`, `30s` or `500ms` (bare numbers are seconds) |
/// | `init_backoff`, `max_backoff` | durations |
/// | `backoff_base` | a number, the backoff multiplier |
/// | `multipart_part_size` | the part size of a multipart upload (files of 16 MiB or more, streamed writes): 5MiB to 5GiB, default 8MiB |
/// | `multipart_concurrency` | parts sent at once by a file upload: 1 to 64, default 4 (a streamed write sends at most 2) |
/// | `download_range_size` | the size of each range request of a download of 64 MiB or more: 1MiB to 5GiB; default: the object split evenly among `download_concurrency` ranges |
/// | `download_concurrency` | range requests at once: 1 to 64, default 4 |
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

    /// The `AWS_*`, `AZURE_*` and `GOOGLE_*` variables of the environment
    /// with lowercase keys, or none if [`without_env`](Self::without_env)
    /// was set.
    pub(crate) fn env_options(&self) -> Vec<(String, String)> {
        if self.ignore_env {
            return Vec::new();
        }
        std::env::vars()
            .filter(|(k, _)| {
                ["AWS_", "AZURE_", "GOOGLE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect()
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

/// Options a file store takes.
pub(super) const FILE_OPTIONS: &[&str] = &["local_fsync"];

/// Refuses any option of `options` that is not in `valid`, naming it and
/// listing the valid ones.
pub(super) fn check_options(
    store_kind: &'static str,
    options: &StoreOptions,
    valid: &[&'static str],
) -> Result<(), StoreConfigError> {
    match options
        .iter()
        .find(|(key, _)| !valid.contains(&key.to_ascii_lowercase().as_str()))
    {
        Some((key, _)) => Err(StoreConfigError::UnknownOption {
            key: key.to_owned(),
            store_kind,
            valid: valid.to_vec(),
        }),
        None => Ok(()),
    }
}

/// The `local_fsync` option of a file store; off by default.
pub(super) fn local_fsync(options: &StoreOptions) -> Result<bool, StoreConfigError> {
    match options
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("local_fsync"))
        .last()
    {
        None => Ok(false),
        Some((_, v)) => v
            .trim()
            .parse::<bool>()
            .map_err(|_| StoreConfigError::InvalidBool {
                key: "local_fsync",
                value: v.to_owned(),
            }),
    }
}

/// How a cloud store moves large objects: the `multipart_*` and
/// `download_*` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TransferTuning {
    /// Bytes per part of a multipart upload (the last may be smaller).
    pub(crate) part_size: usize,
    /// Parts sent at once by a file upload. A streamed write sends at most
    /// [`MAX_STREAM_PARTS_IN_FLIGHT`] at once, to keep its memory small.
    pub(crate) parts_in_flight: usize,
    /// How a large object is read back.
    pub(crate) download: DownloadTuning,
}

/// Parts in flight at once for a streamed write (`Store::put_stream`),
/// whose caller holds chunks of its own.
pub(crate) const MAX_STREAM_PARTS_IN_FLIGHT: usize = 2;

impl Default for TransferTuning {
    fn default() -> Self {
        Self {
            part_size: 8 << 20,
            parts_in_flight: 4,
            download: DownloadTuning::default(),
        }
    }
}

/// Transfer options lake handles itself, on every cloud store.
pub(super) const TRANSFER_KEYS: &[&str] = &[
    "multipart_part_size",
    "multipart_concurrency",
    "download_range_size",
    "download_concurrency",
];

/// Sets the transfer option `key` (one of [`TRANSFER_KEYS`], lowercase).
/// A part is 5 MiB to 5 GiB, S3's limits for all but the last part (GCS's
/// XML API shares them; Azure's blocks allow more); a range is 1 MiB to
/// 5 GiB.
pub(super) fn set_transfer(
    tuning: &mut TransferTuning,
    key: &str,
    value: &str,
) -> Result<(), StoreConfigError> {
    let bad = |expected| invalid(key, value, expected);
    let size_within = |low: u64, expected| {
        let size = crate::size::parse_size(value).map_err(|_| bad(expected))?;
        if (low..=5 << 30).contains(&size) {
            Ok(size)
        } else {
            Err(bad(expected))
        }
    };
    let count = || {
        let expected = "a whole number from 1 to 64";
        match value.trim().parse::<usize>() {
            Ok(n) if (1..=64).contains(&n) => Ok(n),
            _ => Err(bad(expected)),
        }
    };
    match key {
        "multipart_part_size" => {
            tuning.part_size =
                size_within(5 << 20, "a size from 5MiB to 5GiB, such as 16MiB")? as usize
        }
        "multipart_concurrency" => tuning.parts_in_flight = count()?,
        "download_range_size" => {
            tuning.download.range_size = Some(size_within(
                1 << 20,
                "a size from 1MiB to 5GiB, such as 8MiB",
            )?)
        }
        _ => tuning.download.concurrency = count()?,
    }
    Ok(())
}

/// The error for option `key`'s `value`, which is not `expected`.
fn invalid(key: &str, value: &str, expected: &'static str) -> StoreConfigError {
    StoreConfigError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        expected,
    }
}

/// Options lake handles itself rather than passing to `object_store`.
pub(super) const RETRY_KEYS: &[&str] = &[
    "max_retries",
    "retry_timeout",
    "init_backoff",
    "max_backoff",
    "backoff_base",
];

/// Sets the retry option `key` (one of [`RETRY_KEYS`], lowercase).
pub(super) fn set_retry(
    retry: &mut RetryConfig,
    key: &str,
    value: &str,
) -> Result<(), StoreConfigError> {
    let bad = |expected| invalid(key, value, expected);
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
    use crate::store::open_store_with;

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
    fn transfer_options_are_checked_and_name_the_bad_value() {
        let open = |key: &str, value: &str| {
            let options = StoreOptions::new().without_env().with(key, value);
            open_store_with("s3://bucket/p", &options).map(drop)
        };
        open("multipart_part_size", "16MiB").unwrap();
        open("multipart_concurrency", "8").unwrap();
        for (key, value) in [
            ("multipart_part_size", "1MiB"),
            ("multipart_part_size", "6GiB"),
            ("multipart_part_size", "big"),
            ("multipart_concurrency", "0"),
            ("multipart_concurrency", "many"),
            ("download_range_size", "100KiB"),
            ("download_concurrency", "65"),
        ] {
            let err = open(key, value).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(value), "{err}");
        }
        let mut tuning = TransferTuning::default();
        set_transfer(&mut tuning, "multipart_part_size", "5MiB").unwrap();
        set_transfer(&mut tuning, "multipart_concurrency", "1").unwrap();
        set_transfer(&mut tuning, "download_range_size", "8MiB").unwrap();
        set_transfer(&mut tuning, "download_concurrency", "10").unwrap();
        assert_eq!(
            tuning,
            TransferTuning {
                part_size: 5 << 20,
                parts_in_flight: 1,
                download: DownloadTuning {
                    range_size: Some(8 << 20),
                    concurrency: 10
                }
            }
        );
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
}
