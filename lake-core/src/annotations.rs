//! Annotations: the mutable part of a file (tags, labels, a timestamp).
//!
//! A file's content, name and record never change; its annotations do. They
//! live in the store at `notes/<name>.json` (see [`notes_path`]) and
//! are updated by compare-and-swap, so they never touch the record, the
//! blob or any run key.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Digest, Error, Name, StorePath};

/// Prefix of annotations in a store: `notes/<name>.json`.
pub const NOTES_PREFIX: &str = "notes";

/// `notes/<name>.json`, where the annotations of `name` live.
///
/// # Example
/// ```
/// use lake_core::{Name, notes_path};
///
/// let name: Name = "raw/a.csv".parse()?;
/// assert_eq!(notes_path(&name).as_str(), "notes/raw/a.csv.json");
/// # Ok::<(), lake_core::NameError>(())
/// ```
pub fn notes_path(name: &Name) -> StorePath {
    // A valid name has no empty, `.` or `..` segment, so neither has this.
    StorePath::parse(&format!("{NOTES_PREFIX}/{name}.json")).expect("a name makes a valid key")
}

/// The name a `notes/<name>.json` key stands for.
pub fn name_from_notes_path(key: &str) -> Option<Name> {
    let inner = key
        .strip_prefix(NOTES_PREFIX)?
        .strip_prefix('/')?
        .strip_suffix(".json")?;
    Name::new(inner).ok()
}

/// Version of the [`Annotations`] JSON layout: bump when it changes.
pub const ANNOTATIONS_SCHEMA_VERSION: u32 = 1;

/// Longest tag key or label, in bytes.
pub const MAX_ANNOTATION_KEY_LEN: usize = 128;

/// The value of a tag: a JSON scalar (no `null`, arrays or objects, so that
/// `lake ls --tag k=v` can compare it with a string from the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TagValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A finite floating-point number.
    Float(f64),
    /// A string.
    Text(String),
}

impl TagValue {
    /// Parses a value given on the command line: `true`/`false`, a whole
    /// number, a finite float, else the text itself. Quote a value to keep
    /// it text: `'"42"'` is the string `42`.
    pub fn parse_cli(text: &str) -> Self {
        if let Some(inner) = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|_| text.len() >= 2)
        {
            return Self::Text(inner.to_owned());
        }
        match text {
            "true" => return Self::Bool(true),
            "false" => return Self::Bool(false),
            _ => {}
        }
        if let Ok(n) = text.parse::<i64>() {
            return Self::Int(n);
        }
        match text.parse::<f64>() {
            // "inf" and "NaN" parse as floats but are no JSON number.
            Ok(f) if f.is_finite() && text.bytes().any(|b| b.is_ascii_digit()) => Self::Float(f),
            _ => Self::Text(text.to_owned()),
        }
    }

    /// True if this value, rendered as on the command line, is `text`
    /// (`--tag n=3` matches the number 3 and the string "3").
    pub fn matches_text(&self, text: &str) -> bool {
        match (self, Self::parse_cli(text)) {
            (Self::Text(s), _) => s == text || Self::Text(s.clone()) == Self::parse_cli(text),
            (value, parsed) => *value == parsed,
        }
    }
}

impl fmt::Display for TagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl From<bool> for TagValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<i64> for TagValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<i32> for TagValue {
    fn from(v: i32) -> Self {
        Self::Int(v.into())
    }
}

impl From<f64> for TagValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

impl From<&str> for TagValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for TagValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

/// A tag key, label or tag value that annotations refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct AnnotationError {
    /// `tag key`, `tag value` or `label`.
    pub what: &'static str,
    /// The rejected input, verbatim.
    pub value: String,
    /// Why it was rejected.
    pub reason: String,
}

/// The mutable annotations of one file: tags, labels and a timestamp.
///
/// - **tags**: key → [`TagValue`] (a JSON scalar). A key is 1 to
///   [`MAX_ANNOTATION_KEY_LEN`] printable characters with no `=`, whitespace
///   or control character.
/// - **labels**: a set of lowercase strings. Input is normalised (trimmed
///   and lowercased), then must be 1 to [`MAX_ANNOTATION_KEY_LEN`] of
///   `a-z`, `0-9`, `-`, `_`, `.`, `:` and `/`.
/// - **timestamp**: any instant the user attaches (when a measurement was
///   taken, say); unrelated to the record's creation time.
///
/// Stored as JSON with a [`schema_version`](Self::schema_version); its
/// bytes are pinned by a golden test.
///
/// # Example
/// ```
/// use lake_core::Annotations;
///
/// let mut a = Annotations::default();
/// a.set_tag("site", "north")?.set_tag("run", 3)?;
/// a.add_label(" Calibrated ")?;
/// assert!(a.has_label("calibrated"));
/// assert_eq!(a.tag("run").map(|v| v.to_string()), Some("3".into()));
/// # Ok::<(), lake_core::AnnotationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotations {
    /// [`ANNOTATIONS_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    #[serde(default)]
    tags: BTreeMap<String, TagValue>,
    #[serde(default)]
    labels: BTreeSet<String>,
    #[serde(default)]
    timestamp: Option<DateTime<Utc>>,
}

