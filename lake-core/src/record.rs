//! Name records, lineage and their JSON form.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Digest, Error, Name, Result};

/// Version of the [`Record`] JSON layout. Bump when its fields change meaning.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

/// The immutable record of a name: what it holds and where it came from.
///
/// Stored as `names/<name>.json`. Its existence in the store is what makes the
/// name exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`RECORD_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The name this record belongs to.
    pub name: Name,
    /// blake3 of the content.
    pub blake3: Digest,
    /// Content length in bytes.
    pub size: u64,
    /// When the content was committed.
    pub created_at: DateTime<Utc>,
    /// How the content came to be.
    pub lineage: Lineage,
}

impl Record {
    /// Serializes to pretty JSON, the form stored in the lake.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).expect("record serializes")
    }

    /// Parses stored JSON, refusing records from a newer schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode_versioned(bytes, "name record", RECORD_SCHEMA_VERSION)
    }
}

/// Decodes stored JSON whose top-level `schema_version` this build reads up
/// to `supported`. The version is read first, so a newer layout is reported
/// as such rather than as whatever field it no longer has.
pub(crate) fn decode_versioned<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    supported: u32,
) -> Result<T> {
    #[derive(Deserialize)]
    struct Probe {
        schema_version: u32,
    }
    let decode_error = |source| Error::Decode {
        what: what.to_owned(),
        source,
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(decode_error)?;
    if probe.schema_version > supported {
        return Err(Error::SchemaTooNew {
            what: what.to_owned(),
            found: probe.schema_version,
            supported,
        });
    }
    serde_json::from_slice(bytes).map_err(decode_error)
}

/// Version of the [`RecordPack`] JSON layout. Bump when its fields change
/// meaning.
pub const RECORD_PACK_SCHEMA_VERSION: u32 = 1;

/// Name records created together (by one `lake add -r`), stored as one
/// object at `packs/<name prefix>/<blake3 hex of the pack>.json`, so that
/// another machine learns them with one GET instead of one per name.
///
/// A pack is only an accelerator: `names/<name>.json` stays the truth. A
/// reader trusts an entry only if the store lists `names/<name>.json` with
/// exactly the entry's e-tag, which identifies that object's content (see
/// `docs/design/0008-record-packs.md`).
///
/// # Example
/// ```
/// # use lake_core::{AddedLineage, Digest, Lineage, Name, PackedRecord, Record, RecordPack};
/// # let record = Record {
/// #     schema_version: lake_core::RECORD_SCHEMA_VERSION,
/// #     name: Name::new("raw/a.csv")?,
/// #     blake3: Digest::of(b"a"),
/// #     size: 1,
/// #     created_at: chrono::Utc::now(),
/// #     lineage: Lineage::Added(AddedLineage {
/// #         source: None,
/// #         added_by: "ada@example.com".into(),
/// #         host: "box".into(),
/// #         added_at: chrono::Utc::now(),
/// #         lake_version: "0.1.0".into(),
/// #     }),
/// # };
/// let pack = RecordPack::new(vec![PackedRecord { e_tag: "\"0cc1\"".into(), record }]);
/// assert_eq!(RecordPack::from_json(&pack.to_json())?, pack);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPack {
    /// [`RECORD_PACK_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The packed records.
    pub entries: Vec<PackedRecord>,
}

/// One record of a [`RecordPack`], with the e-tag its `names/<name>.json`
/// object had when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedRecord {
    /// The e-tag the store returned for the conditional create of the record.
    pub e_tag: String,
    /// The record, as written to `names/<name>.json`.
    pub record: Record,
}

impl RecordPack {
    /// A pack of `entries` at the current schema version.
    pub fn new(entries: Vec<PackedRecord>) -> Self {
        Self {
            schema_version: RECORD_PACK_SCHEMA_VERSION,
            entries,
        }
    }

