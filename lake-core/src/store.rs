//! The `Store` contract: the few operations lake needs from an object store.
//!
//! Backends live in `lake-runtime`; this module holds the contract, the key
//! layout and the error type, with no I/O.

use std::fmt;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{BoxStream, TryStreamExt};

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
    #[error("cannot open store {url}: {source}")]
    Config {
        /// The URL, redacted.
        url: String,
        /// What is wrong with it, naming the offending part.
        source: StoreConfigError,
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

/// Why a store URL or its options cannot be used, the `source` of
/// [`StoreError::Config`].
///
/// Messages are one lowercase line naming the offending value; they never
/// contain credentials (values of secret options are never quoted, and
/// backend messages are scrubbed before they get here).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreConfigError {
    /// The URL is empty or blank.
    #[error("the store url is empty")]
    EmptyUrl,
    /// The URL starts with a scheme no backend has.
    #[error("unsupported store url scheme {scheme:?}; accepted forms: {accepted}")]
    UnsupportedScheme {
        /// The scheme as written.
        scheme: String,
        /// The URL forms that are accepted, for the message.
        accepted: &'static str,
    },
    /// A known scheme not followed by `//`, such as `s3:/bucket`.
    #[error(
        "malformed {scheme} store url (expected {scheme}:// then the location); \
         accepted forms: {accepted}"
    )]
    MissingSlashes {
        /// The scheme, lowercase.
        scheme: String,
        /// The URL forms that are accepted, for the message.
        accepted: &'static str,
    },
    /// A `file:` URL without an absolute path.
    #[error(
        "a file store url needs an absolute path, as in file:///absolute/path; \
         accepted forms: {accepted}"
    )]
    RelativeFileUrl {
        /// The URL forms that are accepted, for the message.
        accepted: &'static str,
    },
    /// The URL does not parse.
    #[error("not a valid url: {reason}")]
    InvalidUrl {
        /// The parser's message.
        reason: String,
    },
    /// A `file://` URL that names a host other than `localhost`.
    #[error("file urls cannot name a remote host; use file:///absolute/path")]
    RemoteFileHost {
        /// The host named.
        host: String,
    },
    /// A `file://` URL whose path is not an absolute local path.
    #[error("not an absolute file path")]
    NotAFilePath,
    /// A local store's directory cannot be made absolute.
    #[error("cannot resolve {}: {source}", path.display())]
    ResolvePath {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A local store's directory cannot be created.
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path of a `memory://` URL is not a valid prefix.
    #[error("bad prefix: {reason}")]
    InvalidPrefix {
        /// Why, from the path parser.
        reason: String,
    },
    /// An `http(s)://` URL without a host.
    #[error("missing host")]
    MissingHost,
    /// A cloud URL without a bucket or container.
    #[error("missing bucket or container; expected {scheme}://NAME[/PREFIX]")]
    MissingBucket {
        /// The scheme.
        scheme: String,
    },
    /// A cloud URL that names no kind of store `object_store` knows.
    #[error("unrecognised url: {reason}")]
    UnrecognisedUrl {
        /// The parser's message.
        reason: String,
    },
    /// A cloud URL of a kind lake does not open.
    #[error("unsupported store kind {kind}")]
    UnsupportedKind {
        /// The kind.
        kind: String,
    },
    /// An option this kind of store does not take.
    #[error(
        "unknown option {key:?} for {store_kind}; valid options: {}",
        list_or_none(valid)
    )]
    UnknownOption {
        /// The option's key, as written.
        key: String,
        /// The kind of store, e.g. `an s3 store`.
        store_kind: &'static str,
        /// Every key this kind of store takes.
        valid: Vec<&'static str>,
    },
    /// An option that must be `true` or `false`.
    #[error("{key} must be true or false, not {value:?}")]
    InvalidBool {
        /// The option's key.
        key: &'static str,
        /// The value given.
        value: String,
    },
    /// An option value that does not parse.
    #[error("invalid value {value:?} for option {key}: expected {expected}")]
    InvalidValue {
        /// The option's key.
        key: String,
        /// The value given.
        value: String,
        /// What the value should look like, e.g. `a whole number`.
        expected: &'static str,
    },
    /// The user name or password of a URL cannot travel in an HTTP header.
    #[error("the url's user name or password is not valid in a header")]
    InvalidUserInfo,
    /// The backend's builder refused the configuration.
    #[error("cannot configure the store: {reason}")]
    Builder {
        /// The builder's message, with credentials removed.
        reason: String,
    },
}

