//! `evict`: dropping local copies (the store keeps the content).
//!
//! A local copy is named by its digest, so names with equal bytes share
//! one. Evicting some of those names must not take the copy from the
//! others: it goes only when every name that holds it is evicted too, or
//! with [`Evict::All`].

use std::collections::{BTreeMap, BTreeSet};

use lake_core::{Digest, Name};
use serde::Serialize;

#[allow(unused_imports)] // for the doc links
use crate::Error;
use crate::{Lake, Result};

/// What [`Lake::evict`] drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evict {
    /// The names at or below each of these (a name, or a prefix).
    Names(Vec<Name>),
    /// Every local copy of the home's index of this store, whoever shares it.
    All,
}

/// What [`Lake::evict`] really freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvictReport {
    /// Names whose content had a local copy that is now gone.
    pub names: Vec<Name>,
    /// Local copies deleted (one per distinct content).
    pub copies: usize,
    /// Bytes freed on disk.
    pub bytes: u64,
    /// Names asked for whose copy stays, because other names not evicted
    /// hold the same bytes: each with those other names.
    pub kept_shared: BTreeMap<Name, Vec<Name>>,
    /// Names asked for that had no local copy.
    pub not_local: Vec<Name>,
}

impl Lake {
    /// Drops local copies; see [`Evict`] and [`EvictReport`]. The store
    /// keeps the content, and the next read downloads it again.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a name or prefix that matches nothing; then
    /// nothing is evicted.
    pub fn evict(&self, what: &Evict) -> Result<EvictReport> {
        let entries = self.index().list("")?;
        let mut holders: BTreeMap<Digest, Vec<Name>> = BTreeMap::new();
        for entry in &entries {
            holders
                .entry(entry.blake3)
                .or_default()
                .push(entry.name.clone());
        }
        let chosen: BTreeMap<Name, (Digest, u64)> = match what {
            Evict::All => entries
                .into_iter()
                .map(|e| (e.name, (e.blake3, e.size)))
                .collect(),
            Evict::Names(targets) => {
                let mut chosen = BTreeMap::new();
                for target in targets {
                    let below = self.index().list(target.as_str())?;
                    if below.is_empty() {
                        // Not in the index: the store may know it (a name
                        // added elsewhere, not listed here yet).
                        let record = self.record(target)?;
                        holders
                            .entry(record.blake3)
                            .or_default()
                            .push(record.name.clone());
                        chosen.insert(record.name, (record.blake3, record.size));
                    }
                    chosen.extend(below.into_iter().map(|e| (e.name, (e.blake3, e.size))));
                }
                chosen
            }
        };
        let mut report = EvictReport::default();
        let mut by_digest: BTreeMap<Digest, Vec<Name>> = BTreeMap::new();
        for (name, (digest, _)) in &chosen {
            by_digest.entry(*digest).or_default().push(name.clone());
        }
        for (digest, names) in by_digest {
            let mine: BTreeSet<&Name> = names.iter().collect();
            let others: Vec<Name> = holders
                .get(&digest)
                .into_iter()
                .flatten()
                .filter(|n| !mine.contains(n))
                .cloned()
                .collect();
            let path = self.inner.home.blob_path(&digest);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                report.not_local.extend(names);
                continue;
            };
            if !others.is_empty() && *what != Evict::All {
                for name in names {
                    report.kept_shared.insert(name, others.clone());
                }
                continue;
            }
            if self.inner.home.remove_blob(&digest)? {
                report.copies += 1;
                report.bytes += meta.len();
                report.names.extend(names);
            }
        }
        if *what == Evict::All {
            // Copies no name of this store holds (another store's, or
            // leftovers): `--all` means every local copy.
            for digest in self.inner.home.local_copy_digests()? {
                let path = self.inner.home.blob_path(&digest);
                let size = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
                if self.inner.home.remove_blob(&digest)? {
                    report.copies += 1;
                    report.bytes += size;
                }
            }
        }
        Ok(report)
    }
}
