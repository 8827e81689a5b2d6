//! The identity of creators in synthetic packages written to temp dirs.
//! Each variant of a package gets its own directory, which also checks that
//! the identity does not depend on where a checkout lives.

use std::path::Path;

use super::*;

const MANIFEST: &str = r#"
[package]
name = "demo"
version = "0.1.0"
edition = "2024"

[dependencies]
serde = { version = "1", features = ["derive"] }
num = { package = "itoa", version = "1" }
helper-dep = { path = "../helper-dep" }
anyhow = "1"
lake-runtime = { path = "../lake-runtime" }
"#;

const LOCK: &str = r#"
version = 4

[[package]]
name = "anyhow"
version = "1.0.90"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "demo"
version = "0.1.0"
dependencies = ["anyhow", "helper-dep", "itoa", "lake-runtime", "serde"]

[[package]]
name = "helper-dep"
version = "0.1.0"

[[package]]
name = "itoa"
version = "1.0.11"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "lake-runtime"
version = "0.1.0"
dependencies = ["tokio"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cccc"
dependencies = ["serde_derive"]

[[package]]
name = "serde_derive"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "dddd"

[[package]]
name = "tokio"
version = "1.40.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "eeee"
"#;

const LIB: &str = r#"
//! The demo crate.
mod steps;
pub mod util;

pub const LIMIT: u32 = 3;
pub type Num = u64;
macro_rules! twice { ($e:expr) => { $e * 2 } }
pub(crate) use twice;

/// Adds the limit.
pub fn helper(x: u32) -> u32 {
    x + LIMIT
}

pub fn unrelated() -> u32 { 7 }

pub struct Shape { pub side: u32 }
impl Shape {
    pub fn area(&self) -> u32 { self.side * self.side }
}
"#;

const STEPS: &str = r#"
use lake_runtime::{file_creator, File};
use crate::*;
use helper_dep::scale;

#[file_creator]
pub fn step(n: u32) -> File {
    let a = helper(n);
    let b: Num = twice!(a) as Num;
    let t = include_str!("data.txt");
    let s = scale(b) + Shape { side: 2 }.area() as u64;
    let inner = inner_step(s);
    if cfg!(feature = "fast") {}
    make(t, inner)
}

#[file_creator]
fn inner_step(x: u64) -> u64 { deep(x) }

fn deep(x: u64) -> u64 { x }

#[file_creator]
fn numbers(x: u64) -> String {
    let mut buf = num::Buffer::new();
    buf.format(x).to_owned()
}

#[file_creator]
fn plain(x: u64) -> u64 { x + 1 }
"#;

const UTIL: &str = "pub fn tool() -> u32 { 1 }\n";
const DEP: &str = "pub fn scale(x: u64) -> u64 { x * 10 }\n";

/// A package as a list of (path under the temp dir, content).
#[derive(Clone)]
struct Pkg(Vec<(String, String)>);

impl Pkg {
    fn new() -> Self {
        let files = [
            ("demo/Cargo.toml", MANIFEST),
            ("demo/Cargo.lock", LOCK),
            ("demo/src/lib.rs", LIB),
            ("demo/src/steps.rs", STEPS),
            ("demo/src/util.rs", UTIL),
            ("demo/src/data.txt", "hello"),
            (
                "helper-dep/Cargo.toml",
                "[package]\nname = \"helper-dep\"\nversion = \"0.1.0\"\n",
            ),
            ("helper-dep/src/lib.rs", DEP),
            (
                "lake-runtime/Cargo.toml",
                "[package]\nname = \"lake-runtime\"\nversion = \"0.1.0\"\n",
            ),
            ("lake-runtime/src/lib.rs", "pub fn rt() {}\n"),
        ];
        Self(
            files
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect(),
        )
    }

    /// Replaces `from` by `to` in `path`, which must contain it.
    fn edit(mut self, path: &str, from: &str, to: &str) -> Self {
        let file = self
            .0
            .iter_mut()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no file {path}"));
        assert!(file.1.contains(from), "{path} has no {from:?}");
        file.1 = file.1.replacen(from, to, 1);
        self
    }

    fn add(mut self, path: &str, content: &str) -> Self {
        self.0.push((path.to_owned(), content.to_owned()));
        self
    }

    /// The identity of the creator `name` in `demo/<file>`.
    fn identity_in(&self, file: &str, name: &str) -> Identity {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in &self.0 {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, content).unwrap();
        }
        let creator_file = dir.path().join("demo").join(file);
        let text = std::fs::read_to_string(&creator_file).unwrap();
        let parsed = syn::parse_file(&text).unwrap();
        let mut func = parsed
            .items
            .iter()
            .find_map(|i| match i {
                syn::Item::Fn(f) if f.sig.ident == name => Some(f.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no fn {name}"));
        // The macro never sees its own attribute.
        func.attrs.retain(|a| !a.path().is_ident("file_creator"));
        compute(
            func.to_token_stream(),
            Some(&creator_file),
            Some(&dir.path().join("demo")),
        )
    }

    fn identity(&self, name: &str) -> Identity {
        self.identity_in("src/steps.rs", name)
    }
}

fn hash_of(pkg: &Pkg) -> String {
    pkg.identity("step").hash
}

#[track_caller]
fn assert_changes(edited: Pkg) {
    assert_ne!(hash_of(&Pkg::new()), hash_of(&edited));
}

#[track_caller]
fn assert_keeps(edited: Pkg) {
    let (base, new) = (Pkg::new().identity("step"), edited.identity("step"));
    assert_eq!(base.parts, new.parts);
    assert_eq!(base.hash, new.hash);
}

#[test]
fn the_identity_is_stable_and_lists_what_it_covers() {
    let id = Pkg::new().identity("step");
    assert_eq!(id.hash, Pkg::new().identity("step").hash);
    let names: Vec<String> = id
        .parts
        .iter()
        .map(|p| format!("{} {}", p.kind, p.name))
        .collect();
    for expected in [
        "fn helper",
        "const LIMIT",
        "type Num",
        "macro twice",
        "file src/data.txt",
        "fn inner_step",
        "fn deep",
        "struct Shape",
        "impl Shape",
        "dep helper-dep 0.1.0",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    for unexpected in [
        "fn unrelated",
        "fn tool",
        "dep anyhow 1.0.90",
        "dep lake-runtime 0.1.0",
    ] {
        assert!(
            !names.iter().any(|n| n == unexpected),
            "{unexpected} in {names:?}"
        );
    }
    assert_eq!(id.cfgs, ["feature = \"fast\" "]);
    assert_eq!(id.tracked.len(), 1);
    assert!(id.tracked[0].ends_with("demo/src/data.txt"));
    assert!(id.parts.iter().all(|p| p.hash.len() == 16));
}

#[test]
fn an_edit_to_a_helper_fn_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/lib.rs", "x + LIMIT", "x - LIMIT"));
}

#[test]
fn an_edit_to_a_const_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/lib.rs", "LIMIT: u32 = 3", "LIMIT: u32 = 4"));
}

#[test]
fn an_edit_to_a_type_alias_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/lib.rs", "Num = u64", "Num = u32"));
}

#[test]
fn an_edit_to_a_macro_rules_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/lib.rs", "$e * 2", "$e * 3"));
}

