//! Compiles and runs the expansion against a stand-in of
//! `lake_runtime::__private` with the signatures docs/design/0001 asks of
//! the real one, so that a change to the emitted code that breaks the
//! contract fails here, before the runtime sees it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use lake_macros::file_creator;

mod rt {
    pub mod __private {
        use std::future::Future;

        pub use inventory;
        use serde::Serialize;

        use super::super::{File, LOG};

        pub struct CreatorInfo {
            pub name: &'static str,
            pub module_path: &'static str,
            pub enclosing: &'static str,
            pub source_file: &'static str,
            pub source_line: u32,
            pub code_hash: &'static str,
            pub code_parts: &'static [(&'static str, &'static str, &'static str)],
            pub code_cfg: &'static [(&'static str, bool)],
            pub code_identity: CodeIdentityCell,
            pub version: Option<&'static str>,
            pub crate_name: &'static str,
            pub crate_version: &'static str,
            pub manifest_dir: &'static str,
        }

        pub struct CodeIdentityCell;
        impl CodeIdentityCell {
            pub const fn new() -> Self {
                Self
            }
        }

        pub struct Registration(pub &'static CreatorInfo);
        inventory::collect!(Registration);

        /// What the runtime implements for `File`, `&File`, `Vec<File>`,
        /// `[File]` and `Option<File>` (the macro passes `&param`).
        pub trait InputFiles {}
        impl InputFiles for File {}
        impl InputFiles for &File {}
        impl InputFiles for Vec<File> {}
        impl InputFiles for &[File] {}
        impl InputFiles for Option<File> {}

        pub struct Call {
            info: &'static CreatorInfo,
        }

        fn log(entry: String) {
            LOG.with(|l| l.borrow_mut().push(entry));
        }

        impl Call {
            pub fn new(info: &'static CreatorInfo) -> Self {
                log(format!("new {}", info.name));
                Self { info }
            }
            pub fn input<T: InputFiles + ?Sized>(&mut self, param: &'static str, _files: &T) {
                log(format!("input {param}"));
            }
            pub fn arg<T: Serialize + ?Sized>(&mut self, param: &'static str, value: &T) {
                let bytes = lake_core::key::canonical_bytes(value).unwrap();
                log(format!("arg {param} {}", bytes.len()));
            }
            // The runtime borrows the names, so bodies can still use them.
            pub fn output_uid<N: std::fmt::Display + ?Sized>(&mut self, name: &N) {
                log(format!("output_uid {name}"));
            }
            pub fn output_uids<T>(&mut self, names: &[T]) {
                let n = names.len();
                log(format!("output_uids {n}"));
            }
        }

        pub fn run_file_creator<R>(call: Call, body: impl FnOnce() -> R) -> R {
            log(format!("run {}", call.info.name));
            body()
        }

        pub async fn run_file_creator_async<R, F: Future<Output = R>>(call: Call, body: F) -> R {
            log(format!("run_async {}", call.info.name));
            body.await
        }
    }
}

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

#[derive(Debug, Clone, PartialEq)]
pub struct File(u32);

#[derive(Debug, PartialEq)]
pub struct MyError(String);

/// Documented, to check doc attributes survive.
#[file_creator(crate = "crate::rt", ignore(verbose))]
pub fn clean(
    raw: &File,
    extra: Option<File>,
    columns: Vec<String>,
    tags: HashSet<String>,
    weights: HashMap<String, f64>,
    verbose: bool,
) -> Result<File, MyError> {
    if verbose {
        return Err(MyError("verbose".into()));
    }
    // A cfg predicate, evaluated in this crate for the code identity.
    let _in_test = cfg!(test);
    let n = columns.len() + tags.len() + weights.len();
    let base = raw.0 + extra.map_or(0, |f| f.0);
    // `?` must act on the closure, whose type is the function's.
    let checked: u32 = u32::try_from(n).map_err(|e| MyError(e.to_string()))?;
    Ok(File(base + checked))
}

