//! The crate's own code: which files to read, the items in them, and which
//! items a creator reaches by name (docs/design/0009-code-identity.md).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use quote::ToTokens;
use syn::visit::Visit;

use super::tokens::{Scan, normalized};

/// One hashed unit of code: an item, or a whole `impl` block.
#[derive(Debug)]
pub(crate) struct Unit {
    /// `fn`, `const`, `static`, `struct`, `enum`, `union`, `type`, `trait`,
    /// `impl`, `macro` (for `macro_rules!`) or `macro_call` (an item-level
    /// macro invocation).
    pub(crate) kind: &'static str,
    /// A readable name: `helper`, `Foo`, `impl Display for Foo`.
    pub(crate) name: String,
    /// The names this unit answers to when code mentions them.
    keys: Vec<String>,
    /// blake3 hex of its normalized tokens.
    pub(crate) hash: String,
    pub(crate) scan: Scan,
    /// The file it is in.
    pub(crate) file: Arc<Path>,
}

/// A parsed file: its units, and the idents of its `use` declarations.
#[derive(Debug)]
pub(crate) struct ParsedFile {
    pub(crate) path: Arc<Path>,
    pub(crate) units: Vec<Arc<Unit>>,
    /// Idents in `use` and `extern crate` items, anywhere in the file: these
    /// name the crates the file's code may reach without spelling them.
    pub(crate) use_idents: BTreeSet<String>,
    /// `use a::b as c` anywhere in the file: `c` -> `b`.
    aliases: Vec<(String, String)>,
    /// Files named by `mod x;` declarations, resolved on disk.
    children: Vec<PathBuf>,
}

/// Parses `path`, once per compiler process and content of the file.
/// `None` when it cannot be read or parsed: such a file fails its own
/// compilation, so no creator can depend on it.
///
/// Keyed by content, not modification time: a long-lived process
/// (rust-analyzer's proc-macro server) sees edits, and timestamps are too
/// coarse to tell two quick edits apart. Reading is cheap; parsing is not.
pub(crate) fn parse_file(path: &Path) -> Option<Arc<ParsedFile>> {
    type Cache = HashMap<PathBuf, (blake3::Hash, Option<Arc<ParsedFile>>)>;
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    let text = std::fs::read_to_string(path).ok()?;
    let stamp = blake3::hash(text.as_bytes());
    let cache = CACHE.get_or_init(Default::default);
    if let Some((s, parsed)) = cache.lock().ok()?.get(path)
        && *s == stamp
    {
        return parsed.clone();
    }
    // Parsed with proc-macro2's own lexer rather than through the
    // compiler's token bridge, where every token access is a round trip:
    // the tokens never leave `index_file`, which keeps only text and hashes.
    proc_macro2::fallback::force();
    let parsed = syn::parse_file(&text)
        .ok()
        .map(|file| Arc::new(index_file(path, &file)));
    proc_macro2::fallback::unforce();
    cache
        .lock()
        .ok()?
        .insert(path.to_owned(), (stamp, parsed.clone()));
    parsed
}

fn index_file(path: &Path, file: &syn::File) -> ParsedFile {
    let path: Arc<Path> = Arc::from(path);
    let mut v = Indexer {
        file: path.clone(),
        units: Vec::new(),
        use_idents: BTreeSet::new(),
        aliases: Vec::new(),
        children: Vec::new(),
        mod_dirs: module_dirs(&path),
    };
    v.visit_file(file);
    ParsedFile {
        path,
        units: v.units,
        use_idents: v.use_idents,
        aliases: v.aliases,
        children: v.children,
    }
}

/// Where `mod x;` in `file` may live. A crate root (`lib.rs`, `main.rs`, an
/// example or test file) keeps its modules beside it, any other file in a
/// directory named after it; which one `file` is depends on how it is
/// reached, so both are tried (an extra file read only adds to the index).
fn module_dirs(file: &Path) -> Vec<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("")).to_owned();
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if matches!(stem, "mod" | "lib" | "main") {
        vec![dir]
    } else {
        vec![dir.join(stem), dir]
    }
}

struct Indexer {
    file: Arc<Path>,
    units: Vec<Arc<Unit>>,
    use_idents: BTreeSet<String>,
    aliases: Vec<(String, String)>,
    children: Vec<PathBuf>,
    /// Directories of the module being visited (see [`module_dirs`]).
    mod_dirs: Vec<PathBuf>,
}

impl Indexer {
    fn push(&mut self, kind: &'static str, name: String, keys: Vec<String>, tokens: &dyn ToTokens) {
        let text = normalized(tokens.to_token_stream());
        self.units.push(Arc::new(Unit {
            kind,
            name,
            keys,
            hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
            scan: Scan::of(tokens.to_token_stream()),
            file: self.file.clone(),
        }));
    }
}

