//! A name is a file or a folder, never both (issue 14 item 5): a new name
//! is refused if a live name is one of its folders (`data/p.txt` exists,
//! `data/p.txt/child` is refused), or lies below it (`data/p.txt/child`
//! exists, `data/p.txt` is refused). Otherwise `ls data/p.txt` could not say
//! which one it means, and a checkout to disk could not hold both.
//!
//! Checked where a tombstone is (`check_tombstone`): the index, and for a
//! single add the store too (one GET per folder level, one LIST of what is
//! below). `add -r` refreshes its prefix first, so the index answers for
//! everything below it, and the store is asked once for the prefix's own
//! folders. Two concurrent adds of `a` and `a/b` from two homes can still
//! both pass; `lake verify --store` does not look for that yet.

use lake_core::{NAMES_PREFIX, Name, StorePath};

use crate::{Error, Lake, Result};

impl Lake {
    /// Refuses `name` if a live name is a folder of it or lies below it;
    /// `ask_store`: also ask the store, not just the index.
    pub(super) async fn check_nesting(&self, name: &Name, ask_store: bool) -> Result<()> {
        self.check_no_file_above(name, ask_store).await?;
        let mut below = self.index().first_name_below(name)?;
        if below.is_none() && ask_store {
            let prefix = StorePath::parse(&format!("{NAMES_PREFIX}/{}", name.as_str()))?;
            let page = self.store().list(&prefix, None, 1).await?;
            below = page
                .objects
                .first()
                .and_then(|o| StorePath::name_from_record_path(o.path.as_str()));
        }
        match below {
            Some(inside) => Err(Error::NameNesting {
                name: name.clone(),
                other: inside,
                why: "is below it, so it is a folder".into(),
            }),
            None => Ok(()),
        }
    }

    /// Refuses `name` if one of its folders is a live name (a file).
    pub(super) async fn check_no_file_above(&self, name: &Name, ask_store: bool) -> Result<()> {
        let segments: Vec<&str> = name.segments().collect();
        for depth in 1..segments.len() {
            let folder = Name::new(segments[..depth].join("/"))?;
            let is_file = if ask_store {
                self.try_record(&folder).await?.is_some()
            } else {
                self.index().content_of(&folder)?.is_some()
            };
            if is_file {
                return Err(Error::NameNesting {
                    name: name.clone(),
                    other: folder,
                    why: "is a file, so it cannot be a folder".into(),
                });
            }
        }
        Ok(())
    }
}
