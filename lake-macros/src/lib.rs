//! # lake-macros
//!
//! The `#[file_creator]` attribute of lake. Use it through `lake-runtime`,
//! which re-exports it.
//!
//! ## Overview
//! The macro reads the function into a model (`attr.rs`, `ast.rs`), checks
//! it (`check.rs`), then emits one call into `lake_runtime::__private`
//! (`expand.rs`). The contract between the two crates is
//! `docs/design/0001-file-creator-expansion.md`.
//!
//! ## Quick start
//! ```
//! use std::io::Write;
//! use lake_runtime::{File, Lake, file_creator};
//!
//! #[file_creator]
//! fn count_lines(text: &File) -> lake_runtime::Result<File> {
//!     let lines = text.read_to_string()?.lines().count();
//!     let mut out = File::create_output()?;
//!     write!(out, "{lines}")?;
//!     out.commit()
//! }
//!
//! let lake = Lake::temporary()?;
//! let mut w = lake.create("raw/poem.txt")?;
//! w.write_all(b"one\ntwo\n")?;
//! let poem = w.commit()?;
//! assert_eq!(count_lines(&poem)?.read_to_string()?, "2");
//! # Ok::<(), lake_runtime::Error>(())
//! ```
//! [`macro@file_creator`] documents parameters, arguments and errors.
//!
//! ## Feature flags
//! None.
//!
//! ## Configuration
//! None.

#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(rustdoc::broken_intra_doc_links)]

mod ast;
mod attr;
mod check;
mod ctxt;
mod enclosing;
mod expand;
mod identity;

