//! The dependencies a creator's code uses, by their locked versions
//! (`Cargo.lock`) or, for path dependencies, by the hash of their sources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::Part;

/// lake's own crates: `KEY_VERSION` covers changes to how keys are made, so
/// they are not part of a step's identity (issue 10).
const LAKE_CRATES: [&str; 3] = ["lake-runtime", "lake-core", "lake-macros"];

/// A dependency as the package's manifest declares it.
#[derive(Debug, Clone)]
struct Declared {
    /// The package name (differs from the key under `package = "..."`).
    package: String,
    /// Its directory, for a path dependency.
    path: Option<PathBuf>,
    /// The declaration's normalized text: features and default-features
    /// change the dependency's code as surely as its version does.
    spec: String,
}

/// What the manifest and lock file say, read once per package.
#[derive(Debug, Default)]
pub(crate) struct Deps {
    /// Extern crate name (`-` as `_`) -> declarations (several when a
    /// target-specific table declares it again).
    declared: BTreeMap<String, Vec<Declared>>,
    lock: Vec<Locked>,
}

#[derive(Debug, Clone)]
struct Locked {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    /// `name` or `name version` entries.
    dependencies: Vec<String>,
}

impl Deps {
    /// Reads `<manifest_dir>/Cargo.toml` and the nearest `Cargo.lock` above
    /// it; cached per directory for the compiler process.
    pub(crate) fn of(manifest_dir: &Path) -> Arc<Deps> {
        type Cache = HashMap<PathBuf, (blake3::Hash, Arc<Deps>)>;
        static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
        // Keyed by the two files' content, for the reason `parse_file` is.
        let manifest = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).ok();
        let lock_path = find_up(manifest_dir, "Cargo.lock");
        let lock = lock_path.and_then(|p| std::fs::read_to_string(p).ok());
        let mut stamp = blake3::Hasher::new();
        stamp.update(manifest.as_deref().unwrap_or("").as_bytes());
        stamp.update(&[0xff]);
        stamp.update(lock.as_deref().unwrap_or("").as_bytes());
        let stamp = stamp.finalize();
        let cache = CACHE.get_or_init(Default::default);
        if let Some((s, d)) = cache.lock().ok().and_then(|c| c.get(manifest_dir).cloned())
            && s == stamp
        {
            return d;
        }
        let deps = Arc::new(Self::read(
            manifest_dir,
            manifest.as_deref(),
            lock.as_deref(),
        ));
        if let Ok(mut c) = cache.lock() {
            c.insert(manifest_dir.to_owned(), (stamp, deps.clone()));
        }
        deps
    }

    fn read(manifest_dir: &Path, manifest: Option<&str>, lock: Option<&str>) -> Deps {
        let mut deps = Deps::default();
        if let Some(manifest) = manifest.and_then(|m| m.parse::<toml::Table>().ok()) {
            let workspace = workspace_deps(manifest_dir);
            for table in dependency_tables(&manifest) {
                for (key, value) in table {
                    let d = declared(key, value, manifest_dir, workspace.as_ref());
                    deps.declared
                        .entry(key.replace('-', "_"))
                        .or_default()
                        .push(d);
                }
            }
        }
        if let Some(lock) = lock.and_then(|l| l.parse::<toml::Table>().ok()) {
            deps.lock = parse_lock(&lock);
        }
        deps
    }

    /// Parts for the dependencies named by `idents` (crate names in paths
    /// and `use` declarations of the reached code) and their own
    /// dependencies from the lock graph. Sorted by name.
    pub(crate) fn parts(&self, idents: &BTreeSet<String>) -> Vec<Part> {
        let mut parts = BTreeMap::new();
        // Lock packages to visit, as (name, version or "" for any).
        let mut todo: Vec<(String, String)> = Vec::new();
        let mut paths: HashMap<String, PathBuf> = HashMap::new();
        let mut specs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ident in idents {
            for d in self.declared.get(ident).into_iter().flatten() {
                if LAKE_CRATES.contains(&d.package.as_str()) {
                    continue;
                }
                if let Some(p) = &d.path {
                    paths.insert(d.package.clone(), p.clone());
                }
                specs
                    .entry(d.package.clone())
                    .or_default()
                    .push(d.spec.clone());
                todo.push((d.package.clone(), String::new()));
            }
        }
        let mut seen = BTreeSet::new();
        while let Some((name, version)) = todo.pop() {
            if LAKE_CRATES.contains(&name.as_str()) || !seen.insert((name.clone(), version.clone()))
            {
                continue;
            }
            let matches: Vec<&Locked> = self
                .lock
                .iter()
                .filter(|l| l.name == name && (version.is_empty() || l.version == version))
                .collect();
            if matches.is_empty() {
                // Not in the lock (no lock file yet): its declaration is all
                // there is to go by, plus its sources when it is a path.
                let spec = specs.get(&name).map(|s| s.join("\n")).unwrap_or_default();
                let src = paths.get(&name).map(|p| source_hash(p)).unwrap_or_default();
                let hash = blake3::hash(format!("{spec}\n{src}").as_bytes());
                parts.insert(
                    name.clone(),
                    Part::new("dep", format!("{name} (unlocked)"), &hash),
                );
                continue;
            }
            for l in matches {
                let mut text = format!(
                    "{} {} {} {}\n",
                    l.name,
                    l.version,
                    l.source.as_deref().unwrap_or("path"),
                    l.checksum.as_deref().unwrap_or("-")
                );
                if let Some(spec) = specs.get(&l.name) {
                    text.push_str(&spec.join("\n"));
                }
                if l.source.is_none() {
                    // A path or workspace crate: no registry version pins
                    // its code, its sources do.
                    match self.path_of(&l.name, &paths) {
                        Some(dir) => text.push_str(&source_hash(&dir)),
                        None => text.push_str("sources not found"),
                    }
                }
                let hash = blake3::hash(text.as_bytes());
                parts.insert(
                    format!("{} {}", l.name, l.version),
                    Part::new("dep", format!("{} {}", l.name, l.version), &hash),
                );
                for dep in &l.dependencies {
                    let mut words = dep.split_whitespace();
                    let n = words.next().unwrap_or_default().to_owned();
                    let v = words.next().unwrap_or_default().to_owned();
                    todo.push((n, v));
                }
            }
        }
        parts.into_values().collect()
    }

    /// The directory of the path package `name`: declared by this package,
    /// or by one of its path dependencies (transitively).
    fn path_of(&self, name: &str, direct: &HashMap<String, PathBuf>) -> Option<PathBuf> {
        if let Some(p) = direct.get(name) {
            return Some(p.clone());
        }
        let mut todo: Vec<PathBuf> = self
            .declared
            .values()
            .flatten()
            .filter_map(|d| d.path.clone())
            .collect();
        let mut seen = BTreeSet::new();
        while let Some(dir) = todo.pop() {
            if !seen.insert(dir.clone()) {
                continue;
            }
            let inner = Deps::of(&dir);
            for d in inner.declared.values().flatten() {
                if let Some(p) = &d.path {
                    if d.package == name {
                        return Some(p.clone());
                    }
                    todo.push(p.clone());
                }
            }
        }
        None
    }
}

