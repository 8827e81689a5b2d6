#![allow(dead_code, unused_variables)]

use lake_macros::file_creator;

struct File;

#[file_creator]
fn split(raw: &File, output_uid: &str, output_uids: Vec<String>) -> Vec<File> {
    vec![File]
}

fn main() {}
