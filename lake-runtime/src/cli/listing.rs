//! What `ls` shows, shared by its text and its JSON: one level of folders
//! and files below a prefix, or every file with `-r`.
//!
//! The JSON shapes are documented in `docs/json.md`; `tests/tests/json.rs`
//! holds the output to that document.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use crate::{Annotations, ListEntry, Name};

/// A folder one level below the listed prefix.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Folder {
    /// The folder's full name, ending in `/`.
    pub(crate) name: String,
    /// Files at any depth below it.
    pub(crate) files: usize,
    /// Their bytes, summed.
    pub(crate) size: u64,
}

/// The rows of one `ls`: folders first (one level only), then files.
pub(crate) struct Listing<'a> {
    pub(crate) folders: Vec<Folder>,
    pub(crate) files: Vec<&'a ListEntry>,
}

impl<'a> Listing<'a> {
    /// Groups `entries` (every name at or below `prefix`) into what `ls`
    /// shows: with `recursive`, every file; else the files directly below
    /// `prefix` and one folder per deeper subtree.
    pub(crate) fn group(prefix: &str, entries: &'a [ListEntry], recursive: bool) -> Self {
        let prefix = prefix.trim_end_matches('/');
        let strip = if prefix.is_empty() {
            0
        } else {
            prefix.len() + 1
        };
        let mut folders: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
        let mut files = Vec::new();
        for entry in entries {
            let name = entry.name.as_str();
            // `lake ls data/p.txt` names a file: it is shown as one, not as
            // the folder `data/p.txt/data/` (issue 14).
            if name == prefix {
                files.push(entry);
                continue;
            }
            let rest = name.get(strip..).unwrap_or(name);
            match rest.split_once('/') {
                Some((folder, _)) if !recursive => {
                    let total = folders.entry(folder).or_default();
                    total.0 += 1;
                    total.1 += entry.size;
                }
                _ => files.push(entry),
            }
        }
        let folders = folders
            .into_iter()
            .map(|(folder, (files, size))| Folder {
                name: if prefix.is_empty() {
                    format!("{folder}/")
                } else {
                    format!("{prefix}/{folder}/")
                },
                files,
                size,
            })
            .collect();
        Listing { folders, files }
    }
}

/// One line of `ls --json`, tagged by `kind`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Row<'a> {
    Folder(&'a Folder),
    File {
        #[serde(flatten)]
        entry: &'a ListEntry,
        /// With `--long`.
        #[serde(skip_serializing_if = "Option::is_none")]
        annotations: Option<&'a Annotations>,
        /// With `--where`: the stores holding the bytes, by history.
        #[serde(rename = "where", skip_serializing_if = "Option::is_none")]
        stores: Option<&'a [String]>,
    },
}

/// `ls --json`: the listing as JSON Lines, one object per folder or file,
/// so a reader can stream a listing of a million names.
pub(crate) fn write_json_lines(
    out: &mut impl Write,
    listing: &Listing<'_>,
    notes: Option<&BTreeMap<Name, Annotations>>,
    places: Option<&BTreeMap<Name, Vec<String>>>,
) -> io::Result<()> {
    let no_notes = Annotations::default();
    for folder in &listing.folders {
        json_line(out, &Row::Folder(folder))?;
    }
    for entry in &listing.files {
        let row = Row::File {
            entry,
            annotations: notes.map(|n| n.get(&entry.name).unwrap_or(&no_notes)),
            stores: places.map(|p| p.get(&entry.name).map(Vec::as_slice).unwrap_or_default()),
        };
        json_line(out, &row)?;
    }
    Ok(())
}

/// One value as one line of JSON Lines.
pub(crate) fn json_line(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, size: u64) -> ListEntry {
        ListEntry {
            name: Name::new(name).unwrap(),
            size,
            blake3: lake_core::Digest::of(name.as_bytes()),
            local: true,
            in_store: true,
        }
    }

    #[test]
    fn one_level_groups_deeper_names_into_folders_with_their_totals() {
        let entries = [
            entry("d/a.txt", 1),
            entry("d/sub/b.txt", 2),
            entry("d/sub/deeper/c.txt", 4),
            entry("d/z/e.txt", 8),
        ];
        let listing = Listing::group("d/", &entries, false);
        assert_eq!(
            listing.folders,
            [
                Folder {
                    name: "d/sub/".into(),
                    files: 2,
                    size: 6
                },
                Folder {
                    name: "d/z/".into(),
                    files: 1,
                    size: 8
                },
            ]
        );
        let files: Vec<&str> = listing.files.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(files, ["d/a.txt"]);
        let all = Listing::group("d", &entries, true);
        assert!(all.folders.is_empty());
        assert_eq!(all.files.len(), 4);
    }

    #[test]
    fn a_file_named_by_the_prefix_is_a_file() {
        let entries = [entry("data/p.txt", 3)];
        let listing = Listing::group("data/p.txt", &entries, false);
        assert!(listing.folders.is_empty());
        assert_eq!(listing.files.len(), 1);
    }
}
