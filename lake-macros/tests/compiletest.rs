//! One UI case per diagnostic of `#[file_creator]` (STYLE.md 28–29).
//!
//! Regenerate the snapshots with `TRYBUILD=overwrite cargo test -p
//! lake-macros --test compiletest`, then review every changed `.stderr`.
//!
//! The cases do not depend on `lake_runtime`: each declares local stand-ins
//! (`struct File;`), which is enough because on error the macro emits only
//! the original function and the `compile_error!`s.
//!
//! The `tests/ui/pass/*.rs` cases compile every accepted parameter shape,
//! return shape and attribute against the real `lake_runtime` (a
//! dev-dependency), whose `__private` items the expansion calls.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
