//! The index's part in keeping a name a file or a folder, never both.

use lake_core::Name;
use rusqlite::{OptionalExtension, params};

use super::Index;
use crate::Result;

impl Index {
    /// The first name strictly below `name` as a folder (`name/…`), if any:
    /// one range scan of the primary key.
    pub(crate) fn first_name_below(&self, name: &Name) -> Result<Option<Name>> {
        // Every key starting with "name/" sorts in ["name/", "name0"):
        // '0' is the character after '/'.
        let low = format!("{}/", name.as_str());
        let high = format!("{}0", name.as_str());
        let row: Option<String> = self
            .conn
            .prepare_cached("SELECT name FROM names WHERE name >= ?1 AND name < ?2 LIMIT 1")
            .and_then(|mut s| s.query_row(params![low, high], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|n| Name::new(n).ok()))
    }
}