    /// Serializes to compact JSON, the form stored in the lake: packs are
    /// read by programs only, and can hold many thousand records.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec(self).expect("record pack serializes")
    }

    /// Parses stored JSON, refusing packs from a newer schema, and packs
    /// holding records from a newer schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "record pack";
        // The entries' record versions are read before the records
        // themselves, for the same reason as in `decode_versioned`.
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        #[derive(Deserialize)]
        struct Entry {
            record: Version,
        }
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            entries: Vec<Entry>,
        }
        let probe: Probe = decode_versioned(bytes, WHAT, RECORD_PACK_SCHEMA_VERSION)?;
        if let Some(found) = probe
            .entries
            .iter()
            .map(|e| e.record.schema_version)
            .find(|&v| v > RECORD_SCHEMA_VERSION)
        {
            return Err(Error::SchemaTooNew {
                what: "name record in a record pack".to_owned(),
                found,
                supported: RECORD_SCHEMA_VERSION,
            });
        }
        serde_json::from_slice(bytes).map_err(|source| Error::Decode {
            what: WHAT.to_owned(),
            source,
        })
    }
}

/// How a file came to be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Lineage {
    /// Added from outside the lake (`lake add`, [`File::create`](https://docs.rs/lake-runtime)).
    Added(AddedLineage),
    /// Made by a `#[file_creator]` run.
    Created(Box<RunLineage>),
}

/// Lineage of a file added from a path, a URL or a writer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedLineage {
    /// The path or URL it was read from, or `None` for a programmatic write.
    pub source: Option<String>,
    /// Who added it: git `user.email`, else `$USER@host`.
    pub added_by: String,
    /// The machine it was added on.
    pub host: String,
    /// When it was added.
    pub added_at: DateTime<Utc>,
    /// Version of lake that added it.
    pub lake_version: String,
}

/// Full lineage of a `#[file_creator]` output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLineage {
    /// `module_path!()::fn_name` of the creator.
    pub creator: String,
    /// Source file of the creator, as `file!()` gave it.
    pub source_file: String,
    /// Line of the creator's `fn`.
    pub source_line: u32,
    /// The creator's code identity: blake3 hex of its tokens, what they
    /// reach, and the cfg values they test (docs/design/0009).
    pub code_hash: String,
    /// What went into `code_hash`, so that a later re-run can name what
    /// changed. Empty under `version`, and in records written before lake
    /// recorded it (hence the default).
    #[serde(default, skip_serializing_if = "CodeIngredients::is_empty")]
    pub code: CodeIngredients,
    /// `#[file_creator(version = "...")]`, if given.
    pub version: Option<String>,
    /// Key of the run, hex.
    pub run_key: String,
    /// Index of this output among the run's outputs.
    pub output_index: u32,
    /// Every output name of the run, in order.
    pub outputs: Vec<Name>,
    /// Input files, in parameter order.
    pub inputs: Vec<InputRef>,
    /// Arguments that entered the key, in parameter order.
    pub params: Vec<ParamRecord>,
    /// Who ran it: git `user.email`, else `$USER@host`.
    pub originator: String,
    /// Version of lake that ran it.
    pub lake_version: String,
    /// Name of the crate that defines the creator.
    pub crate_name: String,
    /// Version of that crate.
    pub crate_version: String,
    /// Git state of the crate's repository, if it is in one.
    pub git: Option<GitInfo>,
    /// When the body started.
    pub started_at: DateTime<Utc>,
    /// When the body returned.
    pub ended_at: DateTime<Utc>,
    /// `ended_at - started_at`, in milliseconds.
    pub duration_ms: u64,
    /// The machine it ran on.
    pub host: String,
}

/// What went into a creator's code identity (docs/design/0009).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeIngredients {
    /// The items, included files and dependencies, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<CodePart>,
    /// The cfg predicates the code tests, with their values in the build
    /// that ran it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cfg: Vec<CfgValue>,
}

/// One item, included file or dependency in a [`CodeIngredients`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CodePart {
    /// `fn`, `const`, `static`, `struct`, `enum`, `union`, `type`, `trait`,
    /// `impl`, `macro`, `macro_call`, `file` or `dep`.
    pub kind: String,
    /// `helper`, `Display for Shape`, `data/t.txt`, `serde 1.0.228`.
    pub name: String,
    /// The first 16 hex digits of its blake3.
    pub hash: String,
}

/// A cfg predicate and its value, e.g. `feature = "fast"` and `true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CfgValue {
    /// The predicate, as written between `cfg(` and `)`.
    pub predicate: String,
    /// Its value in the build.
    pub value: bool,
}