#[test]
fn an_edit_to_a_method_of_a_reached_type_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/lib.rs", "self.side * self.side", "self.side"));
}

#[test]
fn an_edit_to_an_included_file_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/data.txt", "hello", "hello!"));
}

#[test]
fn an_edit_to_an_inner_creator_or_what_it_calls_changes_it() {
    assert_changes(Pkg::new().edit("demo/src/steps.rs", "{ deep(x) }", "{ deep(x) + 1 }"));
    assert_changes(Pkg::new().edit("demo/src/steps.rs", "-> u64 { x }", "-> u64 { x * 2 }"));
}

#[test]
fn a_cfg_predicate_the_code_tests_changes_it() {
    let edited = Pkg::new().edit(
        "demo/src/steps.rs",
        "feature = \"fast\"",
        "feature = \"slow\"",
    );
    assert_eq!(edited.identity("step").cfgs, ["feature = \"slow\" "]);
    assert_changes(edited);
    // A `#[cfg]` on a reached item is collected too.
    let edited = Pkg::new().edit(
        "demo/src/lib.rs",
        "pub fn unrelated",
        "#[cfg(unix)] pub fn helper2() {}\npub fn unrelated",
    );
    let edited = edited.edit(
        "demo/src/steps.rs",
        "let a = helper(n);",
        "let a = helper(n); helper2();",
    );
    assert!(edited.identity("step").cfgs.contains(&"unix ".to_owned()));
}

#[test]
fn an_edit_to_a_path_dependency_changes_it() {
    assert_changes(Pkg::new().edit("helper-dep/src/lib.rs", "x * 10", "x * 11"));
    // A new file in it too, even with the version unchanged.
    assert_changes(Pkg::new().add("helper-dep/src/extra.rs", "pub fn x() {}"));
}

#[test]
fn a_version_bump_of_a_used_crate_or_its_dependency_changes_it() {
    let itoa_bump = Pkg::new()
        .edit(
            "demo/Cargo.lock",
            "version = \"1.0.11\"",
            "version = \"1.0.12\"",
        )
        .edit("demo/Cargo.lock", "\"bbbb\"", "\"bbbc\"");
    assert_ne!(
        Pkg::new().identity("numbers").hash,
        itoa_bump.identity("numbers").hash
    );
    // serde is used by `use` in a reached item's file (lib.rs has none, but
    // steps.rs names `helper_dep`); serde_derive through serde.
    let pkg = Pkg::new().edit(
        "demo/src/steps.rs",
        "use crate::*;",
        "use crate::*;\nuse serde::Serialize;",
    );
    let bumped = pkg.clone().edit(
        "demo/Cargo.lock",
        "checksum = \"dddd\"",
        "checksum = \"dddf\"",
    );
    assert_ne!(hash_of(&pkg), hash_of(&bumped));
    // Features of a used dependency count as well.
    let features = pkg
        .clone()
        .edit("demo/Cargo.toml", "[\"derive\"]", "[\"derive\", \"rc\"]");
    assert_ne!(hash_of(&pkg), hash_of(&features));
}

