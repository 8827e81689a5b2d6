#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
fn clean(raw: &File, (lo, hi): (u32, u32)) -> File {
    File
}

fn main() {}