#[file_creator(crate = "crate::rt", version = "2")]
fn split(parts: &[File], output_uids: Vec<&'static str>) -> (File, File) {
    (parts[0].clone(), File(parts.len() as u32))
}

#[file_creator(crate = "crate::rt")]
async fn fetch(sources: Vec<File>, output_uid: &'static str) -> Result<File, MyError> {
    let first = sources.first().ok_or_else(|| MyError("empty".into()))?;
    Ok(first.clone())
}

fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[test]
fn sync_creator_passes_params_and_keeps_body_semantics() {
    let tags: HashSet<String> = ["a", "b"].map(String::from).into();
    let out = clean(
        &File(1),
        Some(File(2)),
        vec!["x".into()],
        tags,
        HashMap::new(),
        false,
    );
    assert_eq!(out, Ok(File(1 + 2 + 3)));
    assert_eq!(
        take_log(),
        [
            "new clean",
            "input raw",
            "input extra",
            "arg columns 19",
            "arg tags 29",
            "arg weights 9",
            "run clean",
        ]
    );
    // An early `return` leaves the closure with the function's type.
    let err = clean(&File(1), None, vec![], HashSet::new(), HashMap::new(), true);
    assert_eq!(err, Err(MyError("verbose".into())));
}

#[test]
fn outputs_and_tuples() {
    let (a, b) = split(&[File(7), File(8)], vec!["o/a", "o/b"]);
    assert_eq!((a, b), (File(7), File(2)));
    assert_eq!(
        take_log(),
        ["new split", "input parts", "output_uids 2", "run split"]
    );
}

#[test]
fn async_creator() {
    assert_eq!(block_on(fetch(vec![File(5)], "x/y")), Ok(File(5)));
    assert_eq!(block_on(fetch(vec![], "x/y")), Err(MyError("empty".into())));
    let log = take_log();
    assert_eq!(
        &log[..4],
        [
            "new fetch",
            "input sources",
            "output_uid x/y",
            "run_async fetch"
        ]
    );
}

#[test]
fn creators_are_registered() {
    let mut found: Vec<(&str, Option<&str>, usize)> =
        inventory::iter::<rt::__private::Registration>
            .into_iter()
            .map(|r| (r.0.name, r.0.version, r.0.code_hash.len()))
            .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("clean", None, 64),
            ("fetch", None, 64),
            ("split", Some("2"), 64)
        ]
    );
    let clean = inventory::iter::<rt::__private::Registration>
        .into_iter()
        .find(|r| r.0.name == "clean")
        .unwrap();
    assert_eq!(clean.0.module_path, "expansion");
    // A free function: nothing encloses it.
    assert_eq!(clean.0.enclosing, "");
    assert!(clean.0.source_file.ends_with("expansion.rs"));
    assert!(clean.0.source_line > 100, "line of the `fn` token");
    assert_eq!(clean.0.crate_name, "lake-macros");
    assert!(clean.0.manifest_dir.ends_with("lake-macros"));
    assert!(!clean.0.crate_version.is_empty());
    // The code identity reaches the types the body names, through the real
    // source file the macro found (docs/design/0009).
    let parts: Vec<(&str, &str)> = clean.0.code_parts.iter().map(|p| (p.0, p.1)).collect();
    assert!(parts.contains(&("struct", "File")), "{parts:?}");
    assert!(parts.contains(&("struct", "MyError")), "{parts:?}");
    assert!(clean.0.code_parts.iter().all(|p| p.2.len() == 16));
    // Evaluated here, where this test target is compiled with `--test`.
    assert!(
        clean.0.code_cfg.contains(&("test", true)),
        "{:?}",
        clean.0.code_cfg
    );
    let _: &rt::__private::CodeIdentityCell = &clean.0.code_identity;
    // Under a version, nothing but the promise counts.
    let split = inventory::iter::<rt::__private::Registration>
        .into_iter()
        .find(|r| r.0.name == "split")
        .unwrap();
    assert!(split.0.code_parts.is_empty());
}
