//! `runs/<key>.json`, the stored proof that a run finished.

use chrono::{DateTime, Utc};
use lake_core::key::RunKey;
use lake_core::{Digest, Name};
use serde::{Deserialize, Serialize};

/// Version of the [`RunManifest`] JSON layout.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// `runs/<key>.json`: the proof that a run finished, and its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// [`MANIFEST_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The run key, hex.
    pub key: RunKey,
    /// The creator's path.
    pub creator: String,
    /// The creator's code hash at the time.
    pub code_hash: String,
    /// The creator's `version`, if any.
    pub version: Option<String>,
    /// Outputs in order.
    pub outputs: Vec<ManifestOutput>,
    /// When the manifest was written.
    pub committed_at: DateTime<Utc>,
}

/// One output in a [`RunManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutput {
    /// Its name.
    pub name: Name,
    /// Its digest.
    pub blake3: Digest,
    /// Its size.
    pub size: u64,
}
