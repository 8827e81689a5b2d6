//! Tombstones: what a removed name held, and who removed it, why and when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::decode_versioned;
use crate::{Digest, Name, Result};

/// Version of the [`Tombstone`] JSON layout. Bump when its fields change
/// meaning.
pub const TOMBSTONE_SCHEMA_VERSION: u32 = 1;

/// What `lake rm` leaves of a name, stored as `tombstones/<name>.json`
/// (`docs/design/0010-removal.md`).
///
/// It is written before the name record is deleted, so anyone who finds
/// the record gone and then asks for the tombstone finds it. It keeps the
/// digest the name held: a name never means two contents, so re-adding
/// these bytes restores the name, and other bytes are refused.
///
/// # Example
/// ```
/// use lake_core::{Digest, Name, Tombstone};
///
/// let tombstone = Tombstone::new(
///     Name::new("raw/secret.env")?,
///     Digest::of(b"TOKEN=hunter2"),
///     13,
///     "ada@example.com",
///     "box",
///     Some("added by mistake".into()),
///     None,
/// );
/// assert_eq!(Tombstone::from_json(&tombstone.to_json())?, tombstone);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// [`TOMBSTONE_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The removed name.
    pub name: Name,
    /// blake3 of the content it held.
    pub blake3: Digest,
    /// Length of that content in bytes.
    pub size: u64,
    /// Who removed it: git `user.email`, else `$USER@host`, as in lineage.
    pub removed_by: String,
    /// The machine it was removed on.
    pub host: String,
    /// When it was removed.
    pub removed_at: DateTime<Utc>,
    /// Why (`lake rm -m`), if given.
    pub message: Option<String>,
    /// Key (hex) of the run that made the name, whose manifest was deleted
    /// with it: other homes drop that run from their caches, so that none
    /// answers a call with the removed name. `None` for an added file.
    pub run_key: Option<String>,
    /// Version of lake that removed it.
    pub lake_version: String,
}

impl Tombstone {
    /// A tombstone for `name`, which held `blake3` (`size` bytes), removed
    /// now.
    pub fn new(
        name: Name,
        blake3: Digest,
        size: u64,
        removed_by: impl Into<String>,
        host: impl Into<String>,
        message: Option<String>,
        run_key: Option<String>,
    ) -> Self {
        Self {
            schema_version: TOMBSTONE_SCHEMA_VERSION,
            name,
            blake3,
            size,
            removed_by: removed_by.into(),
            host: host.into(),
            removed_at: Utc::now(),
            message,
            run_key,
            lake_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Serializes to pretty JSON, the form stored in the lake.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).expect("tombstone serializes")
    }

    /// Parses stored JSON, refusing tombstones from a newer schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode_versioned(bytes, "tombstone", TOMBSTONE_SCHEMA_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tombstone {
        Tombstone {
            schema_version: TOMBSTONE_SCHEMA_VERSION,
            name: Name::new("raw/secret.env").unwrap(),
            blake3: Digest::of(b"TOKEN=hunter2\n"),
            size: 14,
            removed_by: "ada@example.com".into(),
            host: "box".into(),
            removed_at: "2026-11-29T17:00:00Z".parse().unwrap(),
            message: Some("added by mistake".into()),
            run_key: None,
            lake_version: "0.1.0".into(),
        }
    }

    /// Pins the stored bytes: changing them needs a schema version bump.
    #[test]
    fn golden_tombstone_json() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "name": "raw/secret.env",
  "blake3": "DIGEST",
  "size": 14,
  "removed_by": "ada@example.com",
  "host": "box",
  "removed_at": "2026-11-29T17:00:00Z",
  "message": "added by mistake",
  "run_key": null,
  "lake_version": "0.1.0"
}"#
        .replace("DIGEST", &Digest::of(b"TOKEN=hunter2\n").to_string());
        assert_eq!(json, expected);
        assert_eq!(Tombstone::from_json(json.as_bytes()).unwrap(), sample());
    }

    #[test]
    fn refuses_newer_schema() {
        let json = String::from_utf8(sample().to_json())
            .unwrap()
            .replace("\"schema_version\": 1", "\"schema_version\": 2");
        let err = Tombstone::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("schema version 2"), "{err}");
    }
}
