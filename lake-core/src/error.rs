//! Errors of `lake-core`.

/// A string that is not a valid [`Name`](crate::Name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid name {name:?}: {reason}")]
pub struct NameError {
    /// The rejected input, verbatim.
    pub name: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A string that is not 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blake3 digest {value:?}: expected 64 lowercase hex characters")]
pub struct DigestError {
    /// The rejected input, verbatim.
    pub value: String,
}

/// Everything that can go wrong in `lake-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`NameError`].
    #[error(transparent)]
    Name(#[from] NameError),
    /// See [`DigestError`].
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A record or manifest could not be decoded.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded, e.g. `name record "a/b"`.
        what: String,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A record was written by a newer lake.
    #[error(
        "{what} has schema version {found}, but this lake reads up to {supported}; upgrade lake"
    )]
    SchemaTooNew {
        /// What was being decoded.
        what: String,
        /// The version found.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// `runs/<key>.json` holds the manifest of another run.
    #[error("the run manifest stored for key {expected} belongs to key {found}")]
    ForeignManifest {
        /// The key whose manifest was read.
        expected: crate::RunKey,
        /// The key the manifest names.
        found: crate::RunKey,
    },
    /// See [`AnnotationError`](crate::AnnotationError).
    #[error(transparent)]
    Annotation(#[from] crate::AnnotationError),
    /// An argument could not be encoded canonically.
    #[error("cannot encode argument `{param}`: {message}")]
    Encode {
        /// The parameter name.
        param: String,
        /// What went wrong.
        message: String,
    },
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
