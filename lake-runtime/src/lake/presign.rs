//! Presigned URLs (issue 13 item 8): a link that lets someone without
//! credentials download one file's content for a while.
//!
//! The URL points at the content's blob, so it serves exactly the bytes the
//! name's record has (blobs are immutable). The recipient gets bytes, not a
//! name: nothing in the URL is verified on their side, so hand out the
//! digest with it (`lake info` shows it) when it matters.

use std::time::Duration;

use lake_core::{Name, StorePath};

use crate::blocking::block_on;
use crate::{Error, File, Lake, Result};

/// The longest validity S3's signature version 4 accepts: a longer one is
/// signed but refused by the server, so it is refused here instead.
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

impl Lake {
    /// A URL anyone can `GET` the content of `name` from, without
    /// credentials, for `expires_in` (at most [`MAX_PRESIGNED_EXPIRY`]).
    /// Reads the record only; downloads nothing.
    ///
    /// # Errors
    /// - [`Error::NotFound`] if no such name;
    /// - [`Error::Config`] for a zero or too long `expires_in`;
    /// - [`Error::Store`] with `NotSupported` where the store cannot sign
    ///   (a local directory, memory, plain HTTP).
    pub async fn presigned_url_async(&self, name: &Name, expires_in: Duration) -> Result<String> {
        if expires_in.is_zero() || expires_in > MAX_PRESIGNED_EXPIRY {
            return Err(Error::Config {
                key: "expires".into(),
                value: format!("{}s", expires_in.as_secs()),
                message: "a presigned URL must expire after more than 0 s and at most 7 days"
                    .into(),
            });
        }
        let record = self.record_async(name).await?;
        let url = self
            .store()
            .signed_get_url(&StorePath::blob(&record.blake3), expires_in)
            .await?;
        Ok(url)
    }

    /// Blocking [`Lake::presigned_url_async`].
    pub fn presigned_url(&self, name: &Name, expires_in: Duration) -> Result<String> {
        block_on(self.presigned_url_async(name, expires_in))
    }
}

impl File {
    /// A URL anyone can download this file's content from, without
    /// credentials, for `expires_in`; see [`Lake::presigned_url_async`].
    pub fn presigned_url(&self, expires_in: Duration) -> Result<String> {
        self.lake().presigned_url(self.name(), expires_in)
    }

    /// Async [`File::presigned_url`].
    pub async fn presigned_url_async(&self, expires_in: Duration) -> Result<String> {
        self.lake()
            .presigned_url_async(self.name(), expires_in)
            .await
    }
}