impl CodeIngredients {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.cfg.is_empty()
    }

    /// What differs from `before` to `self`, for people: `fn helper
    /// changed`, `dep serde 1.0.1 removed`, `cfg feature = "x" true → false`.
    /// Empty when either side recorded nothing.
    pub fn changes_since(&self, before: &CodeIngredients) -> Vec<String> {
        if self.is_empty() || before.is_empty() {
            return Vec::new();
        }
        let key = |p: &CodePart| (p.kind.clone(), p.name.clone());
        let old: BTreeMap<_, _> = before.parts.iter().map(|p| (key(p), &p.hash)).collect();
        let new: BTreeMap<_, _> = self.parts.iter().map(|p| (key(p), &p.hash)).collect();
        let mut out = Vec::new();
        for ((kind, name), hash) in &new {
            match old.get(&(kind.clone(), name.clone())) {
                None => out.push(format!("{kind} {name} added")),
                Some(h) if h != hash => out.push(format!("{kind} {name} changed")),
                Some(_) => {}
            }
        }
        for (kind, name) in old.keys().filter(|k| !new.contains_key(*k)) {
            out.push(format!("{kind} {name} removed"));
        }
        let old_cfg: BTreeMap<_, _> = before.cfg.iter().map(|c| (&c.predicate, c.value)).collect();
        for c in &self.cfg {
            match old_cfg.get(&c.predicate) {
                Some(v) if *v != c.value => {
                    out.push(format!("cfg {} {} → {}", c.predicate, v, c.value))
                }
                None => out.push(format!("cfg {} added", c.predicate)),
                Some(_) => {}
            }
        }
        out
    }
}

/// One input file of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// Parameter name; `param[i]` for elements of a list parameter.
    pub param: String,
    /// The input's name.
    pub name: Name,
    /// The input's content digest.
    pub blake3: Digest,
}

/// One argument of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamRecord {
    /// Parameter name.
    pub name: String,
    /// A JSON rendering for people (not used in the key).
    pub json: serde_json::Value,
    /// blake3 of the canonical bytes that entered the key.
    pub hash: Digest,
}