/// `a, b, c`, or `none` for an empty list.
fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
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

impl GetStream {
    /// The whole content, in memory.
    pub async fn into_bytes(self) -> Result<Bytes, StoreError> {
        let chunks: Vec<Bytes> = self.chunks.try_collect().await?;
        Ok(match <[Bytes; 1]>::try_from(chunks) {
            // One chunk, the common case for small objects: no copy.
            Ok([only]) => only,
            Err(chunks) => chunks.concat().into(),
        })
    }

    /// The blake3 digest and length of the content, read chunk by chunk
    /// without holding it in memory.
    pub async fn into_digest(mut self) -> Result<(Digest, u64), StoreError> {
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = self.chunks.try_next().await? {
            size += chunk.len() as u64;
            hasher.update(&chunk);
        }
        Ok((hasher.finalize().into(), size))
    }
}

/// Conveniences over any [`Store`], including `dyn Store`: whole reads,
/// complete listings and hashing, each a loop over the contract's
/// operations. Implemented for every store; not meant to be implemented by
/// hand.
///
/// # Example
/// ```
/// use lake_core::{Digest, Store, StoreError, StoreExt, StorePath};
///
/// /// Whether every blob below `blobs/` holds the content its key names.
/// async fn blobs_are_intact(store: &dyn Store) -> Result<bool, StoreError> {
///     for meta in store.list_all(&StorePath::prefix("blobs"), 1000).await? {
///         let (digest, _size) = store.hash_object(&meta.path).await?;
///         if StorePath::digest_from_blob_path(meta.path.as_str()) != Some(digest) {
///             return Ok(false);
///         }
///     }
///     Ok(true)
/// }
///
/// async fn first_name_record(store: &dyn Store) -> Result<Vec<u8>, StoreError> {
///     store.read_all(&StorePath::parse("names/a.json")?).await.map(Vec::from)
/// }
/// ```
pub trait StoreExt: Store {
    /// The whole content of `path`, in memory: for small objects such as
    /// records and manifests. A missing key is [`StoreError::NotFound`].
    fn read_all<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<Bytes, StoreError>> {
        async move { self.get(path).await?.into_bytes().await }.boxed()
    }

    /// Every object below `prefix`, following [`ListPage::next`] with pages
    /// of at most `page_size` objects, in ascending key order.
    ///
    /// A listing whose `next` does not move forward is a
    /// [`StoreError::Backend`] error rather than an endless loop.
    fn list_all<'a>(
        &'a self,
        prefix: &'a StorePath,
        page_size: usize,
    ) -> BoxFuture<'a, Result<Vec<ObjectMeta>, StoreError>> {
        async move {
            let mut objects = Vec::new();
            let mut after: Option<StorePath> = None;
            loop {
                let page = self.list(prefix, after.as_ref(), page_size).await?;
                objects.extend(page.objects);
                match page.next {
                    None => return Ok(objects),
                    Some(next) if after.as_ref().is_some_and(|after| next <= *after) => {
                        return Err(StoreError::Backend {
                            operation: "list",
                            path: prefix.to_string(),
                            store: self.to_string(),
                            message: format!("the listing does not advance past {next}"),
                        });
                    }
                    Some(next) => after = Some(next),
                }
            }
        }
        .boxed()
    }

    /// The blake3 digest and length of the content of `path`, streamed.
    /// A missing key is [`StoreError::NotFound`].
    fn hash_object<'a>(
        &'a self,
        path: &'a StorePath,
    ) -> BoxFuture<'a, Result<(Digest, u64), StoreError>> {
        async move { self.get(path).await?.into_digest().await }.boxed()
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

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
