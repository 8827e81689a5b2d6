//! Run manifests: `runs/<key hex>.json`, the proof that a run finished.
//!
//! A run uploads its blobs, then its name records, then its manifest
//! (docs/design/0000-design.md), so a manifest exists only for a complete
//! run. Whoever creates it first wins; a later run of the same key reads
//! the winner's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::key::RunKey;
use crate::record::decode_versioned;
use crate::{Digest, Error, Name, Result};

/// Version of the [`RunManifest`] JSON layout. Bump when its fields change
/// meaning.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// `runs/<key hex>.json`: the outputs of one finished run, in order.
///
/// ```
/// use lake_core::{Digest, ManifestOutput, RunKey, RunManifest};
///
/// let key: RunKey = "ab".repeat(32).parse()?;
/// let output = ManifestOutput {
///     name: "clean/abababababababab".parse()?,
///     blake3: Digest::of(b"x"),
///     size: 1,
/// };
/// let manifest = RunManifest::new(key, "etl::clean", "c0de", None, vec![output]);
/// let stored = manifest.to_json();
/// assert_eq!(RunManifest::from_json_for(&stored, &key)?, manifest);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// [`MANIFEST_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The run key.
    pub key: RunKey,
    /// The creator's path (`module::name`).
    pub creator: String,
    /// The creator's code identity hash, or its `version`'s, at the time.
    pub code_hash: String,
    /// The creator's `version`, if it has one.
    pub version: Option<String>,
    /// The outputs, in the order the creator returns them.
    pub outputs: Vec<ManifestOutput>,
    /// When the manifest was written.
    pub committed_at: DateTime<Utc>,
}

/// One output in a [`RunManifest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestOutput {
    /// Its name.
    pub name: Name,
    /// blake3 of its content.
    pub blake3: Digest,
    /// Its size in bytes.
    pub size: u64,
}

impl RunManifest {
    /// A manifest at the current schema version, committed now.
    pub fn new(
        key: RunKey,
        creator: impl Into<String>,
        code_hash: impl Into<String>,
        version: Option<String>,
        outputs: Vec<ManifestOutput>,
    ) -> Self {
        Self {
            schema_version: MANIFEST_SCHEMA_VERSION,
            key,
            creator: creator.into(),
            code_hash: code_hash.into(),
            version,
            outputs,
            committed_at: Utc::now(),
        }
    }

    /// Serializes to pretty JSON, the form stored in the lake.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_vec_pretty(self).expect("run manifest serializes")
    }

    /// Parses stored JSON, refusing manifests from a newer schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode_versioned(bytes, "run manifest", MANIFEST_SCHEMA_VERSION)
    }

    /// Parses the manifest stored for `key`, refusing one that names
    /// another key: its outputs belong to another run, and serving them
    /// would be a false hit.
    pub fn from_json_for(bytes: &[u8], key: &RunKey) -> Result<Self> {
        let manifest = Self::from_json(bytes)?;
        if manifest.key != *key {
            return Err(Error::ForeignManifest {
                expected: *key,
                found: manifest.key,
            });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunManifest {
        RunManifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            key: "0f".repeat(32).parse().unwrap(),
            creator: "etl::clean".into(),
            code_hash: "c0de".into(),
            version: Some("2".into()),
            outputs: vec![ManifestOutput {
                name: "clean/0f0f0f0f0f0f0f0f".parse().unwrap(),
                blake3: Digest::of(b"a,b\n"),
                size: 4,
            }],
            committed_at: "2026-11-26T03:00:00Z".parse().unwrap(),
        }
    }

    /// Pins the stored bytes: changing them needs a schema version bump.
    #[test]
    fn golden_run_manifest_json() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "key": "KEY",
  "creator": "etl::clean",
  "code_hash": "c0de",
  "version": "2",
  "outputs": [
    {
      "name": "clean/0f0f0f0f0f0f0f0f",
      "blake3": "DIGEST",
      "size": 4
    }
  ],
  "committed_at": "2026-11-26T03:00:00Z"
}"#
        .replace("KEY", &"0f".repeat(32))
        .replace("DIGEST", &Digest::of(b"a,b\n").to_string());
        assert_eq!(json, expected);
        assert_eq!(RunManifest::from_json(json.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn newer_schema_is_refused_as_too_new() {
        let json = String::from_utf8(sample().to_json())
            .unwrap()
            .replace("\"schema_version\": 1", "\"schema_version\": 9");
        let error = RunManifest::from_json(json.as_bytes()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::SchemaTooNew {
                    found: 9,
                    supported: 1,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("run manifest"), "{error}");
    }

    #[test]
    fn manifest_of_another_key_is_refused_naming_both() {
        let other: RunKey = "1e".repeat(32).parse().unwrap();
        let error = RunManifest::from_json_for(&sample().to_json(), &other).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(&"1e".repeat(32)), "{message}");
        assert!(message.contains(&"0f".repeat(32)), "{message}");
    }

    #[test]
    fn garbage_is_a_decode_error_naming_the_manifest() {
        let error = RunManifest::from_json(b"{\"schema_version\": 1, \"key\": 3}").unwrap_err();
        assert!(matches!(error, Error::Decode { .. }), "{error}");
        assert!(
            error.to_string().starts_with("cannot decode run manifest"),
            "{error}"
        );
    }
}
