//! A creator's code identity: its own tokens, every item of its crate it
//! reaches by name, the files those items include, the dependencies they
//! use, and the cfg predicates they test (docs/design/0009-code-identity.md,
//! issue 10).
//!
//! Everything here runs at compile time, inside the macro. The runtime only
//! mixes in the cfg values, which the macro cannot evaluate, once per
//! process.

mod deps;
mod source;
pub(crate) mod tokens;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::ToTokens;

use tokens::Scan;
pub(crate) use tokens::normalized;

/// Bump when what is hashed, or how, changes: every code identity changes.
const IDENTITY_VERSION: &str = "lake-code-identity 1";

/// One ingredient of an identity, as the lineage records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Part {
    /// `fn`, `const`, `impl`, …, `file` or `dep`.
    pub(crate) kind: &'static str,
    /// `helper`, `impl Display for Foo`, `data/t.txt`, `serde 1.0.228`.
    pub(crate) name: String,
    /// The first 16 hex digits of its blake3: enough to tell which part
    /// changed, short enough to keep lineage records small.
    pub(crate) hash: String,
}

impl Part {
    fn new(kind: &'static str, name: String, hash: &blake3::Hash) -> Self {
        Self::from_hex(kind, name, &hash.to_hex())
    }

    fn from_hex(kind: &'static str, name: String, hex: &str) -> Self {
        Self {
            kind,
            name,
            hash: hex[..16].to_owned(),
        }
    }
}

/// What the macro emits about a creator's code.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// blake3 hex over [`IDENTITY_VERSION`], the creator's tokens, every
    /// part (full hashes) and every cfg predicate.
    pub(crate) hash: String,
    /// Sorted by (kind, name, hash).
    pub(crate) parts: Vec<Part>,
    /// Normalized cfg predicates, sorted; the runtime mixes in their values.
    pub(crate) cfgs: Vec<String>,
    /// Absolute paths of included files, for the expansion to
    /// `include_bytes!` so that cargo rebuilds when they change.
    pub(crate) tracked: Vec<PathBuf>,
}

/// The identity of `func` as the compiler sees it: its file from the
/// macro's call site, its package from `CARGO_MANIFEST_DIR`.
pub(crate) fn of_creator(func: &syn::ItemFn) -> Identity {
    // Outside a macro invocation (unit tests of the expansion) there is no
    // call site to ask; such callers get the function's tokens only.
    let file = proc_macro::is_available()
        .then(|| proc_macro::Span::call_site().local_file())
        .flatten()
        .map(|f| absolute(&f));
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    compute(func.to_token_stream(), file.as_deref(), manifest.as_deref())
}

/// rustc names files relative to its working directory.
fn absolute(path: &Path) -> PathBuf {
    match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_owned(),
    }
}

/// The identity of the creator `func` (its tokens as the macro received
/// them) defined in `creator_file` of the package at `manifest_dir`.
pub(crate) fn compute(
    func: TokenStream,
    creator_file: Option<&Path>,
    manifest_dir: Option<&Path>,
) -> Identity {
    let own = normalized(func.clone());
    let seed = Scan::of(func);
    let mut parts = Vec::new();
    let mut cfgs: BTreeSet<String> = seed.cfgs.clone();
    let mut tracked = Vec::new();

    if let (Some(file), Some(manifest)) = (creator_file, manifest_dir) {
        let files = source::crate_files(file, manifest);
        let reached = source::reach(&seed, &files);
        // Crates may be named by the reached code, by the creator, or by the
        // `use` declarations of the files they are in.
        let mut crate_idents = seed.idents.clone();
        let mut unit_files: BTreeSet<&Path> = BTreeSet::from([file]);
        for unit in &reached {
            parts.push(Part::from_hex(unit.kind, unit.name.clone(), &unit.hash));
            crate_idents.extend(unit.scan.idents.iter().cloned());
            cfgs.extend(unit.scan.cfgs.iter().cloned());
            unit_files.insert(&unit.file);
        }
        for f in &files {
            if unit_files.contains(&*f.path) {
                crate_idents.extend(f.use_idents.iter().cloned());
            }
        }
        // Included files, relative to the file holding the invocation.
        let mut includes: BTreeSet<(PathBuf, PathBuf)> = BTreeSet::new();
        let seed_includes = seed.includes.iter().map(|p| (file, p));
        let unit_includes = reached
            .iter()
            .flat_map(|u| u.scan.includes.iter().map(move |p| (&*u.file, p)));
        for (holder, rel) in seed_includes.chain(unit_includes) {
            let dir = holder.parent().unwrap_or(Path::new(""));
            let abs = dir.join(rel);
            // Recorded relative to the package, so that the identity does
            // not depend on where the checkout lives.
            let shown = abs
                .strip_prefix(manifest)
                .unwrap_or(Path::new(rel))
                .to_owned();
            includes.insert((shown, abs));
        }
        for (shown, abs) in includes {
            let name = shown.to_string_lossy().replace('\\', "/");
            match std::fs::read(&abs) {
                Ok(bytes) => {
                    parts.push(Part::new("file", name, &blake3::hash(&bytes)));
                    tracked.push(abs);
                }
                // The include itself fails to compile; nothing to track.
                Err(_) => parts.push(Part::new("file", name, &blake3::hash(b"<missing>"))),
            }
        }
        parts.extend(deps::Deps::of(manifest).parts(&crate_idents));
    }

    parts.sort();
    parts.dedup();
    let cfgs: Vec<String> = cfgs.into_iter().collect();
    let mut hasher = blake3::Hasher::new();
    let mut field = |s: &str| {
        hasher.update(&(s.len() as u64).to_le_bytes());
        hasher.update(s.as_bytes());
    };
    field(IDENTITY_VERSION);
    field(&own);
    for p in &parts {
        field(p.kind);
        field(&p.name);
        field(&p.hash);
    }
    for c in &cfgs {
        field(c);
    }
    Identity {
        hash: hasher.finalize().to_hex().to_string(),
        parts,
        cfgs,
        tracked,
    }
}

#[cfg(test)]
mod tests;
