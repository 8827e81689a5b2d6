//! Every input-file parameter shape, plus ordinary arguments.

use std::collections::HashMap;

use lake_runtime::{File, file_creator};

#[file_creator]
fn by_value(input: File) -> File {
    let _ = input;
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator]
pub fn by_ref(input: &File, label: String, weights: HashMap<String, u32>) -> File {
    let _ = (input, label, weights);
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator]
pub(crate) fn many(inputs: Vec<File>, slice: &[File], maybe: Option<File>) -> File {
    let _ = (inputs, slice, maybe);
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator]
fn qualified(input: &lake_runtime::File, threshold: f64) -> lake_runtime::File {
    let _ = (input, threshold);
    File::create_output().unwrap().commit().unwrap()
}

fn main() {
    let _ = (by_value, by_ref, many, qualified);
}
