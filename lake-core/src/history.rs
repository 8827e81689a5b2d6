//! History events: where a name's bytes have been, and what happened to
//! them (`docs/design/0013-stores-and-history.md`).
//!
//! Each event is its own object, `history/<name>.hist/<time>-<id>.json`,
//! created once and never changed: an append-only log that needs no
//! compare-and-swap (which the local backend lacks and moto loses under
//! concurrency), so two machines writing events at once never lose one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::decode_versioned;
use crate::{Digest, Name, Result};

/// Version of the [`HistoryEvent`] JSON layout. Bump when its fields change
/// meaning.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// What happened, in one [`HistoryEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HistoryKind {
    /// A copy to `store` is about to start (an intent, `op` names it). A
    /// crash before its [`Copied`](Self::Copied) or
    /// [`Abandoned`](Self::Abandoned) leaves it open, for `lake verify
    /// --store --repair` to settle.
    CopyStarted,
    /// `store` holds a verified copy: a location gained.
    Copied,
    /// The copy of intent `op` did not happen (found missing or corrupt at
    /// its destination by a repair, or refused there).
    Abandoned,
    /// `store` no longer holds a copy: a location lost (`rm --from`, the
    /// end of a move, or a repair that found the copy gone). With an `op`,
    /// it closes that [`RemoveStarted`](Self::RemoveStarted).
    LocationRemoved,
    /// The copy at `store` is about to be deleted (an intent, `op` names
    /// it). While it is open, no other copy of the name is deleted: two
    /// machines removing two copies at once must not remove both.
    RemoveStarted,
    /// The name itself was removed (`lake rm`), from every location.
    Removed,
}

impl HistoryKind {
    /// The word `lake history` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CopyStarted => "copy_started",
            Self::Copied => "copied",
            Self::Abandoned => "abandoned",
            Self::LocationRemoved => "location_removed",
            Self::RemoveStarted => "remove_started",
            Self::Removed => "removed",
        }
    }
}

/// A store as history names it: by the id it holds (`lake-store.json`),
/// which is the same on every machine, and by the name the writer's
/// `lake.toml` gave it, for people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StoreRef {
    /// The store's configured name on the machine that wrote the event.
    pub name: String,
    /// The store's id: 32 lowercase hex digits.
    pub id: String,
}

/// One entry of a name's history, stored as
/// [`StorePath::history_event`](crate::StorePath::history_event).
///
/// # Example
/// ```
/// use lake_core::{Digest, HistoryEvent, HistoryKind, Name, StoreRef};
///
/// let to = StoreRef { name: "archive".into(), id: "0".repeat(32) };
/// let event = HistoryEvent::new(
///     Name::new("raw/a.csv")?, HistoryKind::Copied, Digest::of(b"a"), 1,
///     "ada@example.com", "box", "lake cp raw/a.csv --to archive",
/// )
/// .with_store(to)
/// .with_op("7f3a");
/// assert_eq!(HistoryEvent::from_json(&event.to_json())?, event);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    /// [`HISTORY_SCHEMA_VERSION`] when written.
    pub schema_version: u32,
    /// The name.
    pub name: Name,
    /// What happened.
    pub event: HistoryKind,
    /// The store it happened at (none for [`HistoryKind::Removed`]).
    pub store: Option<StoreRef>,
    /// For a move's [`HistoryKind::CopyStarted`]: the store the copy leaves
    /// once it is made.
    pub from: Option<StoreRef>,
    /// The operation an intent and its outcome share.
    pub op: Option<String>,
    /// blake3 of the content.
    pub blake3: Digest,
    /// Its length in bytes.
    pub size: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: git `user.email`, else `$USER@host`, as in lineage.
    pub by: String,
    /// The machine.
    pub host: String,
    /// The command line, credentials redacted.
    pub command: String,
    /// Anything more: the reason of a removal, what a repair found.
    pub note: Option<String>,
    /// Version of lake that wrote it.
    pub lake_version: String,
}

impl HistoryEvent {
    /// An event `kind` for `name` holding `blake3` (`size` bytes), now.
    pub fn new(
        name: Name,
        kind: HistoryKind,
        blake3: Digest,
        size: u64,
        by: impl Into<String>,
        host: impl Into<String>,
        command: impl Into<String>,
    ) -> Self {
        Self {
            schema_version: HISTORY_SCHEMA_VERSION,
            name,
            event: kind,
            store: None,
            from: None,
            op: None,
            blake3,
            size,
            at: Utc::now(),
            by: by.into(),
            host: host.into(),
            command: command.into(),
            note: None,
            lake_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Sets the store it happened at.
    pub fn with_store(mut self, store: StoreRef) -> Self {
        self.store = Some(store);
        self
    }

    /// Sets the store a move leaves.
    pub fn with_from(mut self, from: StoreRef) -> Self {
        self.from = Some(from);
        self
    }

    /// Sets the operation id.
    pub fn with_op(mut self, op: impl Into<String>) -> Self {
        self.op = Some(op.into());
        self
    }

    /// Sets the note.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// Serializes to pretty JSON, the form stored in the lake.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).expect("history event serializes")
    }

    /// Parses stored JSON, refusing events from a newer schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        decode_versioned(bytes, "history event", HISTORY_SCHEMA_VERSION)
    }

    /// The last segment of its key: the time, sortable as text, then a
    /// random part so that two events in one nanosecond do not collide.
    pub fn key_stem(&self, unique: &str) -> String {
        format!("{}-{unique}", self.at.format("%Y%m%dT%H%M%S%.9fZ"))
    }
}