fn read_toml(path: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(path).ok()?.parse().ok()
}

fn find_up(start: &Path, name: &str) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `[dependencies]`, `[dev-dependencies]` (examples and tests use them),
/// and their `[target.'…'.*]` twins. Build dependencies run at build time
/// and do not reach a creator's code.
fn dependency_tables(manifest: &toml::Table) -> Vec<&toml::Table> {
    let kinds = ["dependencies", "dev-dependencies", "dev_dependencies"];
    let mut out: Vec<&toml::Table> = kinds
        .iter()
        .filter_map(|k| manifest.get(*k)?.as_table())
        .collect();
    if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
        for target in targets.values().filter_map(|t| t.as_table()) {
            out.extend(kinds.iter().filter_map(|k| target.get(*k)?.as_table()));
        }
    }
    out
}

/// `[workspace.dependencies]` of the workspace above `manifest_dir`, with
/// its root directory (their paths are relative to it).
fn workspace_deps(manifest_dir: &Path) -> Option<(PathBuf, toml::Table)> {
    for dir in manifest_dir.ancestors() {
        let Some(t) = read_toml(&dir.join("Cargo.toml")) else {
            continue;
        };
        if let Some(ws) = t.get("workspace").and_then(|w| w.as_table()) {
            let deps = ws
                .get("dependencies")
                .and_then(|d| d.as_table())
                .cloned()
                .unwrap_or_default();
            return Some((dir.to_owned(), deps));
        }
    }
    None
}

fn declared(
    key: &str,
    value: &toml::Value,
    manifest_dir: &Path,
    workspace: Option<&(PathBuf, toml::Table)>,
) -> Declared {
    let mut package = key.to_owned();
    let mut path = None;
    let mut spec = format!("{key} = {value}");
    let table = value.as_table();
    if let Some(t) = table {
        if let Some(p) = t.get("package").and_then(|p| p.as_str()) {
            package = p.to_owned();
        }
        if let Some(p) = t.get("path").and_then(|p| p.as_str()) {
            path = Some(manifest_dir.join(p));
        }
        if t.get("workspace").and_then(|w| w.as_bool()) == Some(true)
            && let Some((root, ws)) = workspace
            && let Some(w) = ws.get(key)
        {
            spec.push_str(&format!(" workspace {w}"));
            if let Some(wt) = w.as_table() {
                if let Some(p) = wt.get("package").and_then(|p| p.as_str()) {
                    package = p.to_owned();
                }
                if let Some(p) = wt.get("path").and_then(|p| p.as_str()) {
                    path = Some(root.join(p));
                }
            }
        }
    }
    Declared {
        package,
        path,
        spec,
    }
}

fn parse_lock(lock: &toml::Table) -> Vec<Locked> {
    let Some(packages) = lock.get("package").and_then(|p| p.as_array()) else {
        return Vec::new();
    };
    let s = |t: &toml::Table, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    packages
        .iter()
        .filter_map(|p| p.as_table())
        .filter_map(|t| {
            Some(Locked {
                name: s(t, "name")?,
                version: s(t, "version")?,
                source: s(t, "source"),
                checksum: s(t, "checksum"),
                dependencies: t
                    .get("dependencies")
                    .and_then(|d| d.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|d| d.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// blake3 hex over the `.rs` files and `Cargo.toml` under `dir` (skipping
/// `target/` and hidden directories), by path relative to `dir`, so that the
/// same sources hash the same in any checkout. Once per process per dir.
pub(crate) fn source_hash(dir: &Path) -> String {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(h) = cache.lock().ok().and_then(|c| c.get(dir).cloned()) {
        return h;
    }
    let mut files = Vec::new();
    walk_sources(dir, &mut files);
    files.sort();
    let mut hasher = blake3::Hasher::new();
    for file in &files {
        let rel = file.strip_prefix(dir).unwrap_or(file);
        let bytes = std::fs::read(file).unwrap_or_default();
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let h = hasher.finalize().to_hex().to_string();
    if let Ok(mut c) = cache.lock() {
        c.insert(dir.to_owned(), h.clone());
    }
    h
}

fn walk_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk_sources(&path, out);
            }
        } else if name.ends_with(".rs") || name == "Cargo.toml" {
            out.push(path);
        }
    }
}
