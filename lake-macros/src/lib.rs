//! # lake-macros
//!
//! The `#[file_creator]` attribute of lake. Use it through `lake-runtime`,
//! which re-exports it.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(rustdoc::broken_intra_doc_links)]
