//! The error type of `lake-runtime`.

use std::path::PathBuf;

use lake_core::{Digest, Name, NameError, StoreError};

/// Everything that can go wrong in a lake.
///
/// Messages are one lowercase line naming the offending value, and never
/// contain credentials (store URLs are redacted before they get here).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string is not a valid name.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// A record, manifest or argument could not be decoded or encoded.
    /// (A bad name from lake-core arrives as [`Error::InvalidName`].)
    #[error(transparent)]
    Core(lake_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No file has this name, locally or in the store.
    #[error("no file named {name:?} in the lake (store {store})")]
    NotFound {
        /// The name asked for.
        name: Name,
        /// The store searched, redacted.
        store: String,
    },
    /// The name already holds other content; names are immutable.
    #[error(
        "name {name:?} already holds different content (blake3 {existing}); names are immutable, pick another name"
    )]
    NameTaken {
        /// The name.
        name: Name,
        /// What the name holds.
        existing: Digest,
        /// What was offered.
        offered: Digest,
    },
    /// The name was removed while it held other bytes; names are immutable,
    /// even across a removal (docs/design/0010-removal.md).
    #[error(
        "name {name:?} was removed by {by} at {at} while it held blake3 {existing} \
         (tombstone tombstones/{name}.json); a name never means two contents: add those bytes \
         to restore it, or pick another name",
        by = tombstone.removed_by,
        at = tombstone.removed_at,
        existing = tombstone.blake3
    )]
    Removed {
        /// The name.
        name: Name,
        /// Its tombstone: what it held, who removed it, when and why.
        tombstone: Box<lake_core::Tombstone>,
        /// What was offered.
        offered: Digest,
    },
    /// `rm` of a file that others were made from, without a cascade.
    #[error(
        "cannot remove {name:?}: {count} file(s) were made from it: {list}; remove them first, \
         or pass --cascade to remove them too",
        count = downstream.len(),
        list = join_names(downstream)
    )]
    HasDownstream {
        /// The file others were made from.
        name: Name,
        /// The files made from it (and from the other targets) that the
        /// removal would leave without their input.
        downstream: Vec<Name>,
    },
    /// Downloaded or local bytes do not match the record.
    #[error("{what} is corrupt: expected blake3 {expected}, got {actual}")]
    Corrupt {
        /// What was checked, e.g. `store object blobs/…` or `local copy of "a"`.
        what: String,
        /// The digest from the record.
        expected: Digest,
        /// The digest of the bytes seen.
        actual: Digest,
    },
    /// A local file operation failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done, e.g. `read`.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A source given to `add` cannot be used.
    #[error("cannot add {source_desc}: {message}")]
    Source {
        /// The path or URL, redacted.
        source_desc: String,
        /// Why.
        message: String,
    },
    /// A new name would make a name both a file and a folder.
    #[error("cannot create {name:?}: {other:?} {why}; a name is a file or a folder, never both")]
    NameNesting {
        /// The name asked for.
        name: Name,
        /// The live name in the way.
        other: Name,
        /// How it is in the way.
        why: String,
    },
    /// A local source changed between the moment it was hashed
    /// ([`Lake::local_source`](crate::Lake::local_source)) and its upload;
    /// nothing was published.
    #[error(
        "{source_desc} changed since it was hashed as a local source (blake3 {hashed}, now {now}); \
         nothing was uploaded: make a new local_source for the new content"
    )]
    SourceChanged {
        /// The path.
        source_desc: String,
        /// The digest when it was hashed.
        hashed: Digest,
        /// The digest of what is there now.
        now: Digest,
    },
    /// Bad configuration.
    #[error("invalid configuration {key} = {value:?}: {message}")]
    Config {
        /// The key, e.g. `LAKE_STORE` or `lake.toml: store`.
        key: String,
        /// The value, redacted.
        value: String,
        /// Why.
        message: String,
    },
    /// The home's index database failed.
    #[error("index {path} failed: {source}")]
    Index {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// An I/O error from user code: `?` on a `std::io::Error` inside a
    /// creator body. A [`FileWriter`](crate::FileWriter)'s own errors name
    /// the file; lake's own I/O is reported as [`Error::Io`], with its path.
    #[error("i/o error: {0}")]
    UnlabelledIo(std::io::Error),
    /// The store holds what the commit protocol never leaves behind: a
    /// record stored under another name's key, a manifest of another run,
    /// an object shorter or longer than its record says.
    #[error("store {store} is inconsistent at {path}: {problem}; run `lake verify --store`")]
    StoreInconsistent {
        /// The store, redacted.
        store: String,
        /// The object.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A name's record exists but its content does not.
    #[error("content of {name:?} ({path}) is missing from {store}; run `lake verify --store`")]
    ContentMissing {
        /// The name.
        name: Name,
        /// The blob's key.
        path: String,
        /// The store, redacted.
        store: String,
    },
    /// `File::create_output()` outside a `#[file_creator]` body.
    #[error(
        "File::create_output() is only valid inside a #[file_creator] body; use File::create(name) elsewhere"
    )]
    NotInCreator,
    /// `create_streaming` inside a creator body.
    #[error(
        "cannot stream {name:?} to the store from inside a #[file_creator] body: a run's outputs are committed together after the body; use File::create_output()"
    )]
    StreamingInRun {
        /// The name asked for.
        name: Name,
    },
    /// A creator returned a file it did not create in this run.
    #[error(
        "{creator} returned {name:?}, which it did not create in this run; a creator returns only files it made with File::create_output()"
    )]
    ForeignOutput {
        /// The creator's path.
        creator: String,
        /// The file it returned.
        name: Name,
    },
    /// A creator created more outputs than it has names for.
    #[error("{creator} creates more outputs than the {limit} {limited_by}")]
    TooManyOutputs {
        /// The creator's path.
        creator: String,
        /// How many it may create.
        limit: usize,
        /// What sets the limit, e.g. `name(s) given in output_uid(s)`.
        limited_by: &'static str,
    },
    /// A creator tried to create a name other than its outputs'.
    #[error(
        "{creator} tried to create {name:?}; inside a creator, create outputs with File::create_output(), or pass the name as output_uid"
    )]
    UndeclaredOutput {
        /// The creator's path.
        creator: String,
        /// The name it asked for.
        name: Name,
    },
    /// An explicit output name already holds the output of another call.
    #[error(
        "output {name:?} of {creator} already exists and {why}; a name given in output_uid(s) keeps \
         the key that made it, so choose another name, or remove the old file ({path} in the store) \
         to run again"
    )]
    ExplicitNameTaken {
        /// The name.
        name: Name,
        /// The creator's path.
        creator: String,
        /// How the existing file differs, e.g. `was made by another call`.
        why: String,
        /// Its record's key in the store.
        path: String,
    },
    /// A stored run has another number of outputs than the creator returns.
    #[error("the run manifest lists {found} output(s) but the creator returns {expected}")]
    OutputCount {
        /// What the return type holds.
        expected: usize,
        /// What the manifest lists.
        found: usize,
    },
    /// The name was added (`lake add`, `File::create`), not made by a run,
    /// so there is no run to explain.
    #[error("{name:?} was added, not made by a creator's run")]
    NotMadeByRun {
        /// The name.
        name: Name,
    },
    /// `lake gc` proves blobs unreferenced, so it stops at a record it
    /// cannot read.
    #[error(
        "gc removes nothing while the record of {name:?} cannot be read ({reason}); fix or remove that object first"
    )]
    GcBlocked {
        /// The name whose record is unreadable.
        name: Name,
        /// Why it cannot be read.
        reason: String,
    },
    /// A creator without input files, or `File::new`, was called on a
    /// thread with no lake in scope while a temporary lake lives: falling
    /// through to the default home would let a test touch the user's data.
    #[error(
        "no lake in scope on thread {thread} while a temporary lake is alive: make the call \
         on the thread that created the TempLake, or inside lake.scope(..), instead of \
         falling through to the default home"
    )]
    NoLakeInScope {
        /// The calling thread's name.
        thread: String,
    },
    /// Two creators linked into this program have one identity, so they
    /// would share their outputs; no creator runs until one is renamed.
    #[error(
        "creators at {first} and {second} share the identity {identity}: they would share \
         outputs; rename one or move it into another module"
    )]
    DuplicateCreator {
        /// The shared identity (`module::path::name`).
        identity: String,
        /// `file:line` of one of them.
        first: String,
        /// `file:line` of the other.
        second: String,
    },
    /// A pointer file that this lake cannot resolve: written for another
    /// store, or naming content the store's record does not hold.
    #[error("pointer {pointer}: {message}")]
    Pointer {
        /// The pointer file's path, or `pointer to "<name>"`.
        pointer: String,
        /// Why, naming both sides.
        message: String,
    },
    // Batches and their workers (docs/design/0012-batch-and-slurm.md).
    /// A closure given to `Batch::call` did not make exactly one creator call.
    #[error("a closure given to Batch::call {problem}")]
    BatchMisuse {
        /// What it did, with the fix.
        problem: &'static str,
    },
    /// Calls of a batch could not be planned, or failed; the others ran.
    #[error("{failed} of {of} batch calls {what}:\n  {details}")]
    BatchFailed {
        /// `could not be planned` or `failed`.
        what: &'static str,
        /// How many.
        failed: usize,
        /// Out of how many.
        of: usize,
        /// One line per call (with the tail of its log for Slurm).
        details: String,
    },
    /// A batch's stored description cannot be written or read.
    #[error("batch {batch}: {message}")]
    BatchSpec {
        /// The batch id.
        batch: String,
        /// What is wrong.
        message: String,
    },
    /// A worker cannot make a stored call: an argument or input does not
    /// decode, its key differs from the driver's, or the creator failed.
    #[error("{creator}: {message}")]
    RemoteCall {
        /// The creator's path.
        creator: String,
        /// What went wrong.
        message: String,
    },
    /// A worker refuses a call that the driver's code described: its own
    /// code differs, so it would run something else under the driver's key.
    #[error(
        "refusing {creator}: its code identity in this program is {here}, the driver's was \
         {driver}; the workers must run the build the driver runs (rebuild and redeploy, \
         then submit again)"
    )]
    CodeMismatch {
        /// The creator's path.
        creator: String,
        /// This program's code identity.
        here: String,
        /// The driver's.
        driver: String,
    },
    /// A store name that no `[stores.NAME]` (nor the default store) has.
    #[error("no store named {name:?}; the stores are: {known}")]
    UnknownStore {
        /// The name given.
        name: String,
        /// The configured names, in read order.
        known: String,
    },
    /// No store in the read order gave a verified copy of a name's content.
    #[error("no store gave a verified copy of {name:?}: {tried}")]
    NoReadableCopy {
        /// The name.
        name: Name,
        /// Each store tried, with what went wrong there.
        tried: String,
    },
    /// `rm --from` or `mv` would delete the last copy of a name's content.
    #[error(
        "refusing to delete the last copy of {name:?} from store {store}: {why}; copy it first \
         (`lake cp {name} --to STORE`), or pass --force-last to lose it"
    )]
    LastCopy {
        /// The name.
        name: Name,
        /// The store holding the last copy.
        store: String,
        /// Why no other copy counts: none recorded, or none verifies.
        why: String,
    },
    /// A name's history does not place a copy in the store named.
    #[error(
        "{name:?} has no copy in store {store} (its copies: {locations}); see `lake history {name}`"
    )]
    NotInStore {
        /// The name.
        name: Name,
        /// The store named.
        store: String,
        /// Where its history places its copies.
        locations: String,
    },
    /// The copy written to a store did not hash to the record's digest, so
    /// the copy or move was abandoned and nothing was deleted.
    #[error(
        "the copy of {name:?} in store {store} does not verify: expected blake3 {expected} \
         ({size} bytes), got {found}; nothing was deleted"
    )]
    DestinationMismatch {
        /// The name.
        name: Name,
        /// The destination store.
        store: String,
        /// The record's digest.
        expected: Digest,
        /// The record's size.
        size: u64,
        /// What the destination holds: `blake3 <hex> (<n> bytes)` (text,
        /// which keeps [`Error`] small).
        found: String,
    },
    /// Another removal of a copy of the name is open (running now, or cut
    /// short by a crash): removing two copies at once could lose both.
    #[error(
        "not removing a copy of {name:?}: the removal of its copy in store {store}, started \
         {since}, is in progress or was interrupted; retry once it is done, or, if nothing is \
         running, settle it with `lake verify --store --repair`"
    )]
    RemovalInProgress {
        /// The name.
        name: Name,
        /// The store the other removal deletes from.
        store: String,
        /// When, by whom and on which host it started.
        since: String,
    },
    /// A copy or move between stores that makes no sense (`--from` and
    /// `--to` the same store).
    #[error("{message}")]
    StoreChoice {
        /// What is wrong, naming the stores.
        message: String,
    },
    /// A batch executor's command failed (`sbatch`, `squeue`).
    #[error("{command} failed: {message}")]
    Executor {
        /// The command.
        command: &'static str,
        /// Its status and error output.
        message: String,
    },
}

