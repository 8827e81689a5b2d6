#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

trait Factor {
    const FACTOR: u32;
}

struct Runner<T>(T);

impl<T: Factor> Runner<T> {
    #[file_creator]
    fn scaled(x: u32) -> File {
        File
    }
}

fn main() {}
