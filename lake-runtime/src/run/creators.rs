//! What the macro knows about a creator ([`CreatorInfo`]), the registry of
//! every creator linked into the program, and how a stored lineage differs
//! from a creator now (staleness).

use lake_core::key::CodeIdentity;
use lake_core::{CfgValue, CodeIngredients, CodePart, Name, RunLineage};
use serde::Serialize;

use crate::Error;

/// What the macro knows about a creator, fixed at compile time.
#[derive(Debug)]
pub struct CreatorInfo {
    /// The function's name.
    pub name: &'static str,
    /// `module_path!()` where it is defined.
    pub module_path: &'static str,
    /// What encloses the function within its module, as the macro read it
    /// from the source: `""` for a free function, `"outer()::"` inside
    /// `fn outer`, `"<Double>::"` or `"<Double as Scale>::"` inside an
    /// `impl` block (levels stack up). Part of the identity, so that two
    /// creators of one name in one module never share outputs.
    pub enclosing: &'static str,
    /// `file!()` of its definition.
    pub source_file: &'static str,
    /// Line of its `fn` token.
    pub source_line: u32,
    /// blake3 hex of its tokens and of everything they reach, as the macro
    /// saw them (docs/design/0009); [`CreatorInfo::identity_hash`] mixes in
    /// the cfg values.
    pub code_hash: &'static str,
    /// What `code_hash` covers: (kind, name, first 16 hex of its blake3).
    pub code_parts: &'static [(&'static str, &'static str, &'static str)],
    /// The cfg predicates the code tests, valued in the defining crate.
    pub code_cfg: &'static [(&'static str, bool)],
    /// [`CreatorInfo::identity_hash`], computed once per process.
    pub code_identity: CodeIdentityCell,
    /// `#[file_creator(version = "...")]`.
    pub version: Option<&'static str>,
    /// `CARGO_PKG_NAME` of the defining crate.
    pub crate_name: &'static str,
    /// `CARGO_PKG_VERSION` of the defining crate.
    pub crate_version: &'static str,
    /// `CARGO_MANIFEST_DIR` of the defining crate, to find its git repository.
    pub manifest_dir: &'static str,
}

impl CreatorInfo {
    /// The creator's identity, unique in the program:
    /// `module::path::` + [`enclosing`](Self::enclosing) + name.
    pub fn path(&self) -> String {
        format!("{}::{}{}", self.module_path, self.enclosing, self.name)
    }

    fn location(&self) -> String {
        format!("{}:{}", self.source_file, self.source_line)
    }

    pub(crate) fn code_identity(&self) -> CodeIdentity {
        match self.version {
            Some(v) => CodeIdentity::Version(v.to_owned()),
            None => CodeIdentity::Hash(self.identity_hash().to_owned()),
        }
    }

    /// The code identity: the macro's hash with the cfg values of this
    /// build mixed in, which only the compiled crate knows. Computed on
    /// first use; the warm hit path only reads it.
    pub fn identity_hash(&self) -> &str {
        self.code_identity.0.get_or_init(|| {
            if self.code_cfg.is_empty() {
                return self.code_hash.to_owned();
            }
            let mut hasher = blake3::Hasher::new();
            hasher.update(self.code_hash.as_bytes());
            for (predicate, value) in self.code_cfg {
                hasher.update(&(predicate.len() as u64).to_le_bytes());
                hasher.update(predicate.as_bytes());
                hasher.update(&[u8::from(*value)]);
            }
            hasher.finalize().to_hex().to_string()
        })
    }

    /// What went into [`CreatorInfo::identity_hash`], for the lineage.
    pub fn code_ingredients(&self) -> CodeIngredients {
        if self.version.is_some() {
            return CodeIngredients::default();
        }
        CodeIngredients {
            parts: self
                .code_parts
                .iter()
                .map(|(kind, name, hash)| CodePart {
                    kind: (*kind).to_owned(),
                    name: (*name).to_owned(),
                    hash: (*hash).to_owned(),
                })
                .collect(),
            cfg: self
                .code_cfg
                .iter()
                .map(|(predicate, value)| CfgValue {
                    predicate: (*predicate).to_owned(),
                    value: *value,
                })
                .collect(),
        }
    }
}

