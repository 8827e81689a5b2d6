#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
fn clean(raw: &File) -> String {
    String::new()
}

fn main() {}
