#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(remote = true)]
fn clean(raw: &File) -> File {
    File
}

fn main() {}