/// Git state at the time of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// Commit hash of `HEAD`.
    pub commit: Option<String>,
    /// True if tracked files differed from `HEAD`.
    pub dirty: bool,
    /// `origin` (or the first remote) with credentials removed.
    pub remote: Option<String>,
    /// A link to the creator's line on a known forge.
    pub permalink: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            schema_version: RECORD_SCHEMA_VERSION,
            name: Name::new("raw/a.csv").unwrap(),
            blake3: Digest::of(b"a,b\n1,2\n"),
            size: 8,
            created_at: "2026-11-26T03:00:00Z".parse().unwrap(),
            lineage: Lineage::Added(AddedLineage {
                source: Some("/data/a.csv".into()),
                added_by: "ada@example.com".into(),
                host: "box".into(),
                added_at: "2026-11-26T03:00:00Z".parse().unwrap(),
                lake_version: "0.1.0".into(),
            }),
        }
    }

    /// Pins the stored bytes: changing them needs a schema version bump.
    #[test]
    fn golden_added_record_json() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "name": "raw/a.csv",
  "blake3": "DIGEST",
  "size": 8,
  "created_at": "2026-11-26T03:00:00Z",
  "lineage": {
    "kind": "added",
    "source": "/data/a.csv",
    "added_by": "ada@example.com",
    "host": "box",
    "added_at": "2026-11-26T03:00:00Z",
    "lake_version": "0.1.0"
  }
}"#
        .replace("DIGEST", &Digest::of(b"a,b\n1,2\n").to_string());
        assert_eq!(json, expected);
        assert_eq!(Record::from_json(json.as_bytes()).unwrap(), sample());
    }

    fn ingredients(parts: &[(&str, &str, &str)], cfg: &[(&str, bool)]) -> CodeIngredients {
        CodeIngredients {
            parts: parts
                .iter()
                .map(|(k, n, h)| CodePart {
                    kind: (*k).into(),
                    name: (*n).into(),
                    hash: (*h).into(),
                })
                .collect(),
            cfg: cfg
                .iter()
                .map(|(p, v)| CfgValue {
                    predicate: (*p).into(),
                    value: *v,
                })
                .collect(),
        }
    }

    #[test]
    fn code_ingredients_name_what_changed() {
        let before = ingredients(
            &[
                ("fn", "helper", "aa"),
                ("dep", "serde 1.0.1", "bb"),
                ("const", "K", "cc"),
            ],
            &[("feature = \"x\"", false)],
        );
        let after = ingredients(
            &[
                ("fn", "helper", "ab"),
                ("dep", "serde 1.0.2", "bc"),
                ("const", "K", "cc"),
            ],
            &[("feature = \"x\"", true)],
        );
        assert_eq!(
            after.changes_since(&before),
            [
                "dep serde 1.0.2 added",
                "fn helper changed",
                "dep serde 1.0.1 removed",
                "cfg feature = \"x\" false → true",
            ]
        );
        assert!(before.changes_since(&before).is_empty());
        assert!(after.changes_since(&CodeIngredients::default()).is_empty());
    }

    /// A lineage written before the code's ingredients were recorded still
    /// decodes, with none; an empty set is not written at all.
    #[test]
    fn run_lineage_code_ingredients_are_optional() {
        let json = serde_json::json!({
            "creator": "m::f", "source_file": "src/lib.rs", "source_line": 1,
            "code_hash": "ab", "version": null, "run_key": "00", "output_index": 0,
            "outputs": [], "inputs": [], "params": [], "originator": "a@b",
            "lake_version": "0.1.0", "crate_name": "c", "crate_version": "0.1.0",
            "git": null, "started_at": "2026-11-26T03:00:00Z",
            "ended_at": "2026-11-26T03:00:00Z", "duration_ms": 0, "host": "h"
        });
        let mut lineage: RunLineage = serde_json::from_value(json.clone()).unwrap();
        assert!(lineage.code.is_empty());
        assert_eq!(serde_json::to_value(&lineage).unwrap(), json);
        lineage.code = ingredients(&[("fn", "helper", "0123456789abcdef")], &[("unix", true)]);
        let value = serde_json::to_value(&lineage).unwrap();
        assert_eq!(
            value["code"],
            serde_json::json!({
                "parts": [{"kind": "fn", "name": "helper", "hash": "0123456789abcdef"}],
                "cfg": [{"predicate": "unix", "value": true}]
            })
        );
        assert_eq!(
            serde_json::from_value::<RunLineage>(value).unwrap(),
            lineage
        );
    }

    #[test]
    fn refuses_newer_schema() {
        let json = String::from_utf8(sample().to_json())
            .unwrap()
            .replace("\"schema_version\": 1", "\"schema_version\": 99");
        let err = Record::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("schema version 99"), "{err}");
    }

    fn sample_pack() -> RecordPack {
        let mut other = sample();
        other.name = Name::new("raw/b.csv").unwrap();
        RecordPack::new(vec![
            PackedRecord {
                e_tag: "\"8f14e45fceea167a5a36dedd4bea2543\"".into(),
                record: sample(),
            },
            PackedRecord {
                e_tag: "0x8DD2C1E5A3F4B21".into(),
                record: other,
            },
        ])
    }

    #[test]
    fn record_pack_round_trips() {
        let pack = sample_pack();
        let json = pack.to_json();
        assert_eq!(RecordPack::from_json(&json).unwrap(), pack);
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["entries"][0]["record"]["name"], "raw/a.csv");
    }

    #[test]
    fn record_pack_refuses_newer_schema() {
        let json = String::from_utf8(sample_pack().to_json()).unwrap();
        let newer = json.replacen("\"schema_version\":1", "\"schema_version\":7", 1);
        assert_ne!(newer, json);
        let err = RecordPack::from_json(newer.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::SchemaTooNew { found: 7, .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("record pack has schema version 7")
                && message.contains("upgrade lake"),
            "{message}"
        );

        // A current pack holding a record from a newer lake is refused too.
        let newer_record = json.replace(
            "\"record\":{\"schema_version\":1",
            "\"record\":{\"schema_version\":9",
        );
        assert_ne!(newer_record, json);
        let err = RecordPack::from_json(newer_record.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("schema version 9"), "{err}");
    }

    #[test]
    fn record_pack_garbage_is_a_decode_error() {
        let err = RecordPack::from_json(b"{\"schema_version\":1,\"entries\":[{}]}").unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    }
}
