//! [`StorePath`]: a validated key, and the key layout every backend shares.

use std::fmt;

use crate::{Digest, Name};

use super::StoreError;

/// A validated key inside a store, relative to the store's root.
///
/// Keys are `/`-separated with no empty, `.` or `..` segment. The layout is
/// the same on every backend:
///
/// ```text
/// blobs/<blake3 hex>   content, written once
/// names/<name>.json    the name record; its existence = the name exists
/// runs/<key hex>.json  run manifest; created last = the run is done
/// packs/<name>/<blake3 hex>.json
///                      records created together, to learn many names at once
/// tombstones/<name>.json
///                      what a removed name held, who removed it and why
/// uploads/<id>         a streamed write in progress, copied to its blob
///                      once its digest is known, then deleted
/// gc-trash/<run>/<hex> a blob `lake gc` is deleting, kept until gc has
///                      checked that no name adopted it meanwhile
/// history/<name>.hist/<time>-<id>.json
///                      one event of a name's history, never changed
/// ```
///
/// # Example
/// ```
/// use lake_core::{Name, StorePath};
///
/// let name: Name = "raw/a.csv".parse()?;
/// assert_eq!(StorePath::name_record(&name).as_str(), "names/raw/a.csv.json");
/// assert_eq!(StorePath::name_from_record_path("names/raw/a.csv.json"), Some(name));
/// # Ok::<(), lake_core::NameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StorePath(String);

/// Prefix of content blobs.
pub const BLOBS_PREFIX: &str = "blobs";
/// Prefix of name records.
pub const NAMES_PREFIX: &str = "names";
/// Prefix of run manifests.
pub const RUNS_PREFIX: &str = "runs";
/// Prefix of record packs (see `docs/design/0008-record-packs.md`).
pub const PACKS_PREFIX: &str = "packs";
/// Prefix of tombstones (see `docs/design/0010-removal.md`).
pub const TOMBSTONES_PREFIX: &str = "tombstones";
/// Prefix of streamed writes in progress, whose digest is not known yet
/// (see `docs/design/0011-annotations-and-pointers.md`).
pub const UPLOADS_PREFIX: &str = "uploads";
/// Prefix of blobs a `lake gc` run is deleting (see
/// `docs/design/0004-gc-and-crashes.md`).
pub const GC_TRASH_PREFIX: &str = "gc-trash";
/// Prefix of history events (see `docs/design/0013-stores-and-history.md`).
pub const HISTORY_PREFIX: &str = "history";

/// Suffix of a name's folder of history events. A suffix, because the
/// history outlives the name: `a` may be removed and `a/b` added later (a
/// live name is a file or a folder, never both), and the events of `a` live
/// in `history/a.hist/`, never below `history/a/`.
const HISTORY_SUFFIX: &str = ".hist";

