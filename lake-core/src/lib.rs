//! # lake-core
//!
//! Pure types and logic of [lake](https://docs.rs/lake-runtime), a framework
//! for memoized data pipelines: names, digests, records and lineage, the
//! canonical encoding of arguments and run keys, and the [`Store`] contract.
//! Nothing here does I/O.
//!
//! ## Overview
//! - [`Name`]: the immutable, validated name of a file.
//! - [`Digest`]: a blake3 digest.
//! - [`Record`]: what a name holds and where it came from ([`Lineage`]).
//! - [`Annotations`]: a file's mutable tags, labels and timestamp.
//! - [`Pointer`]: a small JSON file that stands for a file in a store.
//! - [`Store`]: the contract every storage backend fulfils.
//!
//! ## Quick start
//! ```
//! use lake_core::{Digest, Name, StorePath};
//!
//! let name: Name = "reports/2026/summary.csv".parse()?;
//! let digest = Digest::of(b"total,42\n");
//! println!("{name} -> {}", StorePath::blob(&digest));
//! # Ok::<(), lake_core::NameError>(())
//! ```
//!
//! ## Feature flags
//! None.
//!
//! ## Configuration
//! None; configuration lives in `lake-runtime`.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(rustdoc::broken_intra_doc_links)]

mod annotations;
mod digest;
mod error;
mod history;
mod manifest;
mod name;
mod pointer;
mod record;
mod store;
mod tombstone;

pub use annotations::{
    ANNOTATIONS_SCHEMA_VERSION, AnnotationError, Annotations, MAX_ANNOTATION_KEY_LEN, NOTES_PREFIX,
    TagValue, name_from_notes_path, normalize_label, notes_path,
};
pub use digest::Digest;
pub use error::{DigestError, Error, NameError, Result};
pub use history::{HISTORY_SCHEMA_VERSION, HistoryEvent, HistoryKind, Locations, StoreRef};
pub use manifest::{MANIFEST_SCHEMA_VERSION, ManifestOutput, RunManifest};
pub use name::{FORBIDDEN_CHARS, INVISIBLE_CHARS, MAX_NAME_LEN, MAX_SEGMENT_LEN, Name};
pub use pointer::{POINTER_SCHEMA_VERSION, Pointer};
pub use record::{
    AddedLineage, CfgValue, CodeIngredients, CodePart, GitInfo, InputRef, Lineage, PackedRecord,
    ParamRecord, RECORD_PACK_SCHEMA_VERSION, RECORD_SCHEMA_VERSION, Record, RecordPack, RunLineage,
};
pub use store::{
    BLOBS_PREFIX, DownloadTuning, GC_TRASH_PREFIX, GetStream, HISTORY_PREFIX, IncompleteUpload,
    ListPage, NAMES_PREFIX, ObjectMeta, ObjectVersion, PACKS_PREFIX, PutMode, RUNS_PREFIX, Store,
    StoreConfigError, StoreError, StoreExt, StorePath, TOMBSTONES_PREFIX, UPLOADS_PREFIX,
};
pub use tombstone::{TOMBSTONE_SCHEMA_VERSION, Tombstone};

mod canonical;
pub mod key;

pub use key::{CodeIdentity, KEY_VERSION, KeyParams, RunKey, RunKeyError, canonical_bytes};
