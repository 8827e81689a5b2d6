//! # lake
//!
//! Memoized data pipelines over immutable, named, verified files. A lake is
//! a local *home* (cache, index, staging) in front of an object *store*
//! (a local directory by default; S3, Azure Blob or GCS through
//! `object_store`).
//!
//! ## Overview
//! - [`Lake`]: opens a home and its store; adds, lists, verifies, evicts.
//! - [`File`]: a handle to a named file; content is downloaded only when
//!   opened, and verified against its blake3 digest.
//! - [`FileWriter`]: writes a new file; nothing is visible until `commit`.
//!   Typed helpers on both: `read_json`/`write_json`, `read_bincode`/
//!   `write_bincode`, `read_text`/`write_text`, `read_bytes`/`write_bytes`,
//!   `lines`, each with an async twin.
//! - Annotations: [`File::annotations`] and [`File::annotate`] read and
//!   update (by compare-and-swap) a file's tags, labels and timestamp
//!   ([`Annotations`]) without touching its content, name or key.
//! - Pointers: [`File::pointer`] and [`File::from_pointer`] hand a file to
//!   another home as a small JSON [`Pointer`] instead of its bytes.
//!
//! ## Quick start
//! A step is a function marked `#[file_creator]`; a call whose outputs are
//! already in the lake returns them without running the body.
//! ```
//! use std::io::Write;
//! use lake_runtime::{File, Lake, LakeConfigBuilder, file_creator};
//!
//! #[file_creator]
//! fn shout(text: &File) -> lake_runtime::Result<File> {
//!     let mut out = File::create_output()?;
//!     out.write_all(text.read_to_string()?.to_uppercase().as_bytes())?;
//!     out.commit()
//! }
//!
//! # let dir = tempfile::tempdir()?;
//! # let home = dir.path();
//! // A home and its default store: a directory, no server needed.
//! let lake = Lake::open_with(LakeConfigBuilder::new().with_home(home).build()?)?;
//! let mut w = lake.create("raw/hello.txt")?;
//! w.write_all(b"hello")?;
//! let hello = w.commit()?;
//!
//! let loud = shout(&hello)?; // runs the body, on the lake of its input
//! assert_eq!(loud.read_to_string()?, "HELLO");
//! let again = shout(&hello)?; // a hit: same name, no run
//! assert_eq!(again.name(), loud.name());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//! In tests, [`Lake::temporary`] and the [`test`](mod@test) module check hits and runs.
//!
//! ## Feature flags
//! - `cli` (default): the `lake` binary and the crates only it uses (clap,
//!   clap_complete, anyhow, tracing-subscriber, anstream); turns on
//!   `progress`. It is a default so that `cargo install lake-runtime`
//!   installs `lake`. A library user who wants none of them depends with
//!   `lake-runtime = { version = "…", default-features = false }`.
//! - `progress`: progress bars (indicatif) on large transfers, when
//!   [`LakeConfig::progress`] is on and stderr is a terminal. Without it
//!   nothing is drawn.
//! - `testing`: exposes the module `lake_runtime::testing`: the `Store`
//!   conformance suite and the test-server fixtures. Not linked here, since
//!   a build without the feature has no such module; docs.rs documents it.
//!
//! ## Configuration
//! See [`LakeConfigBuilder`]: flags, then `LAKE_HOME` / `LAKE_STORE`, then
//! `lake.toml` found upward from the current directory, then defaults (the
//! platform data directory, with the store inside the home).

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(rustdoc::broken_intra_doc_links)]

mod batch;
mod blocking;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod error;
mod file;
mod home;
mod index;
mod lake;
mod lineage;
mod outcome;
mod progress;
mod run;
mod size;
pub mod store;
pub mod test;
#[cfg(feature = "testing")]
pub mod testing;
mod typed_io;

pub use batch::{
    BATCH_GC_MIN_AGE, Batch, BatchOptions, BatchReport, BatchRun, Executor, SlurmOptions,
    WORKER_FLAG, batch, batch_with, worker_main, worker_main_with,
};
pub use config::{
    CONFIG_FILE_NAME, ConfigKey, ConfigOrigins, DEFAULT_STORE_NAME, LakeConfig, LakeConfigBuilder,
    NamedStore,
};
pub use error::{Error, Result};
pub use file::{File, FileWriter};
pub use lake::annotations::{ANNOTATE_MAX_ATTEMPTS, AnnotationFilter};
pub use lake::external::{OBJECT_URL_SCHEMES, is_object_url};
pub use lake::gc::{
    BLOB_REUSE_MAX_AGE, DEFAULT_GC_GRACE, GcItem, GcOptions, GcReport, GcScope, GcTally,
};
pub use lake::{
    AddMode, AddOutcome, EarlierRun, Evict, EvictReport, History, Lake, LineageDirection,
    LineageEdge, LineageGraph, LineageNode, ListEntry, LocalBudgetReport, MAX_PRESIGNED_EXPIRY,
    PullReport, RelocateReport, RemoveOptions, RemoveReport, RemovedName, RunExplanation,
    StatusEntry, StoreWriter, VerifyProblem, VerifyReport,
};
#[doc(inline)]
pub use lake_core::*;
#[doc(inline)]
pub use lake_macros::file_creator;
pub use run::{
    CreatorInfo, MANIFEST_SCHEMA_VERSION, ManifestOutput, RunManifest, StaleOutput, creators,
};

/// Items used by code that `#[file_creator]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::batch::{RemoteArgs, RemoteInput, RemoteRegistration, remote_block_on};
    pub use crate::run::{
        Call, CodeIdentityCell, CreatorInfo, CreatorReturn, InputFiles, OutputName, OutputNames,
        Outputs, Registration, run_file_creator, run_file_creator_async,
    };
    pub use crate::{File, Result};
    pub use inventory;
}

/// README.md's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
