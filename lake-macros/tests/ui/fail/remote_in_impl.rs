#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

struct Steps;

impl Steps {
    #[file_creator(remote)]
    fn clean(raw: &File) -> File {
        File
    }
}

fn main() {}
