//! `output_uid` and `output_uids`.
//!
//! The expansion passes `output_uid(s)` by value to the call builder, so a
//! non-`Copy` name cannot be used again in the body (see the report on the
//! `Vec<String>` case); these bodies use `File::create_output()` instead.
//! `output_uid: Name` (and `impl Into<Name>`) does not compile yet:
//! `Call::output_uid` needs `<N as TryInto<Name>>::Error: Into<Error>`, and
//! for `Name` that error is `Infallible`, which `lake_runtime::Error` does
//! not convert from.

use lake_runtime::{File, file_creator};

#[file_creator]
fn one_named(output_uid: &str, rows: u32) -> File {
    let _ = rows;
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator]
fn one_named_owned(input: &File, output_uid: String) -> lake_runtime::Result<File> {
    let _ = input;
    File::create_output()?.commit()
}

#[file_creator]
fn several_named(input: &File, output_uids: Vec<String>) -> Vec<File> {
    let _ = input;
    (0..2)
        .map(|_| File::create_output().unwrap().commit().unwrap())
        .collect()
}

fn main() {
    let _ = (one_named, one_named_owned, several_named);
}