impl Default for Annotations {
    fn default() -> Self {
        Self {
            schema_version: ANNOTATIONS_SCHEMA_VERSION,
            tags: BTreeMap::new(),
            labels: BTreeSet::new(),
            timestamp: None,
        }
    }
}

impl Annotations {
    /// The tags, sorted by key.
    pub fn tags(&self) -> &BTreeMap<String, TagValue> {
        &self.tags
    }

    /// The value of tag `key`.
    pub fn tag(&self, key: &str) -> Option<&TagValue> {
        self.tags.get(key)
    }

    /// Sets tag `key` to `value`, replacing any previous value.
    ///
    /// # Errors
    /// When `key` is not a valid tag key or `value` a non-finite float.
    pub fn set_tag(
        &mut self,
        key: &str,
        value: impl Into<TagValue>,
    ) -> Result<&mut Self, AnnotationError> {
        check_tag_key(key)?;
        let value = value.into();
        if let TagValue::Float(f) = value
            && !f.is_finite()
        {
            return Err(AnnotationError {
                what: "tag value",
                value: f.to_string(),
                reason: "a tag's number must be finite (JSON has no NaN or infinity)".into(),
            });
        }
        self.tags.insert(key.to_owned(), value);
        Ok(self)
    }

    /// Removes tag `key`; returns its value if it was set.
    pub fn remove_tag(&mut self, key: &str) -> Option<TagValue> {
        self.tags.remove(key)
    }

    /// The labels, sorted.
    pub fn labels(&self) -> &BTreeSet<String> {
        &self.labels
    }

    /// True if the (normalised) `label` is set.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.contains(&normalize_label_text(label))
    }

    /// Adds `label`, normalised; returns false if it was already there.
    ///
    /// # Errors
    /// When the normalised label is empty, too long, or has a character
    /// other than `a-z 0-9 - _ . : /`; the error quotes the input.
    pub fn add_label(&mut self, label: &str) -> Result<bool, AnnotationError> {
        Ok(self.labels.insert(normalize_label(label)?))
    }

    /// Removes `label` (normalised); returns false if it was not there.
    pub fn remove_label(&mut self, label: &str) -> bool {
        self.labels.remove(&normalize_label_text(label))
    }

    /// The user's timestamp.
    pub fn timestamp(&self) -> Option<DateTime<Utc>> {
        self.timestamp
    }

    /// Sets (or with `None` clears) the timestamp.
    pub fn set_timestamp(&mut self, timestamp: Option<DateTime<Utc>>) -> &mut Self {
        self.timestamp = timestamp;
        self
    }

    /// True if there are no tags, labels or timestamp.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.labels.is_empty() && self.timestamp.is_none()
    }

    /// blake3 of the canonical encoding ([`canonical_bytes`](crate::canonical_bytes))
    /// of these annotations: equal annotations give equal digests on every
    /// machine, whatever order they were set in.
    pub fn metadata_digest(&self) -> Digest {
        // Only serde-derived maps, sets, strings, numbers and an Option:
        // the canonical encoder accepts them all.
        let bytes =
            crate::canonical_bytes(self).expect("annotations always have a canonical encoding");
        Digest::of(&bytes)
    }

    /// The stored JSON (pretty, keys in a fixed order, trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes =
            serde_json::to_vec_pretty(self).expect("annotations always serialize to JSON");
        bytes.push(b'\n');
        bytes
    }

    /// Decodes stored JSON, refusing a newer schema and re-checking every
    /// key and label (the object may have been written by hand).
    ///
    /// # Errors
    /// [`Error::Decode`] for bad JSON or a bad key or label,
    /// [`Error::SchemaTooNew`] for a newer layout.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Self, Error> {
        let annotations: Self =
            crate::record::decode_versioned(bytes, what, ANNOTATIONS_SCHEMA_VERSION)?;
        let decode = |source| Error::Decode {
            what: what.to_owned(),
            source,
        };
        for key in annotations.tags.keys() {
            check_tag_key(key).map_err(|e| decode(serde::de::Error::custom(e)))?;
        }
        for label in &annotations.labels {
            if normalize_label(label).as_deref() != Ok(label.as_str()) {
                return Err(decode(serde::de::Error::custom(format!(
                    "label {label:?} is not normalised"
                ))));
            }
        }
        Ok(annotations)
    }
}