/// The lazily computed code identity inside a [`CreatorInfo`]; generated
/// code creates it with [`CodeIdentityCell::new`].
#[derive(Debug, Default)]
pub struct CodeIdentityCell(std::sync::OnceLock<String>);

impl CodeIdentityCell {
    /// An empty cell.
    pub const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }
}

/// Registers a creator with `inventory`; see [`crate::creators`].
#[derive(Debug)]
pub struct Registration(pub &'static CreatorInfo);

inventory::collect!(Registration);

/// A committed output whose creator's code identity differs from the one
/// linked into this program; see [`Lake::stale_outputs`](crate::Lake::stale_outputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaleOutput {
    /// The output's name.
    pub name: Name,
    /// The creator's path.
    pub creator: String,
    /// Why it is stale, e.g. `code changed (hash 1a2b… → 3c4d…)`.
    pub reason: String,
}

/// Why an output made by `lineage` is stale against `current`, if it is.
pub(crate) fn staleness(lineage: &RunLineage, current: &CreatorInfo) -> Option<String> {
    let short = |h: &str| h.chars().take(12).collect::<String>();
    match (lineage.version.as_deref(), current.version) {
        (Some(old), Some(new)) if old != new => {
            Some(format!("version changed from {old:?} to {new:?}"))
        }
        (Some(_), Some(_)) => None,
        (None, Some(new)) => Some(format!("version {new:?} was added since it ran")),
        (Some(old), None) => Some(format!("version {old:?} was removed since it ran")),
        (None, None) if lineage.code_hash != current.identity_hash() => {
            // Name the items that changed when both sides recorded them.
            let changes = current.code_ingredients().changes_since(&lineage.code);
            let detail = match changes.len() {
                0 => String::new(),
                1..=5 => format!(": {}", changes.join(", ")),
                n => format!(": {}, and {} more", changes[..5].join(", "), n - 5),
            };
            Some(format!(
                "code changed (hash {}… → {}…){detail}",
                short(&lineage.code_hash),
                short(current.identity_hash())
            ))
        }
        (None, None) => None,
    }
}

/// Every `#[file_creator]` linked into this program.
pub fn creators() -> impl Iterator<Item = &'static CreatorInfo> {
    inventory::iter::<Registration>.into_iter().map(|r| r.0)
}

/// The first two creators of the program that share an identity, checked
/// once per process. The macro gives nested and `impl` creators distinct
/// identities, but it cannot see every position (a creator generated by a
/// `macro_rules!`, two blocks of one function), and two creators with one
/// identity would hand each other's outputs back: so while any pair exists,
/// every creator call fails, naming both.
pub(super) fn shared_identity() -> Option<Error> {
    static SHARED: std::sync::OnceLock<Option<[String; 3]>> = std::sync::OnceLock::new();
    let [identity, first, second] = SHARED
        .get_or_init(|| first_shared_identity(creators()))
        .as_ref()?;
    Some(Error::DuplicateCreator {
        identity: identity.clone(),
        first: first.clone(),
        second: second.clone(),
    })
}

