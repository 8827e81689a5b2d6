#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(version = "1", version = "2")]
fn clean(raw: &File, verbose: bool) -> File {
    File
}

fn main() {}