fn last_ident(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        syn::Type::Reference(r) => last_ident(&r.elem),
        syn::Type::Paren(p) => last_ident(&p.elem),
        syn::Type::Group(g) => last_ident(&g.elem),
        _ => None,
    }
}

fn collect_use(
    tree: &syn::UseTree,
    idents: &mut BTreeSet<String>,
    aliases: &mut Vec<(String, String)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            idents.insert(p.ident.to_string());
            collect_use(&p.tree, idents, aliases);
        }
        syn::UseTree::Name(n) => {
            idents.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            idents.insert(r.ident.to_string());
            aliases.push((r.rename.to_string(), r.ident.to_string()));
        }
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for t in &g.items {
                collect_use(t, idents, aliases);
            }
        }
    }
}

/// The value of `#[path = "..."]`, if `attrs` has one.
fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

impl<'ast> Visit<'ast> for Indexer {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        use syn::Item;
        let one = |i: &syn::Ident| vec![i.to_string()];
        match item {
            Item::Fn(f) => self.push("fn", f.sig.ident.to_string(), one(&f.sig.ident), f),
            Item::Const(c) => self.push("const", c.ident.to_string(), one(&c.ident), c),
            Item::Static(s) => self.push("static", s.ident.to_string(), one(&s.ident), s),
            Item::Struct(s) => self.push("struct", s.ident.to_string(), one(&s.ident), s),
            Item::Union(u) => self.push("union", u.ident.to_string(), one(&u.ident), u),
            Item::Type(t) => self.push("type", t.ident.to_string(), one(&t.ident), t),
            Item::TraitAlias(t) => self.push("trait", t.ident.to_string(), one(&t.ident), t),
            Item::Enum(e) => {
                // Variants too: `use Shape::*` lets code name them alone.
                let mut keys = one(&e.ident);
                keys.extend(e.variants.iter().map(|v| v.ident.to_string()));
                self.push("enum", e.ident.to_string(), keys, e);
            }
            Item::Trait(t) => {
                // Its members too: `x.method()` names only the method.
                let mut keys = one(&t.ident);
                for member in &t.items {
                    match member {
                        syn::TraitItem::Fn(f) => keys.push(f.sig.ident.to_string()),
                        syn::TraitItem::Const(c) => keys.push(c.ident.to_string()),
                        syn::TraitItem::Type(t) => keys.push(t.ident.to_string()),
                        _ => {}
                    }
                }
                self.push("trait", t.ident.to_string(), keys, t);
            }
            Item::Impl(i) => {
                // A whole impl block is one unit, found by its type, its
                // trait, or any member's name: a method call through an
                // inferred type names only the method.
                let self_ty = last_ident(&i.self_ty);
                let trait_ = i
                    .trait_
                    .as_ref()
                    .and_then(|(p, _)| p.segments.last())
                    .map(|s| s.ident.to_string());
                let mut keys: Vec<String> = self_ty.iter().chain(&trait_).cloned().collect();
                for member in &i.items {
                    match member {
                        syn::ImplItem::Fn(f) => keys.push(f.sig.ident.to_string()),
                        syn::ImplItem::Const(c) => keys.push(c.ident.to_string()),
                        syn::ImplItem::Type(t) => keys.push(t.ident.to_string()),
                        _ => {}
                    }
                }
                let ty = self_ty.unwrap_or_else(|| "_".to_owned());
                let name = match trait_ {
                    Some(t) => format!("{t} for {ty}"),
                    None => ty,
                };
                self.push("impl", name, keys, i);
            }
            Item::Macro(m) => match &m.ident {
                Some(name) => self.push("macro", name.to_string(), one(name), m),
                None => {
                    let scan = Scan::of(m.mac.tokens.clone());
                    let keys: Vec<String> = scan.defined.into_iter().collect();
                    let name = m
                        .mac
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    if !keys.is_empty() {
                        self.push(
                            "macro_call",
                            format!("{name}!{{{}}}", keys.join(",")),
                            keys,
                            m,
                        );
                    }
                }
            },
            Item::ForeignMod(f) => {
                for member in &f.items {
                    if let syn::ForeignItem::Fn(func) = member {
                        let ident = &func.sig.ident;
                        self.push("fn", ident.to_string(), one(ident), func);
                    } else if let syn::ForeignItem::Static(s) = member {
                        self.push("static", s.ident.to_string(), one(&s.ident), s);
                    }
                }
            }
            Item::Use(u) => collect_use(&u.tree, &mut self.use_idents, &mut self.aliases),
            Item::ExternCrate(e) => {
                self.use_idents.insert(e.ident.to_string());
                if let Some((_, rename)) = &e.rename {
                    self.aliases.push((rename.to_string(), e.ident.to_string()));
                }
            }
            Item::Mod(m) => {
                let name = m.ident.to_string();
                let explicit = path_attr(&m.attrs);
                match &m.content {
                    None => {
                        let dir = self.file.parent().unwrap_or(Path::new("")).to_owned();
                        let candidates: Vec<PathBuf> = match explicit {
                            Some(p) => vec![dir.join(p)],
                            None => self
                                .mod_dirs
                                .iter()
                                .flat_map(|d| {
                                    [d.join(format!("{name}.rs")), d.join(&name).join("mod.rs")]
                                })
                                .collect(),
                        };
                        self.children
                            .extend(candidates.into_iter().filter(|p| p.is_file()));
                    }
                    Some(_) => {
                        let saved = self.mod_dirs.clone();
                        self.mod_dirs = saved.iter().map(|d| d.join(&name)).collect();
                        syn::visit::visit_item(self, item);
                        self.mod_dirs = saved;
                        return;
                    }
                }
            }
            _ => {}
        }
        // Items nested in function bodies and modules count too.
        syn::visit::visit_item(self, item);
    }

    // Items nested in `impl` and `trait` bodies are reached through the
    // enclosing block; statements' items through `visit_item`.
}