#[test]
fn a_cargo_update_of_an_unused_crate_keeps_it() {
    assert_keeps(
        Pkg::new()
            .edit(
                "demo/Cargo.lock",
                "version = \"1.0.90\"",
                "version = \"1.0.91\"",
            )
            .edit("demo/Cargo.lock", "\"aaaa\"", "\"aaab\""),
    );
    // serde and itoa are unused by `step`, tokio is lake's own dependency.
    assert_keeps(Pkg::new().edit("demo/Cargo.lock", "\"cccc\"", "\"cccd\""));
    assert_keeps(Pkg::new().edit("demo/Cargo.lock", "\"bbbb\"", "\"bbbc\""));
    assert_keeps(Pkg::new().edit("demo/Cargo.lock", "\"eeee\"", "\"eeef\""));
    assert_keeps(Pkg::new().edit("lake-runtime/src/lib.rs", "rt()", "rt2()"));
}

#[test]
fn an_unrelated_edit_elsewhere_keeps_it() {
    assert_keeps(Pkg::new().edit("demo/src/lib.rs", "{ 7 }", "{ 8 }"));
    assert_keeps(Pkg::new().edit("demo/src/util.rs", "{ 1 }", "{ 2 }"));
    assert_keeps(Pkg::new().edit("demo/src/steps.rs", "{ x + 1 }", "{ x + 2 }"));
    assert_keeps(Pkg::new().add("demo/src/bin/other.rs", "fn main() { let unrelated = 1; }"));
}

#[test]
fn comments_whitespace_doc_comments_and_item_order_keep_it() {
    assert_keeps(
        Pkg::new()
            .edit(
                "demo/src/lib.rs",
                "/// Adds the limit.",
                "/// Adds the limit, always.",
            )
            .edit(
                "demo/src/lib.rs",
                "    x + LIMIT\n",
                "    // why: offset\n        x  +  LIMIT /* ! */\n\n",
            )
            .edit(
                "demo/src/steps.rs",
                "    let a = helper(n);",
                "  /* first */ let a =\n helper(n);",
            ),
    );
    // Moving an item moves nothing that is hashed.
    assert_keeps(
        Pkg::new()
            .edit("demo/src/lib.rs", "pub const LIMIT: u32 = 3;\n", "")
            .edit(
                "demo/src/util.rs",
                "pub fn tool",
                "pub const LIMIT: u32 = 3;\npub fn tool",
            ),
    );
}

#[test]
fn a_rename_on_use_is_followed() {
    let pkg = Pkg::new()
        .edit(
            "demo/src/util.rs",
            "pub fn tool",
            "pub fn far() -> u32 { 5 }\npub fn tool",
        )
        .edit(
            "demo/src/steps.rs",
            "use crate::*;",
            "use crate::*;\nuse crate::util::far as near;",
        )
        .edit(
            "demo/src/steps.rs",
            "let a = helper(n);",
            "let a = helper(n) + near();",
        );
    let edited = pkg.clone().edit("demo/src/util.rs", "{ 5 }", "{ 6 }");
    assert_ne!(hash_of(&pkg), hash_of(&edited));
}

#[test]
fn a_creator_in_an_example_reaches_its_modules_and_the_library() {
    let pkg = Pkg::new()
        .add(
            "demo/examples/run/main.rs",
            "mod parts;\n#[file_creator]\nfn ex() -> u32 { part() + demo::helper(1) }\n",
        )
        .add("demo/examples/run/parts.rs", "pub fn part() -> u32 { 1 }\n");
    let id = |p: &Pkg| p.identity_in("examples/run/main.rs", "ex").hash;
    let base = id(&pkg);
    assert_ne!(
        base,
        id(&pkg
            .clone()
            .edit("demo/examples/run/parts.rs", "{ 1 }", "{ 2 }"))
    );
    assert_ne!(
        base,
        id(&pkg
            .clone()
            .edit("demo/src/lib.rs", "x + LIMIT", "x * LIMIT"))
    );
    assert_eq!(
        base,
        id(&pkg.clone().edit("demo/src/util.rs", "{ 1 }", "{ 2 }"))
    );
}

#[test]
fn without_a_source_file_only_the_tokens_count() {
    let func: TokenStream = "fn f(a: u8) -> File { g(a) }".parse().unwrap();
    let id = compute(func, None, None);
    assert!(id.parts.is_empty() && id.cfgs.is_empty() && id.tracked.is_empty());
    let other: TokenStream = "/// doc\nfn f(a: u8) -> File { g(a) } // c"
        .parse()
        .unwrap();
    assert_eq!(id.hash, compute(other, None, None).hash);
    let _ = Path::new("");
}
