#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(crate = lake_runtime)]
fn clean(raw: &File, verbose: bool) -> File {
    File
}

fn main() {}