/// `[identity, first location, second location]` of the first pair of
/// distinct creators with one identity.
fn first_shared_identity<'a>(infos: impl Iterator<Item = &'a CreatorInfo>) -> Option<[String; 3]> {
    let mut seen = std::collections::HashMap::new();
    for info in infos {
        // The same static registered twice is one creator, not two.
        if let Some(other) = seen.insert(info.path(), info)
            && !std::ptr::eq(other, info)
        {
            let (first, second) = if other.location() <= info.location() {
                (other, info)
            } else {
                (info, other)
            };
            return Some([info.path(), first.location(), second.location()]);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use lake_core::Digest;

    use lake_core::{InputRef, ParamRecord};

    use crate::run::differences::key_differences;

    fn info(version: Option<&'static str>, code_hash: &'static str) -> CreatorInfo {
        CreatorInfo {
            name: "f",
            module_path: "m",
            enclosing: "",
            source_file: "src/lib.rs",
            source_line: 1,
            code_hash,
            code_parts: &[],
            code_cfg: &[],
            code_identity: CodeIdentityCell::new(),
            version,
            crate_name: "c",
            crate_version: "0.1.0",
            manifest_dir: ".",
        }
    }

    fn lineage(version: Option<&str>, code_hash: &str) -> RunLineage {
        let now = Utc::now();
        RunLineage {
            creator: "m::f".into(),
            source_file: "src/lib.rs".into(),
            source_line: 1,
            code_hash: code_hash.into(),
            code: CodeIngredients::default(),
            version: version.map(str::to_owned),
            run_key: "00".repeat(32),
            output_index: 0,
            outputs: vec![],
            inputs: vec![],
            params: vec![],
            originator: "a@b".into(),
            lake_version: "0.1.0".into(),
            crate_name: "c".into(),
            crate_version: "0.1.0".into(),
            git: None,
            started_at: now,
            ended_at: now,
            duration_ms: 0,
            host: "h".into(),
        }
    }

    fn param(name: &str, json: serde_json::Value, canonical: &[u8]) -> ParamRecord {
        ParamRecord {
            name: name.into(),
            json,
            hash: Digest::of(canonical),
        }
    }

    fn input(param: &str, name: &str, content: &[u8]) -> InputRef {
        InputRef {
            param: param.into(),
            name: Name::new(name).unwrap(),
            blake3: Digest::of(content),
        }
    }

    #[test]
    fn key_differences_name_each_component() {
        let mut stored = lineage(None, "aaaa");
        stored.params = vec![
            param("x", serde_json::json!(1), b"1"),
            param("mode", serde_json::json!("fast"), b"fast"),
            param("old", serde_json::json!(true), b"t"),
        ];
        stored.inputs = vec![input("data", "raw/a", b"A"), input("ref", "raw/r", b"R")];
        let same_params = stored.params.clone();
        let same_inputs = stored.inputs.clone();
        let current = info(None, "aaaa");

        // Nothing differs that the lineage records: the encoding did.
        let only = key_differences(&stored, &current, &same_params, &same_inputs);
        assert_eq!(only.len(), 1);
        assert!(only[0].contains("key encoding"), "{only:?}");

        let params = vec![
            param("x", serde_json::json!(2), b"2"),
            // Same rendering, other bytes: the encoding changed.
            param("mode", serde_json::json!("fast"), b"fast-v2"),
            param("new", serde_json::json!(0), b"0"),
        ];
        let inputs = vec![
            input("data", "raw/a", b"A2"),
            input("ref", "raw/other", b"R"),
        ];
        let all = key_differences(&stored, &info(None, "bbbb"), &params, &inputs).join("; ");
        for part in [
            "code identity differs (hash aaaa… → bbbb…)",
            "argument x differs (was 1, now 2)",
            "argument mode is encoded differently",
            "argument new is new",
            "argument old is gone",
            "input data (\"raw/a\") has other content",
            "input ref differs (was \"raw/r\", now \"raw/other\")",
        ] {
            assert!(all.contains(part), "{part} missing from {all}");
        }
        assert!(!all.contains("creator"), "{all}");

        let versioned = key_differences(&lineage(Some("1"), "a"), &info(Some("2"), "a"), &[], &[]);
        assert_eq!(versioned, ["version differs (was \"1\", now \"2\")"]);

        let mut moved = lineage(None, "a");
        moved.creator = "other::f".into();
        let why = key_differences(&moved, &info(None, "a"), &[], &[]);
        assert_eq!(why, ["creator differs (made by other::f, now m::f)"]);

        // A long argument is cut, so the message stays short.
        let long = serde_json::json!("x".repeat(500));
        let mut big = lineage(None, "a");
        big.params = vec![param("blob", long, b"1")];
        let why = key_differences(
            &big,
            &info(None, "a"),
            &[param("blob", serde_json::json!(1), b"2")],
            &[],
        );
        assert!(why[0].len() < 200, "{why:?}");
    }

    #[test]
    fn shared_identities_are_found_with_both_locations() {
        let a = Box::leak(Box::new(info(None, "aa")));
        let mut b = info(None, "bb");
        b.source_line = 9;
        let b = Box::leak(Box::new(b));
        let mut nested = info(None, "cc");
        nested.enclosing = "outer()::";
        let nested = Box::leak(Box::new(nested));
        assert_eq!(
            first_shared_identity([&*a, &*nested, &*a].into_iter()),
            None
        );
        assert_eq!(
            first_shared_identity([&*b, &*nested, &*a].into_iter()),
            Some(["m::f".into(), "src/lib.rs:1".into(), "src/lib.rs:9".into()])
        );
        assert_eq!(nested.path(), "m::outer()::f");
    }

    #[test]
    fn staleness_compares_version_before_code_hash() {
        assert_eq!(staleness(&lineage(None, "aaaa"), &info(None, "aaaa")), None);
        assert!(
            staleness(&lineage(None, "aaaa"), &info(None, "bbbb"))
                .unwrap()
                .starts_with("code changed")
        );
        // A pinned version keeps the output fresh across code edits.
        assert_eq!(
            staleness(&lineage(Some("1"), "aaaa"), &info(Some("1"), "bbbb")),
            None
        );
        assert!(staleness(&lineage(Some("1"), "a"), &info(Some("2"), "a")).is_some());
        assert!(staleness(&lineage(None, "a"), &info(Some("2"), "a")).is_some());
        assert!(staleness(&lineage(Some("1"), "a"), &info(None, "a")).is_some());
    }

    #[test]
    fn cfg_values_enter_the_identity() {
        let on = CreatorInfo {
            code_cfg: &[("feature = \"x\"", true)],
            ..info(None, "aaaa")
        };
        let off = CreatorInfo {
            code_cfg: &[("feature = \"x\"", false)],
            ..info(None, "aaaa")
        };
        // Without cfg predicates the macro's hash is the identity.
        assert_eq!(info(None, "aaaa").identity_hash(), "aaaa");
        assert_ne!(on.identity_hash(), off.identity_hash());
        assert_ne!(on.identity_hash(), "aaaa");
        assert_eq!(on.identity_hash().len(), 64);
        // A version ignores them, like every other part of the code.
        let pinned = CreatorInfo {
            version: Some("1"),
            ..on
        };
        assert_eq!(pinned.code_identity(), CodeIdentity::Version("1".into()));
        assert!(pinned.code_ingredients().is_empty());
    }

    #[test]
    fn staleness_names_the_changed_items() {
        let current = CreatorInfo {
            code_parts: &[("const", "LIMIT", "2222"), ("fn", "helper", "1111")],
            ..info(None, "bbbb")
        };
        let mut old = lineage(None, "aaaa");
        old.code = CodeIngredients {
            parts: vec![
                CodePart {
                    kind: "const".into(),
                    name: "LIMIT".into(),
                    hash: "2222".into(),
                },
                CodePart {
                    kind: "fn".into(),
                    name: "helper".into(),
                    hash: "0000".into(),
                },
            ],
            cfg: vec![],
        };
        assert_eq!(
            staleness(&old, &current).unwrap(),
            "code changed (hash aaaa… → bbbb…): fn helper changed"
        );
    }
}
