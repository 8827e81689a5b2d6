#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
const fn clean(raw: &File) -> File {
    File
}

fn main() {}
