//! A program in which two creators share an identity runs no creator.
//!
//! The macro names enclosing functions and `impl` blocks, but two blocks of
//! one function are the same position to it; the runtime's check of every
//! registered creator catches what the macro cannot see (issue 10). This is
//! its own test binary because the duplicate makes every creator in the
//! program fail.

use std::io::Write;

use lake_runtime::{Error, File, Lake, file_creator};

fn make(text: &str) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(text.as_bytes())?;
    out.commit()
}

fn both() -> (lake_runtime::Result<File>, lake_runtime::Result<File>) {
    let a = {
        #[file_creator]
        fn step(n: u32) -> lake_runtime::Result<File> {
            make(&format!("a{n}"))
        }
        step(1)
    };
    let b = {
        #[file_creator]
        fn step(n: u32) -> lake_runtime::Result<File> {
            make(&format!("b{n}"))
        }
        step(1)
    };
    (a, b)
}

#[test]
fn issue_10_shared_identity_fails_every_call_naming_both_places() {
    let lake = Lake::temporary().unwrap();
    let (a, b) = both();
    for result in [a, b] {
        let err = result.unwrap_err();
        let Error::DuplicateCreator {
            identity,
            first,
            second,
        } = &err
        else {
            panic!("expected DuplicateCreator, got {err:?}");
        };
        assert_eq!(identity, "duplicate_creators::both()::step");
        assert_eq!(first, "lake-runtime/tests/duplicate_creators.rs:22");
        assert_eq!(second, "lake-runtime/tests/duplicate_creators.rs:29");
        assert!(err.to_string().contains("rename one"), "{err}");
    }
    assert!(lake.list("", true).unwrap().is_empty(), "nothing may run");
}
