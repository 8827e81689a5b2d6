//! The `Store` contract: the few operations lake needs from an object store.
//!
//! Backends live in `lake-runtime`; this module holds the contract, the key
//! layout and the error type, with no I/O.

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::{Digest, Name};

/// A validated key inside a store, relative to the store's root.
///
/// Keys are `/`-separated with no empty, `.` or `..` segment. The layout is
/// the same on every backend:
///
/// ```text
/// blobs/<blake3 hex>   content, written once
/// names/<name>.json    the name record; its existence = the name exists
/// runs/<key hex>.json  run manifest; created last = the run is done
/// notes/<name>.json    mutable annotations, updated by compare-and-swap
/// packs/<name>/<blake3 hex>.json
///                      records created together, to learn many names at once
/// ```
///
/// # Example
/// ```
/// use lake_core::{Name, StorePath};
///
/// let name: Name = "raw/a.csv".parse()?;
/// assert_eq!(StorePath::name_record(&name).as_str(), "names/raw/a.csv.json");
/// assert_eq!(StorePath::name_from_record_path("names/raw/a.csv.json"), Some(name));
/// # Ok::<(), lake_core::NameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath(String);

/// Prefix of content blobs.
pub const BLOBS_PREFIX: &str = "blobs";
/// Prefix of name records.
pub const NAMES_PREFIX: &str = "names";
/// Prefix of run manifests.
pub const RUNS_PREFIX: &str = "runs";
/// Prefix of annotations.
pub const NOTES_PREFIX: &str = "notes";
/// Prefix of record packs (see `docs/design/0008-record-packs.md`).
pub const PACKS_PREFIX: &str = "packs";

impl StorePath {
    /// Validates a raw key.
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let ok = !key.is_empty()
            && key
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'));
        if ok {
            Ok(Self(key.to_owned()))
        } else {
            Err(StoreError::InvalidPath {
                path: key.to_owned(),
            })
        }
    }

    /// `blobs/<hex>`.
    pub fn blob(digest: &Digest) -> Self {
        Self(format!("{BLOBS_PREFIX}/{digest}"))
    }

    /// `names/<name>.json`.
    pub fn name_record(name: &Name) -> Self {
        Self(format!("{NAMES_PREFIX}/{name}.json"))
    }

    /// `notes/<name>.json`.
    pub fn notes(name: &Name) -> Self {
        Self(format!("{NOTES_PREFIX}/{name}.json"))
    }

    /// `runs/<key hex>.json`.
    pub fn run_manifest(key_hex: &str) -> Self {
        Self(format!("{RUNS_PREFIX}/{key_hex}.json"))
    }

    /// `packs/<prefix>/<hex>.json`: a record pack written for the names
    /// below `prefix`, keyed by the digest of its own bytes.
    pub fn record_pack(prefix: &Name, digest: &Digest) -> Self {
        Self(format!("{PACKS_PREFIX}/{prefix}/{digest}.json"))
    }

    /// A bare prefix such as [`NAMES_PREFIX`], for listing.
    pub fn prefix(prefix: &str) -> Self {
        Self(prefix.trim_end_matches('/').to_owned())
    }

    /// The name a `names/<name>.json` key stands for.
    pub fn name_from_record_path(key: &str) -> Option<Name> {
        let inner = key
            .strip_prefix(NAMES_PREFIX)?
            .strip_prefix('/')?
            .strip_suffix(".json")?;
        Name::new(inner).ok()
    }

    /// The name prefix a `packs/<prefix>/<hex>.json` key was written for.
    pub fn pack_prefix_from_path(key: &str) -> Option<Name> {
        let inner = key
            .strip_prefix(PACKS_PREFIX)?
            .strip_prefix('/')?
            .strip_suffix(".json")?;
        let (prefix, hex) = inner.rsplit_once('/')?;
        hex.parse::<Digest>().ok()?;
        Name::new(prefix).ok()
    }

    /// The digest a `blobs/<hex>` key stands for.
    pub fn digest_from_blob_path(key: &str) -> Option<Digest> {
        key.strip_prefix(BLOBS_PREFIX)?
            .strip_prefix('/')?
            .parse()
            .ok()
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({:?})", self.0)
    }
}

/// The version of a stored object, used for compare-and-swap.
///
/// Opaque: compare it only for equality and hand it back to
/// [`PutMode::Update`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The HTTP e-tag, if the backend has one.
    pub e_tag: Option<String>,
    /// A backend version id, if the backend has one.
    pub version: Option<String>,
}

/// What the store knows about one object, without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its key.
    pub path: StorePath,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// Its version, for [`PutMode::Update`].
    pub version: ObjectVersion,
}

/// How [`Store::put`] treats an existing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    Overwrite,
    /// Fail with [`StoreError::AlreadyExists`] if the key exists.
    Create,
    /// Replace only if the current version equals this one, else fail with
    /// [`StoreError::Precondition`].
    Update(ObjectVersion),
}

/// One page of [`Store::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects in ascending key order.
    pub objects: Vec<ObjectMeta>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<StorePath>,
}

