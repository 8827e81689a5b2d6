//! [`ErrorContext`]: turning `object_store` errors into [`StoreError`]s
//! that name the store (redacted) and keep the variants the commit protocol
//! branches on distinct.

use std::sync::Arc;

use lake_core::StoreError;

use super::redact::scrub;

/// True if a 404's message says the bucket or container itself is missing
/// (S3's `NoSuchBucket`, Azure's `ContainerNotFound`), not the key.
fn names_missing_container(source: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let mut text = source.to_string();
    let mut cause = source.source();
    while let Some(c) = cause {
        text.push_str(&c.to_string());
        cause = c.source();
    }
    [
        "NoSuchBucket",
        "ContainerNotFound",
        "The specified bucket does not exist",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// What every error built by a backend needs: its redacted name and the
/// secrets to scrub. Cheap to clone into `'static` streams.
#[derive(Clone)]
pub(crate) struct ErrorContext {
    store: Arc<str>,
    secrets: Arc<[String]>,
}

impl ErrorContext {
    pub(crate) fn new(redacted_url: &str, secrets: Vec<String>) -> Self {
        Self {
            store: redacted_url.into(),
            secrets: secrets.into(),
        }
    }

    /// The store's redacted URL.
    pub(crate) fn store(&self) -> &str {
        &self.store
    }

    /// Maps an `object_store` error, keeping the variants the commit protocol
    /// branches on distinct.
    pub(crate) fn map(
        &self,
        operation: &'static str,
        path: &str,
        error: object_store::Error,
    ) -> StoreError {
        let store = self.store.to_string();
        let path = path.to_owned();
        match error {
            // A missing bucket or container answers every request with a
            // 404 too; as `NotFound` it would read as a missing name.
            object_store::Error::NotFound { source, .. }
                if names_missing_container(source.as_ref()) =>
            {
                self.backend(
                    operation,
                    &path,
                    "the bucket or container of this store does not exist; create it, \
                     or fix the store URL",
                )
            }
            object_store::Error::NotFound { .. } => StoreError::NotFound { path, store },
            object_store::Error::AlreadyExists { .. } => StoreError::AlreadyExists { path, store },
            object_store::Error::Precondition { .. } => StoreError::Precondition { path, store },
            object_store::Error::NotImplemented {
                operation: what, ..
            } => StoreError::NotSupported {
                operation: what,
                store,
            },
            object_store::Error::NotSupported { .. } => StoreError::NotSupported {
                operation: operation.to_owned(),
                store,
            },
            other => self.backend(operation, &path, &other.to_string()),
        }
    }

    /// A [`StoreError::Backend`] with `message` scrubbed.
    pub(crate) fn backend(&self, operation: &'static str, path: &str, message: &str) -> StoreError {
        StoreError::Backend {
            operation,
            path: path.to_owned(),
            store: self.store.to_string(),
            message: scrub(message, &self.secrets),
        }
    }

    /// A local I/O error, e.g. reading the file given to `put_file`.
    pub(crate) fn io(
        &self,
        operation: &'static str,
        path: &str,
        what: &std::path::Path,
        error: &std::io::Error,
    ) -> StoreError {
        self.backend(operation, path, &format!("{}: {error}", what.display()))
    }
}
