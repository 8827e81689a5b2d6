#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator(remote, ignore(verbose))]
fn clean(raw: &File, verbose: bool) -> File {
    File
}

fn main() {}
