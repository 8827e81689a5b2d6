#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
fn clean<T: Default>(raw: &File, fill: T) -> File {
    File
}

fn main() {}
