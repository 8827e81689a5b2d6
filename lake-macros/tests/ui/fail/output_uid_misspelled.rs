#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
fn clean(raw: &File, output_id: &str) -> File {
    File
}

fn main() {}
