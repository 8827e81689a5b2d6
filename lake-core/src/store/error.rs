//! [`StoreError`], the errors of a [`Store`](super::Store), and
//! [`StoreConfigError`], why a store cannot be opened.

/// Errors of a [`Store`](super::Store).
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
    /// A [`PutMode::Create`](super::PutMode::Create) found the key already there.
    #[error("{path} already exists in {store}")]
    AlreadyExists {
        /// The key.
        path: String,
        /// The store, redacted.
        store: String,
    },
    /// A [`PutMode::Update`](super::PutMode::Update) found a different version.
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