/// What a name's history says now: where its copies are, and which
/// operations were started and never settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    /// The stores holding a copy, by id.
    pub stores: BTreeMap<String, StoreRef>,
    /// Intents without an outcome: op → the `CopyStarted` or
    /// `RemoveStarted` event.
    pub open: BTreeMap<String, HistoryEvent>,
}

impl Locations {
    /// Folds `events` (in any order; sorted here by time, then key) over
    /// the name's first location, `home`: the store that holds its record,
    /// where every name starts. Events before the latest
    /// [`HistoryKind::Removed`] belong to an earlier life of the name, and
    /// `alive` says whether the name exists now (a removed name is
    /// nowhere).
    pub fn fold(home: &StoreRef, events: &[HistoryEvent], alive: bool) -> Self {
        let mut sorted: Vec<&HistoryEvent> = events.iter().collect();
        sorted.sort_by_key(|e| e.at);
        let mut out = Self::default();
        out.stores.insert(home.id.clone(), home.clone());
        for event in sorted {
            match event.event {
                HistoryKind::CopyStarted | HistoryKind::RemoveStarted => {
                    if let Some(op) = &event.op {
                        out.open.insert(op.clone(), event.clone());
                    }
                }
                HistoryKind::Copied => {
                    if let Some(op) = &event.op {
                        out.open.remove(op);
                    }
                    if let Some(store) = &event.store {
                        out.stores.insert(store.id.clone(), store.clone());
                    }
                }
                HistoryKind::Abandoned => {
                    if let Some(op) = &event.op {
                        out.open.remove(op);
                    }
                }
                HistoryKind::LocationRemoved => {
                    if let Some(op) = &event.op {
                        out.open.remove(op);
                    }
                    if let Some(store) = &event.store {
                        out.stores.remove(&store.id);
                    }
                }
                HistoryKind::Removed => {
                    // A name re-added after a removal starts again in its
                    // home store.
                    out = Self::default();
                    out.stores.insert(home.id.clone(), home.clone());
                }
            }
        }
        if !alive {
            out.stores.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(name: &str, digit: char) -> StoreRef {
        StoreRef {
            name: name.into(),
            id: digit.to_string().repeat(32),
        }
    }

    fn sample() -> HistoryEvent {
        HistoryEvent {
            schema_version: HISTORY_SCHEMA_VERSION,
            name: Name::new("raw/a.csv").unwrap(),
            event: HistoryKind::CopyStarted,
            store: Some(store("archive", 'a')),
            from: Some(store("main", 'b')),
            op: Some("0123abcd".into()),
            blake3: Digest::of(b"a"),
            size: 1,
            at: "2026-11-29T19:00:00Z".parse().unwrap(),
            by: "ada@example.com".into(),
            host: "box".into(),
            command: "lake mv raw/a.csv --from main --to archive".into(),
            note: None,
            lake_version: "0.1.0".into(),
        }
    }

    /// Pins the stored bytes: changing them needs a schema version bump.
    #[test]
    fn golden_history_event_json() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let expected = r#"{
  "schema_version": 1,
  "name": "raw/a.csv",
  "event": "copy_started",
  "store": {
    "name": "archive",
    "id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  },
  "from": {
    "name": "main",
    "id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
  },
  "op": "0123abcd",
  "blake3": "DIGEST",
  "size": 1,
  "at": "2026-11-29T19:00:00Z",
  "by": "ada@example.com",
  "host": "box",
  "command": "lake mv raw/a.csv --from main --to archive",
  "note": null,
  "lake_version": "0.1.0"
}"#
        .replace("DIGEST", &Digest::of(b"a").to_string());
        assert_eq!(json, expected);
        assert_eq!(HistoryEvent::from_json(json.as_bytes()).unwrap(), sample());
        assert_eq!(
            sample().key_stem("x"),
            "20261129T190000.000000000Z-x",
            "sortable as text"
        );
    }

    #[test]
    fn fold_follows_a_move_and_a_removal() {
        let main = store("main", 'b');
        let archive = store("archive", 'a');
        let mut at = sample().at;
        let mut event = |kind, s: Option<&StoreRef>| {
            at += chrono::Duration::seconds(1);
            let mut e = sample();
            e.event = kind;
            e.store = s.cloned();
            e.at = at;
            e
        };
        let started = event(HistoryKind::CopyStarted, Some(&archive));
        let l = Locations::fold(&main, std::slice::from_ref(&started), true);
        assert_eq!(l.stores.len(), 1);
        assert_eq!(l.open.len(), 1, "an intent without an outcome is open");

        let copied = event(HistoryKind::Copied, Some(&archive));
        let gone = event(HistoryKind::LocationRemoved, Some(&main));
        let events = vec![gone.clone(), started.clone(), copied.clone()];
        let l = Locations::fold(&main, &events, true);
        assert_eq!(l.stores.keys().collect::<Vec<_>>(), [&archive.id]);
        assert!(l.open.is_empty());

        let removed = event(HistoryKind::Removed, None);
        let mut all = events.clone();
        all.push(removed);
        assert!(Locations::fold(&main, &all, false).stores.is_empty());
        // Re-added: back in its home store only.
        let l = Locations::fold(&main, &all, true);
        assert_eq!(l.stores.keys().collect::<Vec<_>>(), [&main.id]);
    }
}
