//! Every return shape: `File`, `Vec<File>`, tuples, and `Result` of each.

use lake_runtime::{File, file_creator};

#[derive(Debug)]
enum MyError {
    Lake(lake_runtime::Error),
}

impl From<lake_runtime::Error> for MyError {
    fn from(e: lake_runtime::Error) -> Self {
        Self::Lake(e)
    }
}

#[file_creator]
fn one(input: &File) -> File {
    let _ = input;
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator]
fn several(count: usize) -> Vec<File> {
    (0..count)
        .map(|_| File::create_output().unwrap().commit().unwrap())
        .collect()
}

#[file_creator]
fn pair(input: &File) -> (File, File) {
    let _ = input;
    let a = File::create_output().unwrap().commit().unwrap();
    let b = File::create_output().unwrap().commit().unwrap();
    (a, b)
}

#[file_creator]
fn fallible(input: &File) -> lake_runtime::Result<File> {
    let _ = input.read()?;
    File::create_output()?.commit()
}

#[file_creator]
fn custom_error(input: &File) -> Result<(File, File, File), MyError> {
    let _ = input.read()?;
    let a = File::create_output()?.commit()?;
    let b = File::create_output()?.commit()?;
    let c = File::create_output()?.commit()?;
    Ok((a, b, c))
}

#[file_creator]
fn fallible_many(inputs: &[File]) -> Result<Vec<File>, MyError> {
    let mut out = Vec::new();
    for _ in inputs {
        out.push(File::create_output()?.commit()?);
    }
    Ok(out)
}

fn main() {
    let _ = (one, several, pair, fallible, custom_error, fallible_many);
    let _ = MyError::Lake;
}
