//! File names (UIDs) and their validation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::NameError;

/// Longest name accepted, in bytes.
///
/// S3 caps keys at 1024 bytes; the store layout adds a prefix, a suffix and
/// possibly a bucket prefix, so names stay well below that.
pub const MAX_NAME_LEN: usize = 512;

/// Longest segment accepted, in bytes.
///
/// Most filesystems cap a path component at 255 bytes, and a `file://`
/// store writes `names/<name>.json` through a staging file named
/// `<name>.json#<pid><counter>`: `.json`, `#`, a pid of up to 7 digits and a
/// counter of 6 or more. 200 leaves those 55 bytes with room to spare; 250
/// let a name pass validation and then fail on disk with "File name too
/// long", after its blob was written.
pub const MAX_SEGMENT_LEN: usize = 200;

/// Characters that are never allowed in a name.
///
/// These are the characters that `object_store` percent-encodes in a path
/// segment (AWS and GCS advise against them). Refusing them keeps the mapping
/// from a name to a store key the identity, so listing the store gives names
/// back verbatim.
pub const FORBIDDEN_CHARS: &[char] = &[
    '\\', '{', '}', '^', '%', '`', '[', ']', '"', '<', '>', '~', '#', '|', '*', '?',
];

/// Invisible characters that are never allowed in a name, though they are
/// not control characters: the bidirectional overrides, embeddings and
/// isolates (U+202A–U+202E, U+2066–U+2069), the direction marks (U+200E,
/// U+200F, U+061C), zero-width spaces and joiners (U+200B–U+200D, U+2060,
/// U+FEFF), the soft hyphen (U+00AD) and U+180E. With them, two names that
/// print alike, or one that prints as another (`txt.exe` shown as
/// `exe.txt`), could be told apart only by their bytes.
pub const INVISIBLE_CHARS: &[char] = &[
    '\u{00AD}', '\u{061C}', '\u{180E}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}',
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2060}', '\u{2066}', '\u{2067}',
    '\u{2068}', '\u{2069}', '\u{FEFF}',
];

/// The immutable name (UID) of a file in the lake.
///
/// # Invariants
/// A `Name` is relative and `/`-separated. It is non-empty, at most
/// [`MAX_NAME_LEN`] bytes long, and every segment is non-empty, is neither `.`
/// nor `..`, is at most [`MAX_SEGMENT_LEN`] bytes, and holds no control
/// character, NUL, or any of [`FORBIDDEN_CHARS`] or [`INVISIBLE_CHARS`]. So
/// no name can escape the directory it is joined onto, and none can pass
/// for another in a listing.
///
/// # Example
/// ```
/// use lake_core::Name;
///
/// let name: Name = "raw/2026/data.csv".parse()?;
/// assert_eq!(name.as_str(), "raw/2026/data.csv");
/// assert_eq!(name.file_name(), "data.csv");
/// assert!("../etc/passwd".parse::<Name>().is_err());
/// # Ok::<(), lake_core::NameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Validates `name` and wraps it.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        validate(&name)?;
        Ok(Self(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Appends `child` (which may hold several segments) below this name.
    pub fn join(&self, child: &str) -> Result<Self, NameError> {
        Self::new(format!("{}/{}", self.0, child))
    }

    /// True if this name equals `prefix` or lies below it, segment-wise.
    ///
    /// An empty prefix matches every name.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        let prefix = prefix.trim_end_matches('/');
        prefix.is_empty()
            || self.0 == prefix
            || (self.0.starts_with(prefix) && self.0.as_bytes().get(prefix.len()) == Some(&b'/'))
    }
}

fn validate(name: &str) -> Result<(), NameError> {
    let invalid = |reason: String| NameError {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("a name cannot be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(invalid(format!(
            "it is {} bytes long; the limit is {MAX_NAME_LEN}",
            name.len()
        )));
    }
    if name.starts_with('/') {
        return Err(invalid("names are relative; remove the leading '/'".into()));
    }
    for segment in name.split('/') {
        match segment {
            "" => {
                return Err(invalid(
                    "it has an empty segment ('//' or a trailing '/')".into(),
                ));
            }
            "." | ".." => {
                return Err(invalid(format!("a segment cannot be '{segment}'")));
            }
            _ if segment.len() > MAX_SEGMENT_LEN => {
                return Err(invalid(format!(
                    "a segment is {} bytes long; the limit is {MAX_SEGMENT_LEN}",
                    segment.len()
                )));
            }
            _ => {}
        }
        if let Some(c) = segment
            .chars()
            .find(|c| c.is_control() || FORBIDDEN_CHARS.contains(c) || INVISIBLE_CHARS.contains(c))
        {
            let shown = if c.is_control() {
                format!("control character {:?}", c)
            } else if INVISIBLE_CHARS.contains(&c) {
                format!("invisible character U+{:04X}", u32::from(c))
            } else {
                format!("character '{c}'")
            };
            return Err(invalid(format!("{shown} is not allowed in names")));
        }
    }
    Ok(())
}

impl FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Name {
    type Error = NameError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Name {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// Shows the name quoted, like a string, so errors can quote it with `{:?}`.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Name::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a",
            "data.csv",
            "raw/2026-11-26/file name with spaces.parquet",
            "ünïcødé/файл",
            "a/b/c/d/e",
            "x=1,y=2",
        ] {
            assert!(Name::new(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_escapes_and_junk_quoting_the_name() {
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let long_segment = format!("a/{}", "b".repeat(MAX_SEGMENT_LEN + 1));
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "a/../b",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
            "tab\there",
            "a#b",
            "what?",
            "invoice\u{202E}txt.exe",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            long.as_str(),
            long_segment.as_str(),
        ] {
            let err = Name::new(bad).expect_err(bad);
            assert_eq!(err.name, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn invisible_characters_are_named_by_code_point() {
        let err = Name::new("report\u{202E}fdp.exe").unwrap_err();
        assert!(
            err.to_string().contains("invisible character U+202E"),
            "{err}"
        );
    }

    #[test]
    fn the_longest_segment_is_accepted() {
        let longest = format!("a/{}", "b".repeat(MAX_SEGMENT_LEN));
        assert!(Name::new(longest).is_ok());
    }

    #[test]
    fn prefix_matching_is_segment_wise() {
        let n = Name::new("raw/data.csv").unwrap();
        assert!(n.has_prefix(""));
        assert!(n.has_prefix("raw"));
        assert!(n.has_prefix("raw/"));
        assert!(n.has_prefix("raw/data.csv"));
        assert!(!n.has_prefix("ra"));
        assert!(!n.has_prefix("raw/data"));
    }

    #[test]
    fn serde_round_trip_validates() {
        let n = Name::new("a/b").unwrap();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, "\"a/b\"");
        assert_eq!(serde_json::from_str::<Name>(&json).unwrap(), n);
        assert!(serde_json::from_str::<Name>("\"../x\"").is_err());
    }
}
