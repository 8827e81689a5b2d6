//! Stores: where a lake keeps its blobs, names, runs and record packs.
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
//!
//! # Layout
//! This file only dispatches on the URL. `location` tells URLs from paths,
//! `options` holds [`StoreOptions`], `memory` and `cloud` open their kinds
//! of store, [`LocalBackend`] and [`ObjectBackend`] implement the contract
//! (`errors` maps their failures), and `redact` keeps credentials out of
//! every message.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod cloud;
pub mod counting;
mod errors;
mod identity;
pub mod local;
mod location;
mod memory;
pub mod object;
mod options;
mod parts;
pub mod probe;
mod redact;
mod s3_uploads;

use std::sync::Arc;

use lake_core::{Store, StoreConfigError, StoreError};

pub use counting::{CountingStore, RequestCounts};
pub(crate) use identity::random_id;
pub use identity::{STORE_ID_KEY, StoreIdentity};
pub use local::LocalBackend;
pub use location::ACCEPTED_FORMS;
pub(crate) use location::{StoreUrlForm, classify_store_url, is_process_local, store_location};
pub use object::{MULTIPART_THRESHOLD, ObjectBackend};
pub use options::StoreOptions;
pub use redact::{redact_known_secrets, redact_url};

use options::{FILE_OPTIONS, check_options, local_fsync};

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
    let config = |source: StoreConfigError| StoreError::Config {
        url: redact_url(raw),
        source,
    };
    if classify_store_url(raw).map_err(config)? == StoreUrlForm::Path {
        check_options("a file store", options, FILE_OPTIONS).map_err(config)?;
        // A bare path; made absolute so the store means the same directory
        // whatever the process's current directory later becomes.
        let path = std::path::absolute(raw).map_err(|source| {
            config(StoreConfigError::ResolvePath {
                path: raw.into(),
                source,
            })
        })?;
        return Ok(Arc::new(
            LocalBackend::open(&path)?.with_fsync(local_fsync(options).map_err(config)?),
        ));
    }
    let parsed = url::Url::parse(raw).map_err(|e| {
        config(StoreConfigError::InvalidUrl {
            reason: e.to_string(),
        })
    })?;
    match parsed.scheme() {
        "memory" => {
            check_options("a memory store", options, &[]).map_err(config)?;
            memory::open_memory(&parsed).map_err(config)
        }
        "file" => {
            check_options("a file store", options, FILE_OPTIONS).map_err(config)?;
            if let Some(host) = parsed.host_str()
                && !matches!(host, "" | "localhost")
            {
                return Err(config(StoreConfigError::RemoteFileHost {
                    host: host.to_owned(),
                }));
            }
            let path = parsed
                .to_file_path()
                .map_err(|()| config(StoreConfigError::NotAFilePath))?;
            let fsync = local_fsync(options).map_err(config)?;
            Ok(Arc::new(LocalBackend::open(&path)?.with_fsync(fsync)))
        }
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" | "adl" | "http" | "https" => {
            cloud::open_cloud(raw, &parsed, options).map_err(config)
        }
        // `classify_store_url` let only the schemes above through.
        other => Err(config(StoreConfigError::UnsupportedScheme {
            scheme: other.to_owned(),
            accepted: ACCEPTED_FORMS,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