impl StorePath {
    /// Validates a raw key.
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let ok = !key.is_empty()
            && key
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\0'));
        if ok {
            Ok(Self(key.to_owned()))
        } else {
            Err(StoreError::InvalidPath {
                path: key.to_owned(),
            })
        }
    }

    /// `blobs/<hex>`.
    pub fn blob(digest: &Digest) -> Self {
        Self(format!("{BLOBS_PREFIX}/{digest}"))
    }

    /// `uploads/<id>`: the temporary object of the streamed write `id`, which must be one
    /// valid key segment (no `/`).
    pub fn upload(id: &str) -> Result<Self, StoreError> {
        if id.contains('/') {
            return Err(StoreError::InvalidPath {
                path: format!("{UPLOADS_PREFIX}/{id}"),
            });
        }
        Self::parse(&format!("{UPLOADS_PREFIX}/{id}"))
    }

    /// `names/<name>.json`.
    pub fn name_record(name: &Name) -> Self {
        Self(format!("{NAMES_PREFIX}/{name}.json"))
    }

    /// `runs/<key hex>.json`.
    pub fn run_manifest(key_hex: &str) -> Self {
        Self(format!("{RUNS_PREFIX}/{key_hex}.json"))
    }

    /// `packs/<prefix>/<hex>.json`: a record pack written for the names
    /// below `prefix`, keyed by the digest of its own bytes.
    pub fn record_pack(prefix: &Name, digest: &Digest) -> Self {
        Self(format!("{PACKS_PREFIX}/{prefix}/{digest}.json"))
    }

    /// `tombstones/<name>.json`: what `lake rm` left of `name`.
    pub fn tombstone(name: &Name) -> Self {
        Self(format!("{TOMBSTONES_PREFIX}/{name}.json"))
    }

    /// The name a `tombstones/<name>.json` key stands for.
    pub fn name_from_tombstone_path(key: &str) -> Option<Name> {
        let inner = key
            .strip_prefix(TOMBSTONES_PREFIX)?
            .strip_prefix('/')?
            .strip_suffix(".json")?;
        Name::new(inner).ok()
    }

    /// `history/<name>.hist/<stem>.json`: one event of `name`'s history.
    pub fn history_event(name: &Name, stem: &str) -> Self {
        Self(format!(
            "{HISTORY_PREFIX}/{name}{HISTORY_SUFFIX}/{stem}.json"
        ))
    }

    /// `history/<name>.hist`: the folder of `name`'s events, for listing.
    /// A listing below it may also return events of names below
    /// `<name>.hist/`; [`StorePath::name_from_history_path`] tells them
    /// apart.
    pub fn history_of(name: &Name) -> Self {
        Self(format!("{HISTORY_PREFIX}/{name}{HISTORY_SUFFIX}"))
    }

    /// The name a `history/<name>.hist/<stem>.json` key belongs to.
    pub fn name_from_history_path(key: &str) -> Option<Name> {
        let inner = key.strip_prefix(HISTORY_PREFIX)?.strip_prefix('/')?;
        let (folder, stem) = inner.rsplit_once('/')?;
        stem.strip_suffix(".json")?;
        Name::new(folder.strip_suffix(HISTORY_SUFFIX)?).ok()
    }

    /// A bare prefix such as [`NAMES_PREFIX`], for listing.
    pub fn prefix(prefix: &str) -> Self {
        Self(prefix.trim_end_matches('/').to_owned())
    }

    /// The name a `names/<name>.json` key stands for.
    pub fn name_from_record_path(key: &str) -> Option<Name> {
        let inner = key
            .strip_prefix(NAMES_PREFIX)?
            .strip_prefix('/')?
            .strip_suffix(".json")?;
        Name::new(inner).ok()
    }

    /// The name prefix a `packs/<prefix>/<hex>.json` key was written for.
    pub fn pack_prefix_from_path(key: &str) -> Option<Name> {
        let inner = key
            .strip_prefix(PACKS_PREFIX)?
            .strip_prefix('/')?
            .strip_suffix(".json")?;
        let (prefix, hex) = inner.rsplit_once('/')?;
        hex.parse::<Digest>().ok()?;
        Name::new(prefix).ok()
    }

    /// The digest a `blobs/<hex>` key stands for.
    pub fn digest_from_blob_path(key: &str) -> Option<Digest> {
        key.strip_prefix(BLOBS_PREFIX)?
            .strip_prefix('/')?
            .parse()
            .ok()
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StorePath({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips() {
        let d = Digest::of(b"x");
        let blob = StorePath::blob(&d);
        assert_eq!(StorePath::digest_from_blob_path(blob.as_str()), Some(d));
        assert_eq!(StorePath::run_manifest("ab").as_str(), "runs/ab.json");
        assert_eq!(StorePath::name_from_record_path("names/.json"), None);
        assert_eq!(StorePath::name_from_record_path("blobs/x.json"), None);
    }

    #[test]
    fn pack_keys_give_back_their_prefix() {
        let prefix = Name::new("raw/2026").unwrap();
        let d = Digest::of(b"pack");
        let key = StorePath::record_pack(&prefix, &d);
        assert_eq!(key.as_str(), format!("packs/raw/2026/{d}.json"));
        assert_eq!(StorePath::pack_prefix_from_path(key.as_str()), Some(prefix));
        for bad in [
            format!("packs/{d}.json"),
            "packs/raw/not-a-digest.json".to_owned(),
            format!("packs/raw/{d}"),
            format!("names/raw/{d}.json"),
        ] {
            assert_eq!(StorePath::pack_prefix_from_path(&bad), None, "{bad}");
        }
    }

    #[test]
    fn history_keys_give_back_their_name_even_below_another_name() {
        let a = Name::new("a").unwrap();
        let below = Name::new("a.hist/x").unwrap();
        let key = StorePath::history_event(&a, "t-1");
        assert_eq!(key.as_str(), "history/a.hist/t-1.json");
        assert_eq!(StorePath::name_from_history_path(key.as_str()), Some(a));
        let deeper = StorePath::history_event(&below, "t-2");
        assert_eq!(
            StorePath::name_from_history_path(deeper.as_str()),
            Some(below)
        );
        assert_eq!(StorePath::name_from_history_path("history/a/t.json"), None);
    }

    #[test]
    fn parse_rejects_escapes() {
        for bad in ["", "/a", "a//b", "a/../b", "./a", "a/"] {
            assert!(StorePath::parse(bad).is_err(), "{bad}");
        }
        assert!(StorePath::parse("names/a/b.json").is_ok());
    }
}
