#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(remote)]
fn clean(raw: &File, output_uid: &str) -> File {
    File
}

fn main() {}
