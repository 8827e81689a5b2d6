#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(ignore(output_uid))]
fn clean(raw: &File, output_uid: &str) -> File {
    File
}

fn main() {}