/// The files a creator defined in `creator_file` may reach, in a stable
/// order: the `mod` tree from the creator's file and from each crate root
/// above it, and every `.rs` file under `<manifest>/src` (a creator there
/// may be reached from any module of the package's library or binaries).
/// The package's library is also indexed when the creator lives in an
/// example, test or bench, which use it by its crate name.
pub(crate) fn crate_files(creator_file: &Path, manifest_dir: &Path) -> Vec<Arc<ParsedFile>> {
    let mut roots: Vec<PathBuf> = vec![creator_file.to_owned()];
    // Crate roots and module files in the creator's directory and the ones
    // above it, up to the package: one of them declares the creator's file.
    let mut dir = creator_file.parent();
    while let Some(d) = dir {
        for name in ["lib.rs", "main.rs", "mod.rs"] {
            roots.push(d.join(name));
        }
        if d == manifest_dir || !d.starts_with(manifest_dir) {
            break;
        }
        dir = d.parent();
    }
    roots.extend(lib_root(manifest_dir));
    let src = manifest_dir.join("src");
    let mut under_src = Vec::new();
    rs_files(&src, &mut under_src);
    roots.extend(under_src);

    let mut seen = HashSet::new();
    let mut files = Vec::new();
    let mut todo = roots;
    todo.reverse();
    while let Some(path) = todo.pop() {
        let path = clean(&path);
        if !seen.insert(path.clone()) {
            continue;
        }
        if let Some(parsed) = parse_file(&path) {
            todo.extend(parsed.children.iter().rev().cloned());
            files.push(parsed);
        }
    }
    files
}

/// `[lib] path` of the package's manifest, else `src/lib.rs`.
fn lib_root(manifest_dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let path = table
        .get("lib")
        .and_then(|l| l.get("path"))
        .and_then(|p| p.as_str())
        .unwrap_or("src/lib.rs");
    Some(manifest_dir.join(path))
}

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rs_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `a/./b/../c` -> `a/c`, without touching the disk, so that one file is
/// parsed once whichever way it is reached.
fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The units `seed` reaches by name, transitively, through `files`.
///
/// A name reaches every unit answering to it (collisions include all), and
/// a `use .. as` alias reaches what it renames. Conservative on purpose:
/// a unit included for nothing costs at worst a re-run after an edit to it;
/// a unit left out costs a false hit.
pub(crate) fn reach(seed: &Scan, files: &[Arc<ParsedFile>]) -> Vec<Arc<Unit>> {
    let mut table: HashMap<&str, Vec<&Arc<Unit>>> = HashMap::new();
    let mut aliases: HashMap<&str, Vec<&str>> = HashMap::new();
    for file in files {
        for unit in &file.units {
            for key in &unit.keys {
                table.entry(key).or_default().push(unit);
            }
        }
        for (alias, target) in &file.aliases {
            aliases.entry(alias).or_default().push(target);
        }
    }
    let mut reached: Vec<Arc<Unit>> = Vec::new();
    let mut seen_units: HashSet<*const Unit> = HashSet::new();
    let mut seen_names: HashSet<&str> = HashSet::new();
    let mut names: Vec<&str> = seed.idents.iter().map(String::as_str).collect();
    while let Some(name) = names.pop() {
        if !seen_names.insert(name) {
            continue;
        }
        if let Some(targets) = aliases.get(name) {
            names.extend(targets.iter().copied());
        }
        for unit in table.get(name).into_iter().flatten() {
            if seen_units.insert(Arc::as_ptr(unit)) {
                names.extend(unit.scan.idents.iter().map(String::as_str));
                reached.push(Arc::clone(unit));
            }
        }
    }
    reached
}