/// Turns a function into a memoized creator of files.
///
/// A call of the function is a *run*. Its key is computed from the creator's
/// path, its code (or `version`), its arguments and the content of its input
/// files.
///
/// Its code is more than the function: the key covers every item of the
/// crate the body reaches by name (functions, methods and the `impl` blocks
/// of the types it uses, consts, statics, types and aliases,
/// `macro_rules!`, inner creators), the files it reads with `include_str!`
/// or `include_bytes!`, the locked versions of the dependencies it uses
/// (path dependencies by the hash of their sources), and the values of the
/// `cfg` predicates it tests. Comments, whitespace, doc comments and edits
/// to code it does not reach do not change it. The lineage of each output
/// lists what went in, so `lake stale` can say which item changed
/// (docs/design/0009-code-identity.md). If a run with that key already exists in the lake, the call
/// returns handles to its outputs without running the body. Otherwise the
/// body runs, and the files it returns are committed under names derived
/// from the key: `<fn name>/<16 hex of the key>` for one output and
/// `<fn name>/<16 hex>/<i>` for several.
///
/// ```
/// use std::io::Write;
/// use lake_runtime::{File, Lake, file_creator};
///
/// /// Keeps the lines of `raw` that contain `word`.
/// #[file_creator]
/// pub fn grep(raw: &File, word: String) -> lake_runtime::Result<File> {
///     let text = raw.read_to_string()?;
///     let mut out = File::create_output()?;
///     for line in text.lines().filter(|line| line.contains(&word)) {
///         writeln!(out, "{line}")?;
///     }
///     out.commit()
/// }
///
/// let lake = Lake::temporary()?; // a throwaway home and store
/// let mut w = lake.create("raw/log.txt")?;
/// w.write_all(b"ok 1\nerror 2\nok 3\n")?;
/// let raw = w.commit()?;
///
/// let errors = grep(&raw, "error".to_string())?; // runs the body
/// assert_eq!(errors.read_to_string()?, "error 2\n");
/// let again = grep(&raw, "error".to_string())?; // a hit: the body does not run
/// assert_eq!(again.name(), errors.name());
/// assert!(errors.name().as_str().starts_with("grep/"));
/// # Ok::<(), lake_runtime::Error>(())
/// ```
///
/// # Parameters
/// Each parameter must be a plain name (`x: T`, or `mut x: T`); its role is
/// decided from its type and name:
/// - **input files**: `File`, `&File`, `Vec<File>`, `&[File]` or
///   `Option<File>` (any path ending in `File`). They enter the key by
///   content: an input rebuilt with the same bytes, or the same bytes under
///   another name, gives the same key.
/// - **`output_uid`**: the explicit name of the single output, of any type
///   that converts into a `Name`. It replaces the derived name and does not
///   enter the key. The macro consumes it before the body runs.
/// - **`output_uids`**: the explicit names of several outputs, an iterable
///   of such values. At most one of `output_uid` and `output_uids`.
/// - **arguments**: everything else. Each must implement
///   `serde::Serialize`; its canonical bytes enter the key by parameter
///   name. The encoding names every struct, field and variant, and sorts
///   unordered collections (`HashMap`, `HashSet`, `BTreeMap`, `BTreeSet`,
///   …) wherever they appear, even inside your own types; ordered ones
///   (`Vec`, `IndexMap`, …) keep their order. See `lake_core::key`.
///
/// # Return type
/// `File`, `Vec<File>`, a tuple of 1 to 12 `File`s, or a `Result` of one of
/// these whose error type implements `From<lake_runtime::Error>`. Without a
/// `Result`, lake errors panic.
///
/// The function may be `async`; it may not be generic, `const`, or take
/// `self`.
///
/// # Identity
/// A creator's identity is `module_path!()`, what encloses the function,
/// and its name: `pipeline::clean`, `pipeline::report()::clean` for a `fn
/// clean` nested in `fn report`, `pipeline::<Double>::make` or
/// `pipeline::<Double as Scale>::make` for an associated function of an
/// `impl` block. The macro reads the enclosing items from the source file, so
/// two creators of one name never share outputs. Inside a generic `impl<T>`
/// or a trait, one identity would stand for every instantiation, so those
/// positions are refused. Where the macro cannot see the position (a creator
/// written by a `macro_rules!`), the runtime checks once per process that no
/// two registered creators share an identity; if two do, every creator call
/// fails, naming both source locations.
///
/// # Arguments
/// ## `version = "<string>"`
/// Keys the creator on this string instead of its code identity: your
/// promise that the output depends on nothing else about the code. Nothing
/// else then counts, not the body, not the helpers it calls, not its
/// dependencies' versions nor its features, so an edit to any of them keeps
/// the cached outputs. Change the string whenever the output would change.
/// ```
/// use lake_runtime::{File, file_creator};
///
/// #[file_creator(version = "2")]
/// fn word_count(corpus: &File) -> lake_runtime::Result<File> {
///     let words = corpus.read_to_string()?.split_whitespace().count();
///     let mut out = File::create_output()?;
///     std::io::Write::write_all(&mut out, words.to_string().as_bytes())?;
///     out.commit()
/// }
/// ```
///
/// ## `ignore(param, …)`
/// Leaves these arguments out of the key, e.g. verbosity or thread counts
/// that do not change the output. Only arguments can be ignored, not input
/// files or output names.
/// ```
/// use lake_runtime::{File, file_creator};
///
/// #[file_creator(ignore(verbose))]
/// fn repeat(text: &File, times: usize, verbose: bool) -> lake_runtime::Result<File> {
///     if verbose {
///         eprintln!("repeating {} {times} times", text.name());
///     }
///     let mut out = File::create_output()?;
///     std::io::Write::write_all(&mut out, text.read()?.repeat(times).as_slice())?;
///     out.commit()
/// }
/// ```
///
/// ## `remote`
/// Lets batch workers on other machines make the creator's calls
/// (`lake_runtime::batch` with the Slurm executor; see
/// docs/design/0012-batch-and-slurm.md). The macro also registers a worker
/// entry point that decodes each argument from the stored call, so every
/// argument must implement `serde::Deserialize` too (a `&T` argument is
/// decoded as `T`'s owned form). Not allowed together with `ignore(...)` or
/// `output_uid(s)`, nor inside an `impl` block.
/// ```
/// use lake_runtime::{File, file_creator};
///
/// #[file_creator(remote)]
/// fn scale(numbers: &File, factor: u32, label: &str) -> lake_runtime::Result<File> {
///     let sum: u64 = numbers.read_to_string()?.split_whitespace().filter_map(|n| n.parse::<u64>().ok()).sum();
///     let mut out = File::create_output()?;
///     std::io::Write::write_all(&mut out, format!("{label}: {}", sum * u64::from(factor)).as_bytes())?;
///     out.commit()
/// }
/// ```
///
/// ## `crate = "<path>"`
/// Where the runtime lives, when `lake_runtime` is renamed or re-exported.
/// Defaults to `::lake_runtime`.
/// ```
/// mod my_platform {
///     pub use lake_runtime as lake;
/// }
/// use my_platform::lake::{File, file_creator};
///
/// #[file_creator(crate = "my_platform::lake")]
/// fn copy(raw: &File) -> my_platform::lake::Result<File> {
///     let mut out = File::create_output()?;
///     std::io::Write::write_all(&mut out, &raw.read()?)?;
///     out.commit()
/// }
/// ```
///
/// # Equivalent code without `#[file_creator]`
/// The first example expands to roughly this (with `ignore(verbose)`, a
/// `verbose: bool` parameter would simply not be passed to the call):
/// ```ignore
/// pub fn grep(raw: &File, word: String) -> lake_runtime::Result<File> {
///     static __LAKE_CREATOR: ::lake_runtime::__private::CreatorInfo =
///         ::lake_runtime::__private::CreatorInfo {
///             name: "grep",
///             module_path: ::core::module_path!(),
///             enclosing: "",
///             source_file: ::core::file!(),
///             source_line: 6,
///             code_hash: "<blake3 hex of the tokens and all they reach>",
///             code_parts: &[],
///             code_cfg: &[],
///             code_identity: ::lake_runtime::__private::CodeIdentityCell::new(),
///             version: ::core::option::Option::None,
///             crate_name: ::core::env!("CARGO_PKG_NAME"),
///             crate_version: ::core::env!("CARGO_PKG_VERSION"),
///         };
///     ::lake_runtime::__private::inventory::submit! {
///         ::lake_runtime::__private::Registration(&__LAKE_CREATOR)
///     }
///     let mut __lake_call = ::lake_runtime::__private::Call::new(&__LAKE_CREATOR);
///     __lake_call.input("raw", &raw);
///     __lake_call.arg("word", &word);
///     ::lake_runtime::__private::run_file_creator(
///         __lake_call,
///         move || -> lake_runtime::Result<File> {
///             let text = raw.read_to_string()?;
///             let mut out = File::create_output()?;
///             // … the body as written …
///             out.commit()
///         },
///     )
/// }
/// ```
/// An `async fn` instead ends with
/// `run_file_creator_async(__lake_call, async move { … }).await`.
///
/// # Errors at compile time
/// Every problem is reported at once, each at the offending tokens, and the
/// function is then left as written so that no other errors pile up.
#[proc_macro_attribute]
pub fn file_creator(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::file_creator(args.into(), item.into()).into()
}