/// `a, b, c`, or the first few and a count.
fn join_names(names: &[Name]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<String> = names.iter().take(SHOWN).map(|n| n.to_string()).collect();
    if names.len() > SHOWN {
        out.push(format!("and {} more", names.len() - SHOWN));
    }
    out.join(", ")
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// True if the error means "no such name" or "no such object", whichever
    /// layer found it missing.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::NotFound { .. } => true,
            Self::Store(e) => e.is_not_found(),
            _ => false,
        }
    }
}

impl From<std::io::Error> for Error {
    /// For `?` in creator bodies that return `lake_runtime::Result`. Not
    /// used inside lake, which labels each error with its path instead.
    fn from(error: std::io::Error) -> Self {
        Self::UnlabelledIo(error)
    }
}

impl From<lake_core::Error> for Error {
    /// A name error is one kind of error however it arrives, so callers
    /// match one variant for it.
    fn from(error: lake_core::Error) -> Self {
        match error {
            lake_core::Error::Name(e) => Self::InvalidName(e),
            other => Self::Core(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_name_is_invalid_name_whichever_crate_found_it() {
        let core_error = lake_core::Error::from("a//b".parse::<Name>().unwrap_err());
        assert!(matches!(Error::from(core_error), Error::InvalidName(_)));
    }

    #[test]
    fn a_missing_store_object_is_not_found() {
        let missing = Error::Store(StoreError::NotFound {
            path: "names/a.json".into(),
            store: "memory://x".into(),
        });
        assert!(missing.is_not_found());
        let other = Error::Store(StoreError::AlreadyExists {
            path: "names/a.json".into(),
            store: "memory://x".into(),
        });
        assert!(!other.is_not_found());
    }
}
