#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(ignore(raw))]
fn clean(raw: &File, verbose: bool) -> File {
    File
}

fn main() {}
