//! Pointer files: a small JSON document that stands for a file in a store.
//!
//! A pointer can be handed to another process or machine instead of the
//! data (thds.mops' `SrcFile`): whoever resolves it needs a home configured
//! for the same store, and downloads the content only when opening it.

use serde::{Deserialize, Serialize};

use crate::{Digest, Error, Name};

/// Version of the [`Pointer`] JSON layout: bump when it changes.
pub const POINTER_SCHEMA_VERSION: u32 = 1;

/// What a pointer file holds.
///
/// `store` is the store URL with credentials removed; it identifies the
/// store, it does not open it. `blake3` and `size` are the record's at the
/// time the pointer was written, so a pointer that was edited, or that
/// reaches a store whose name holds other content, is refused.
///
/// # Example
/// ```
/// use lake_core::{Digest, Pointer};
///
/// let p = Pointer::new("s3://bucket/lake", "raw/a.csv".parse()?, Digest::of(b"x"), 1);
/// let back = Pointer::from_json(&p.to_json())?;
/// assert_eq!(back, p);
/// # Ok::<(), lake_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// [`POINTER_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The store URL, without credentials.
    pub store: String,
    /// The file's name in that store.
    pub name: Name,
    /// blake3 of the content.
    pub blake3: Digest,
    /// Content length in bytes.
    pub size: u64,
}

impl Pointer {
    /// A pointer at the current schema version. `store` must already be
    /// free of credentials.
    pub fn new(store: impl Into<String>, name: Name, blake3: Digest, size: u64) -> Self {
        Self {
            schema_version: POINTER_SCHEMA_VERSION,
            store: store.into(),
            name,
            blake3,
            size,
        }
    }

    /// The pointer file's bytes (pretty JSON, trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a pointer serializes to JSON");
        bytes.push(b'\n');
        bytes
    }

    /// Decodes a pointer file, refusing a newer schema.
    ///
    /// # Errors
    /// [`Error::Decode`] or [`Error::SchemaTooNew`].
    pub fn from_json(bytes: &[u8]) -> Result<Self, Error> {
        crate::record::decode_versioned(bytes, "pointer file", POINTER_SCHEMA_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the bytes of a pointer file.
    #[test]
    fn golden_pointer_json() {
        let p = Pointer::new(
            "s3://bucket/lake",
            Name::new("raw/a.csv").unwrap(),
            Digest::of(b"a,b\n"),
            4,
        );
        let json = String::from_utf8(p.to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "store": "s3://bucket/lake",
  "name": "raw/a.csv",
  "blake3": "DIGEST",
  "size": 4
}
"#
        .replace("DIGEST", &Digest::of(b"a,b\n").to_string());
        assert_eq!(json, expected);
        assert_eq!(Pointer::from_json(json.as_bytes()).unwrap(), p);
    }

    #[test]
    fn bad_pointers_are_refused() {
        assert!(Pointer::from_json(b"{}").is_err());
        assert!(matches!(
            Pointer::from_json(br#"{"schema_version": 2}"#),
            Err(Error::SchemaTooNew { found: 2, .. })
        ));
        let bad_name =
            br#"{"schema_version":1,"store":"file:///s","name":"../x","blake3":"00","size":1}"#;
        assert!(Pointer::from_json(bad_name).is_err());
    }
}
