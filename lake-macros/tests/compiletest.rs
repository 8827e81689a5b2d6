//! One UI case per diagnostic of `#[file_creator]` (STYLE.md 28–29).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p
//! lake-macros --test compiletest`, then review every changed `.stderr`.
//!
//! The cases do not depend on `lake_runtime`: each declares local stand-ins
//! (`struct File;`), which is enough because on error the macro emits only
//! the original function and the `compile_error!`s.
//!
//! `tests/ui/pass/*.rs` cases are to be added once `lake-runtime` exists
//! (they need its `__private` items); add `t.pass("tests/ui/pass/*.rs")`
//! then.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
}
