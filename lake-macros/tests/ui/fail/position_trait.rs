#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

trait Step {
    #[file_creator]
    fn make(x: u32) -> File {
        File
    }
}

fn main() {}