/// `Err` naming `value` if there is a `reason` to refuse it.
fn refuse_if(
    what: &'static str,
    value: &str,
    reason: Option<String>,
) -> Result<(), AnnotationError> {
    match reason {
        Some(reason) => Err(AnnotationError {
            what,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Why `text` is not 1 to [`MAX_ANNOTATION_KEY_LEN`] bytes of characters
/// that pass `allowed`, if it is not.
fn length_or_char_problem(
    text: &str,
    kind: &str,
    allowed: impl Fn(char) -> bool,
    hint: &str,
) -> Option<String> {
    if text.is_empty() {
        Some(format!("a {kind} cannot be empty"))
    } else if text.len() > MAX_ANNOTATION_KEY_LEN {
        Some(format!("longer than {MAX_ANNOTATION_KEY_LEN} bytes"))
    } else {
        text.chars()
            .find(|c| !allowed(*c))
            .map(|c| format!("{c:?} is not allowed in a {kind}{hint}"))
    }
}

fn check_tag_key(key: &str) -> Result<(), AnnotationError> {
    let allowed = |c: char| !(c == '=' || c.is_whitespace() || c.is_control());
    refuse_if(
        "tag key",
        key,
        length_or_char_problem(key, "tag key", allowed, ""),
    )
}

fn normalize_label_text(label: &str) -> String {
    label.trim().to_lowercase()
}

/// Normalises `label` (trim, lowercase) and checks it.
///
/// # Errors
/// As [`Annotations::add_label`].
pub fn normalize_label(label: &str) -> Result<String, AnnotationError> {
    let normal = normalize_label_text(label);
    let allowed = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.' | ':' | '/');
    let hint = " (labels use a-z 0-9 - _ . : /)";
    refuse_if(
        "label",
        label,
        length_or_char_problem(&normal, "label", allowed, hint),
    )?;
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Annotations {
        let mut a = Annotations::default();
        a.set_tag("site", "north").unwrap();
        a.set_tag("run", 3).unwrap();
        a.set_tag("ok", true).unwrap();
        a.set_tag("gain", 1.5).unwrap();
        a.add_label("Calibrated").unwrap();
        a.add_label("raw").unwrap();
        a.set_timestamp(Some("2026-11-26T03:00:00Z".parse().unwrap()));
        a
    }

    /// Pins the stored bytes: changing them needs a schema version bump.
    #[test]
    fn golden_annotations_json() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "tags": {
    "gain": 1.5,
    "ok": true,
    "run": 3,
    "site": "north"
  },
  "labels": [
    "calibrated",
    "raw"
  ],
  "timestamp": "2026-11-26T03:00:00Z"
}
"#;
        assert_eq!(json, expected);
        assert_eq!(
            Annotations::from_json(json.as_bytes(), "notes").unwrap(),
            sample()
        );
    }

    /// Pins the metadata digest of the sample: it changes only with the
    /// canonical encoding or the layout.
    #[test]
    fn golden_metadata_digest() {
        let a = sample();
        let mut b = Annotations::default();
        // Another order of the same updates.
        b.set_timestamp(a.timestamp());
        b.add_label("RAW").unwrap();
        b.set_tag("gain", 1.5).unwrap();
        b.add_label("calibrated").unwrap();
        b.set_tag("ok", true).unwrap();
        b.set_tag("run", 3).unwrap();
        b.set_tag("site", "north").unwrap();
        assert_eq!(a.metadata_digest(), b.metadata_digest());
        b.set_tag("run", 4).unwrap();
        assert_ne!(a.metadata_digest(), b.metadata_digest());
        assert_ne!(
            Annotations::default().metadata_digest(),
            a.metadata_digest()
        );
    }

    #[test]
    fn labels_are_normalised_and_checked() {
        let mut a = Annotations::default();
        assert!(a.add_label("  Mixed-Case ").unwrap());
        assert!(!a.add_label("mixed-case").unwrap());
        assert!(a.has_label("MIXED-CASE"));
        for bad in ["", "   ", "two words", "semi;colon", "émoji🙂"] {
            let err = a.add_label(bad).unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(a.remove_label("Mixed-Case"));
    }

    #[test]
    fn tag_keys_and_values_are_checked() {
        let mut a = Annotations::default();
        for bad in ["", "a=b", "a b", "tab\t"] {
            let err = a.set_tag(bad, 1).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(a.set_tag("x", f64::NAN).is_err());
    }

    #[test]
    fn cli_values_parse_to_scalars() {
        assert_eq!(TagValue::parse_cli("42"), TagValue::Int(42));
        assert_eq!(TagValue::parse_cli("-1.5"), TagValue::Float(-1.5));
        assert_eq!(TagValue::parse_cli("true"), TagValue::Bool(true));
        assert_eq!(TagValue::parse_cli("inf"), TagValue::Text("inf".into()));
        assert_eq!(TagValue::parse_cli("\"42\""), TagValue::Text("42".into()));
        assert_eq!(TagValue::parse_cli("north"), TagValue::Text("north".into()));
        assert!(TagValue::Int(3).matches_text("3"));
        assert!(TagValue::Text("3".into()).matches_text("3"));
        assert!(TagValue::Text("north".into()).matches_text("north"));
        assert!(!TagValue::Int(3).matches_text("4"));
    }

    #[test]
    fn newer_schema_is_refused() {
        let err = Annotations::from_json(br#"{"schema_version": 99}"#, "notes of a").unwrap_err();
        assert!(
            matches!(err, Error::SchemaTooNew { found: 99, .. }),
            "{err}"
        );
        let err =
            Annotations::from_json(br#"{"schema_version": 1, "labels": ["Up"]}"#, "n").unwrap_err();
        assert!(err.to_string().contains("\"Up\""), "{err}");
    }
}
