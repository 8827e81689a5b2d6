//! The index's part in removal (docs/design/0010-removal.md): which names
//! were made from which (so `rm` finds downstream files without the
//! store), which names hold a digest, and the tombstones this home knows.

use lake_core::{Digest, Lineage, Name, Record, Tombstone};
use rusqlite::{Connection, OptionalExtension, params};

use super::Index;
use crate::Result;

/// Tables of this module; created beside the main schema.
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inputs (
    input TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (input, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tombstones (
    name TEXT PRIMARY KEY NOT NULL,
    tombstone TEXT NOT NULL,
    seen TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS names_by_blake3 ON names (blake3);
";

/// Marks an index whose `inputs` table covers every record; an index made
/// before the table existed is filled once, from its records.
const INPUTS_FILLED: &str = "inputs_filled";

/// Fills `inputs` from the records of an index written before it existed.
pub(super) fn init(conn: &Connection) -> rusqlite::Result<()> {
    let filled: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            params![INPUTS_FILLED],
            |r| r.get(0),
        )
        .optional()?;
    if filled.is_some() {
        return Ok(());
    }
    // IMMEDIATE, as in `Index::begin_batch`: two processes opening one
    // old index must not both fail to upgrade a read lock.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare("SELECT record FROM names")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for json in rows {
            if let Ok(record) = Record::from_json(json?.as_bytes()) {
                insert_inputs(&tx, &record)?;
            }
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, '1')",
        params![INPUTS_FILLED],
    )?;
    tx.commit()
}

/// Records which names `record`'s run read: the edges `rm` follows.
pub(super) fn insert_inputs(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    if let Lineage::Created(run) = &record.lineage {
        let mut stmt =
            conn.prepare_cached("INSERT OR IGNORE INTO inputs (input, name) VALUES (?1, ?2)")?;
        for input in &run.inputs {
            stmt.execute(params![input.name.as_str(), record.name.as_str()])?;
        }
    }
    Ok(())
}

/// Forgets `name`: its row, its edges, and the manifest of the run that
/// made it, so that no hit is answered from a run whose output is gone.
pub(super) fn forget(conn: &Connection, name: &Name) -> rusqlite::Result<()> {
    let json: Option<String> = conn
        .prepare_cached("SELECT record FROM names WHERE name = ?1")?
        .query_row(params![name.as_str()], |r| r.get(0))
        .optional()?;
    if let Some(Lineage::Created(run)) = json
        .and_then(|j| Record::from_json(j.as_bytes()).ok())
        .map(|r| r.lineage)
    {
        conn.prepare_cached("DELETE FROM runs WHERE key = ?1")?
            .execute(params![run.run_key])?;
    }
    conn.prepare_cached("DELETE FROM inputs WHERE name = ?1")?
        .execute(params![name.as_str()])?;
    conn.prepare_cached("DELETE FROM annotations WHERE name = ?1")?
        .execute(params![name.as_str()])?;
    conn.prepare_cached("DELETE FROM names WHERE name = ?1")?
        .execute(params![name.as_str()])?;
    Ok(())
}

impl Index {
    /// The names whose run read `name` as an input, sorted.
    pub(crate) fn made_from(&self, name: &Name) -> Result<Vec<Name>> {
        // Only edges of names the index still lists.
        self.names_where(
            "SELECT i.name FROM inputs i JOIN names n ON n.name = i.name
             WHERE i.input = ?1 ORDER BY i.name",
            name.as_str(),
        )
    }

    /// The names that hold `digest`, sorted.
    pub(crate) fn names_holding(&self, digest: &Digest) -> Result<Vec<Name>> {
        self.names_where(
            "SELECT name FROM names WHERE blake3 = ?1 ORDER BY name",
            &digest.to_hex(),
        )
    }

    /// The names `sql` selects (one column) given `param` as `?1`; rows
    /// that are not valid names are skipped, as in `Index::list`.
    fn names_where(&self, sql: &str, param: &str) -> Result<Vec<Name>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![param], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(name) = Name::new(row.map_err(|e| self.err(e))?) {
                out.push(name);
            }
        }
        Ok(out)
    }

    /// Forgets removed names (see [`forget`]) in one transaction.
    pub(crate) fn forget_names(&mut self, names: &[Name]) -> Result<()> {
        self.apply_refresh(&[], names, false)
    }

    /// The tombstone of `name`, if this home knows one.
    pub(crate) fn tombstone(&self, name: &Name) -> Result<Option<Tombstone>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT tombstone FROM tombstones WHERE name = ?1")
            .and_then(|mut s| s.query_row(params![name.as_str()], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(json.and_then(|j| Tombstone::from_json(j.as_bytes()).ok()))
    }

    /// The names below `prefix` (all with `""`) that have a known tombstone,
    /// with the stamp (e-tag, else modification time) it was listed with.
    pub(crate) fn tombstoned_below(
        &self,
        prefix: &str,
    ) -> Result<std::collections::BTreeMap<Name, String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name, seen FROM tombstones
                 WHERE ?1 = '' OR name = ?1 OR (name >= ?1 || '/' AND name < ?1 || '0')",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![prefix], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (name, seen) = row.map_err(|e| self.err(e))?;
            if let Ok(name) = Name::new(name) {
                out.insert(name, seen);
            }
        }
        Ok(out)
    }

    /// Remembers a tombstone listed with stamp `seen` (replacing an older
    /// one of the same name).
    pub(crate) fn insert_tombstone(&mut self, tombstone: &Tombstone, seen: &str) -> Result<()> {
        let json = String::from_utf8(tombstone.to_json()).expect("json is utf-8");
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO tombstones (name, tombstone, seen) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![tombstone.name.as_str(), json, seen]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Forgets the cached manifest of run `key` (hex).
    pub(crate) fn forget_run(&mut self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM runs WHERE key = ?1")
            .and_then(|mut s| s.execute(params![key]))
            .map(drop)
            .map_err(|e| self.err(e))
    }
}