/// A streaming read: metadata first, then the content in chunks.
pub struct GetStream {
    /// The object's metadata at the time of the read.
    pub meta: ObjectMeta,
    /// The content.
    pub chunks: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl fmt::Debug for GetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetStream")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// Errors of a [`Store`].
///
/// `NotFound`, `AlreadyExists` and `Precondition` stay distinct because the
/// commit protocol branches on them. Messages never contain credentials:
/// backends identify themselves by a redacted URL.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key does not exist.
    #[error("{path} not found in {store}")]
    NotFound {
        /// The key.
        path: String,
        /// The store, redacted.
        store: String,
    },
    /// A [`PutMode::Create`] found the key already there.
    #[error("{path} already exists in {store}")]
    AlreadyExists {
        /// The key.
        path: String,
        /// The store, redacted.
        store: String,
    },
    /// A [`PutMode::Update`] found a different version.
    #[error("{path} changed concurrently in {store}")]
    Precondition {
        /// The key.
        path: String,
        /// The store, redacted.
        store: String,
    },
    /// The key is malformed.
    #[error("invalid store key {path:?}")]
    InvalidPath {
        /// The key.
        path: String,
    },
    /// The backend cannot do this operation.
    #[error("{store} does not support {operation}")]
    NotSupported {
        /// The operation.
        operation: String,
        /// The store, redacted.
        store: String,
    },
    /// A store URL or option that cannot be used: unknown scheme, missing
    /// bucket, unparsable URL, bad option value.
    #[error("cannot open store {url}: {message}")]
    Config {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it, naming the offending part.
        message: String,
    },
    /// Anything else: network, permissions, server errors.
    #[error("{operation} {path} in {store} failed: {message}")]
    Backend {
        /// The operation, e.g. `get`.
        operation: &'static str,
        /// The key.
        path: String,
        /// The store, redacted.
        store: String,
        /// The backend's message, with credentials removed.
        message: String,
    },
}

impl StoreError {
    /// True for [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True for [`StoreError::AlreadyExists`].
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }
}

/// An object store as lake needs it.
///
/// # Contract
/// Every backend (memory, local directory, S3, Azure, GCS) behaves the same,
/// and `lake_runtime::testing` checks it with one conformance suite.
///
/// - **Atomicity**: a reader sees an object whole or not at all. A `put` that
///   fails or is interrupted leaves the previous state (nothing, or the old
///   object). `put_file` is atomic the same way, even for large files.
/// - **Not found**: `head`, `get` and `put` with [`PutMode::Update`] on a
///   missing key fail with [`StoreError::NotFound`]. `delete` of a missing key
///   succeeds (deletes are idempotent).
/// - **Conditional create**: `put` with [`PutMode::Create`] succeeds for
///   exactly one of any number of concurrent callers; the others get
///   [`StoreError::AlreadyExists`]. It never overwrites.
/// - **Compare-and-swap**: `put` with [`PutMode::Update`] succeeds only if the
///   object's version still equals the given one, else
///   [`StoreError::Precondition`]. The returned version identifies the new
///   content.
/// - **Listing**: `list` returns the objects whose key lies below `prefix`
///   (segment-wise), strictly after `after`, in ascending key order, at most
///   `limit` per page. Following `next` until it is `None` visits each object
///   present for the whole listing exactly once.
/// - **Idempotence**: `put_file` and `put` with [`PutMode::Overwrite`] of the
///   same bytes may be repeated; lake only overwrites content-addressed blobs.
/// - **Secrets**: errors and `Display` never show credentials.
pub trait Store: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Metadata of `path`.
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>>;

    /// Streams the content of `path`.
    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>>;

    /// Streams the bytes `range` of `path`, which must lie within the
    /// object and not be empty. Large downloads read several ranges at once.
    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>>;

    /// Writes `bytes` to `path` under `mode`, returning the new version.
    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>>;

    /// Uploads a local file to `path`, streaming (multipart where the backend
    /// has it), overwriting whatever is there.
    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// One page of the objects below `prefix`, see the contract.
    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>>;

    /// Deletes `path`; succeeds if it is already gone.
    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let d = Digest::of(b"x");
        let blob = StorePath::blob(&d);
        assert_eq!(StorePath::digest_from_blob_path(blob.as_str()), Some(d));
        assert_eq!(StorePath::run_manifest("ab").as_str(), "runs/ab.json");
        assert_eq!(StorePath::name_from_record_path("names/.json"), None);
        assert_eq!(StorePath::name_from_record_path("blobs/x.json"), None);
    }

    #[test]
    fn pack_keys_give_back_their_prefix() {
        let prefix = Name::new("raw/2026").unwrap();
        let d = Digest::of(b"pack");
        let key = StorePath::record_pack(&prefix, &d);
        assert_eq!(key.as_str(), format!("packs/raw/2026/{d}.json"));
        assert_eq!(StorePath::pack_prefix_from_path(key.as_str()), Some(prefix));
        for bad in [
            format!("packs/{d}.json"),
            "packs/raw/not-a-digest.json".to_owned(),
            format!("packs/raw/{d}"),
            format!("names/raw/{d}.json"),
        ] {
            assert_eq!(StorePath::pack_prefix_from_path(&bad), None, "{bad}");
        }
    }

    #[test]
    fn parse_rejects_escapes() {
        for bad in ["", "/a", "a//b", "a/../b", "./a", "a/"] {
            assert!(StorePath::parse(bad).is_err(), "{bad}");
        }
        assert!(StorePath::parse("names/a/b.json").is_ok());
    }
}
