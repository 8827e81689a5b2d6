//! The home's index: a SQLite catalogue of names and their records.
//!
//! SQLite because several lake processes share one home (a pipeline and a
//! `lake ls` at once); WAL mode lets readers run beside a writer. The index is
//! only a cache of the store: [`Index::apply_refresh`] brings it up to date from a listing.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lake_core::{Annotations, Digest, Name, Record};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, Result};

mod nesting;
mod removal;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS names (
    name TEXT PRIMARY KEY NOT NULL,
    blake3 TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY NOT NULL,
    manifest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    blake3 TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS annotations (
    name TEXT PRIMARY KEY NOT NULL,
    json TEXT NOT NULL,
    version TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;
";

/// `SELECT … FROM table` restricted to the names at or below `?1`, by
/// ranges on the key rather than `substr`, so SQLite seeks instead of
/// scanning: '0' follows '/' in byte order, so [p/, p0) is exactly the
/// names below p.
macro_rules! below {
    ($select:literal) => {
        concat!(
            $select,
            " WHERE ?1 = '' OR name = ?1 OR (name >= ?1 || '/' AND name < ?1 || '0') ORDER BY name"
        )
    };
}

/// What identifies an unchanged source file without reading it: size,
/// modification and change times, inode (as git's index does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceStamp {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    inode: u64,
}

/// A file modified this soon after it was stamped could change again within
/// the timestamp granularity unseen ("racily clean", in git's words), so
/// such stamps are not trusted.
const RACY_WINDOW_NS: i64 = 2_000_000_000;

impl SourceStamp {
    /// The stamp of a regular file, or `None` where the platform has no
    /// inode and change time (then every re-add hashes).
    pub(crate) fn of(meta: &std::fs::Metadata) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let stamp = Self {
                size: meta.size(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                inode: meta.ino(),
            };
            let now_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
            (now_ns - stamp.mtime_ns.max(stamp.ctime_ns) > RACY_WINDOW_NS).then_some(stamp)
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

/// One row of the index.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub(crate) name: Name,
    pub(crate) blake3: Digest,
    pub(crate) size: u64,
}

#[derive(Debug)]
pub(crate) struct Index {
    conn: Connection,
    path: PathBuf,
    batch: Option<Batch>,
}

/// An open batch: writes share one transaction, committed every
/// [`BATCH_MAX_WRITES`] writes or [`BATCH_MAX_AGE`], whichever comes first.
#[derive(Debug)]
struct Batch {
    /// Nested `begin_batch` calls (concurrent `add -r`s of one process).
    depth: usize,
    writes: usize,
    began: std::time::Instant,
}

/// Writes per batch commit: enough that the commit cost vanishes per write.
const BATCH_MAX_WRITES: usize = 2_000;

/// How long a batch may hold SQLite's write lock, which other processes on
/// the same home wait for.
const BATCH_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(200);

impl Index {
    /// Opens (creating if needed) the index at `path`. An index that is not
    /// a database, or a corrupt one, is deleted and created anew with a
    /// one-line warning: it is only a cache of the store, and refusing every
    /// command over it would leave the user nothing to repair it with.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        match Self::open_or_create(path) {
            Err(Error::Index { source, .. }) if is_unusable(&source) => {
                tracing::warn!(
                    "index {} is unusable ({source}); rebuilding it from the store",
                    path.display()
                );
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.as_os_str().to_owned();
                    file.push(suffix);
                    match std::fs::remove_file(&file) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(Error::io("remove unusable index", file, e)),
                    }
                }
                Self::open_or_create(path)
            }
            opened => opened,
        }
    }

    fn open_or_create(path: &Path) -> Result<Self> {
        let err = |source| Error::Index {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.execute_batch(removal::SCHEMA).map_err(err)?;
        removal::init(&conn).map_err(err)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            batch: None,
        })
    }

    /// Groups the writes that follow, until the matching [`Index::end_batch`],
    /// into few transactions instead of one each: `add -r` of many files
    /// would otherwise spend most of its time committing. Nothing depends on
    /// a batched write being durable: the index is a cache of the store.
    pub(crate) fn begin_batch(&mut self) -> Result<()> {
        match &mut self.batch {
            Some(batch) => batch.depth += 1,
            None => {
                // IMMEDIATE: a deferred transaction that reads first and
                // then writes must upgrade its lock, and SQLite answers a
                // contended upgrade with SQLITE_BUSY at once, without the
                // busy timeout (8 of 20 concurrent `add -r` runs failed so).
                self.conn
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(|e| self.err(e))?;
                self.batch = Some(Batch {
                    depth: 1,
                    writes: 0,
                    began: std::time::Instant::now(),
                });
            }
        }
        Ok(())
    }

    /// Ends one [`Index::begin_batch`]; the outermost commits.
    pub(crate) fn end_batch(&mut self) -> Result<()> {
        let Some(batch) = &mut self.batch else {
            return Ok(());
        };
        batch.depth -= 1;
        if batch.depth > 0 {
            return Ok(());
        }
        self.batch = None;
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }

    /// Counts a write of the open batch, committing it when it is due.
    fn wrote(&mut self) -> Result<()> {
        let Some(batch) = &mut self.batch else {
            return Ok(());
        };
        batch.writes += 1;
        if batch.writes < BATCH_MAX_WRITES && batch.began.elapsed() < BATCH_MAX_AGE {
            return Ok(());
        }
        batch.writes = 0;
        batch.began = std::time::Instant::now();
        self.conn
            .execute_batch("COMMIT; BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))
    }

    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    pub(crate) fn get(&self, name: &Name) -> Result<Option<Record>> {
        let json: Option<String> = self
            .conn
            .prepare_cached("SELECT record FROM names WHERE name = ?1")
            .and_then(|mut s| s.query_row(params![name.as_str()], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        match json {
            // A row that no longer parses (written by a newer lake) is
            // treated as absent, so the store's copy is fetched instead.
            Some(json) => Ok(Record::from_json(json.as_bytes()).ok()),
            None => Ok(None),
        }
    }

    pub(crate) fn insert(&mut self, record: &Record) -> Result<()> {
        insert_with(&self.conn, record).map_err(|e| self.err(e))?;
        self.wrote()
    }

    /// A cached run manifest (JSON), by key hex.
    pub(crate) fn run_manifest(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT manifest FROM runs WHERE key = ?1")
            .and_then(|mut s| s.query_row(params![key], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Caches a run manifest; manifests are immutable once committed.
    pub(crate) fn insert_run_manifest(&mut self, key: &str, json: &str) -> Result<()> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO runs (key, manifest) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, json]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// All entries at or below `prefix` (segment-wise), sorted by name.
    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<IndexEntry>> {
        let rows = self.rows_below(
            below!("SELECT name, blake3, size FROM names"),
            prefix,
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            },
        )?;
        // Rows are written only from validated records; skip anything that
        // does not parse rather than failing the whole listing.
        Ok(rows
            .into_iter()
            .filter_map(|(name, blake3, size)| {
                Some(IndexEntry {
                    name: Name::new(name).ok()?,
                    blake3: blake3.parse().ok()?,
                    size: size as u64,
                })
            })
            .collect())
    }

    /// Digest and size of `name`, without parsing its record.
    pub(crate) fn content_of(&self, name: &Name) -> Result<Option<(Digest, u64)>> {
        let row: Option<(String, i64)> = self
            .conn
            .prepare_cached("SELECT blake3, size FROM names WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row(params![name.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|(digest, size)| Some((digest.parse().ok()?, size as u64))))
    }

    /// The digest an earlier add computed for the file at `path`, if the
    /// file's stamp is unchanged since.
    pub(crate) fn source_digest(&self, path: &Path, stamp: &SourceStamp) -> Result<Option<Digest>> {
        let row: Option<(i64, i64, i64, i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT size, mtime_ns, ctime_ns, inode, blake3 FROM sources WHERE path = ?1",
            )
            .and_then(|mut s| {
                s.query_row(params![path.to_string_lossy()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(row.and_then(|(size, mtime_ns, ctime_ns, inode, digest)| {
            let same = size as u64 == stamp.size
                && mtime_ns == stamp.mtime_ns
                && ctime_ns == stamp.ctime_ns
                && inode as u64 == stamp.inode;
            if same { digest.parse().ok() } else { None }
        }))
    }

    /// Every remembered source below `dir`, with its stamp and digest.
    pub(crate) fn sources_below(
        &self,
        dir: &Path,
    ) -> Result<std::collections::HashMap<PathBuf, (SourceStamp, Digest)>> {
        let dir = dir.to_string_lossy();
        let dir = dir.trim_end_matches('/');
        // A range on the key (see `list`): [dir/, dir0).
        let (from, to) = (format!("{dir}/"), format!("{dir}0"));
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, size, mtime_ns, ctime_ns, inode, blake3 FROM sources
                 WHERE path >= ?1 AND path < ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    SourceStamp {
                        size: r.get::<_, i64>(1)? as u64,
                        mtime_ns: r.get(2)?,
                        ctime_ns: r.get(3)?,
                        inode: r.get::<_, i64>(4)? as u64,
                    },
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let (path, stamp, digest) = row.map_err(|e| self.err(e))?;
            if let Ok(digest) = digest.parse() {
                out.insert(PathBuf::from(path), (stamp, digest));
            }
        }
        Ok(out)
    }

    /// Remembers that the file at `path` with `stamp` hashes to `digest`.
    pub(crate) fn remember_source(
        &mut self,
        path: &Path,
        stamp: &SourceStamp,
        digest: &Digest,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO sources (path, size, mtime_ns, ctime_ns, inode, blake3)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    path.to_string_lossy(),
                    stamp.size as i64,
                    stamp.mtime_ns,
                    stamp.ctime_ns,
                    stamp.inode as i64,
                    digest.to_hex()
                ])
            })
            .map_err(|e| self.err(e))?;
        self.wrote()
    }

    /// Every record in the index, sorted by name.
    pub(crate) fn records(&self) -> Result<Vec<Record>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT record FROM names ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(|e| self.err(e))?;
            if let Ok(record) = Record::from_json(json.as_bytes()) {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Names currently in the index.
    pub(crate) fn names(&self) -> Result<Vec<Name>> {
        Ok(self.list("")?.into_iter().map(|e| e.name).collect())
    }

    /// Applies a refresh from the store: inserts `added`, removes `removed`,
    /// and (for a full refresh, `stamp`) records the time, in one transaction.
    pub(crate) fn apply_refresh(
        &mut self,
        added: &[Record],
        removed: &[Name],
        stamp: bool,
    ) -> Result<()> {
        let apply = |conn: &Connection| -> rusqlite::Result<()> {
            for record in added {
                insert_with(conn, record)?;
            }
            for name in removed {
                removal::forget(conn, name)?;
            }
            if stamp {
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_refresh', ?1)",
                    params![Utc::now().to_rfc3339()],
                )?;
            }
            Ok(())
        };
        // Inside an open batch a savepoint nests in its transaction; alone,
        // the write lock is taken up front (see `begin_batch`).
        let result = if self.batch.is_some() {
            self.conn
                .savepoint()
                .and_then(|tx| apply(&tx).and_then(|()| tx.commit()))
        } else {
            self.conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .and_then(|tx| apply(&tx).and_then(|()| tx.commit()))
        };
        result.map_err(|e| self.err(e))
    }

    /// When the index was last refreshed from the store.
    pub(crate) fn last_refresh(&self) -> Result<Option<DateTime<Utc>>> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'last_refresh'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(value.and_then(|v| DateTime::parse_from_rfc3339(&v).ok().map(Into::into)))
    }
}

/// The annotations cache (issue 13): a copy of `notes/<name>.json` per name,
/// with the store object's version, so `lake ls --tag/--label/--since`
/// filters without reading the store and a refresh fetches only what
/// changed. The store stays the one place annotations live.
impl Index {
    /// Caches `annotations` of `name` as read at `version` (`None`: the
    /// name has none, which removes the row).
    pub(crate) fn set_annotations(
        &mut self,
        name: &Name,
        annotations: Option<(&Annotations, &str)>,
    ) -> Result<()> {
        let result = match annotations {
            Some((a, version)) => {
                let json = String::from_utf8(a.to_json()).expect("json is utf-8");
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO annotations (name, json, version)
                         VALUES (?1, ?2, ?3)",
                    )
                    .and_then(|mut s| s.execute(params![name.as_str(), json, version]))
            }
            None => self
                .conn
                .prepare_cached("DELETE FROM annotations WHERE name = ?1")
                .and_then(|mut s| s.execute(params![name.as_str()])),
        };
        result.map_err(|e| self.err(e))?;
        self.wrote()
    }

    /// Every cached (name, annotations, version) at or below `prefix`.
    pub(crate) fn annotations_below(
        &self,
        prefix: &str,
    ) -> Result<Vec<(Name, Annotations, String)>> {
        let rows = self.rows_below(
            below!("SELECT name, json, version FROM annotations"),
            prefix,
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)),
        )?;
        // A row that no longer parses is skipped (the next refresh re-reads it).
        Ok(rows
            .into_iter()
            .filter_map(|(name, json, version): (String, String, String)| {
                let a = Annotations::from_json(json.as_bytes(), "cached annotations").ok()?;
                Some((Name::new(name).ok()?, a, version))
            })
            .collect())
    }

    /// The creation time of every indexed name at or below `prefix`.
    pub(crate) fn created_below(
        &self,
        prefix: &str,
    ) -> Result<std::collections::HashMap<Name, DateTime<Utc>>> {
        let rows = self.rows_below(below!("SELECT name, created_at FROM names"), prefix, |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, at)| {
                let at = DateTime::parse_from_rfc3339(&at).ok()?;
                Some((Name::new(name).ok()?, at.into()))
            })
            .collect())
    }

    /// The rows `sql` (built with `below!`) selects for `prefix`.
    fn rows_below<T>(
        &self,
        sql: &str,
        prefix: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let prefix = prefix.trim_end_matches('/');
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![prefix], row)
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(|e| self.err(e))
    }
}

/// True for the errors of a file that is not an SQLite database, or a
/// damaged one, as opposed to a busy or unwritable one.
fn is_unusable(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn insert_with(conn: &Connection, record: &Record) -> rusqlite::Result<()> {
    let json = String::from_utf8(record.to_json()).expect("json is utf-8");
    conn.prepare_cached(
        "INSERT OR REPLACE INTO names (name, blake3, size, created_at, record)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        record.name.as_str(),
        record.blake3.to_hex(),
        record.size as i64,
        record.created_at.to_rfc3339(),
        json
    ])?;
    removal::insert_inputs(conn, record)
}
