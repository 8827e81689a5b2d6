#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

struct Cleaner;

impl Cleaner {
    #[file_creator]
    fn clean(&self, raw: &File) -> File {
        File
    }
}

fn main() {}
