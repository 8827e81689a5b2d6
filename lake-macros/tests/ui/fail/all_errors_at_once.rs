#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(version = "", ignore(raw))]
fn clean<T>(raw: &File, output_id: T) -> Option<File> {
    None
}

fn main() {}
