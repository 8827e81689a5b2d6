//! `async fn`, `version = "..."`, `ignore(..)`, and `crate = "..."`.

use lake_runtime::{File, file_creator};

#[file_creator]
async fn shout(input: &File) -> File {
    let text = input.read_to_string().unwrap().to_uppercase();
    let mut out = File::create_output().unwrap();
    std::io::Write::write_all(&mut out, text.as_bytes()).unwrap();
    out.commit_async().await.unwrap()
}

#[file_creator(version = "2")]
pub async fn fallible_async(inputs: Vec<File>) -> lake_runtime::Result<(File, File)> {
    let _ = inputs;
    let a = File::create_output()?.commit_async().await?;
    let b = File::create_output()?.commit_async().await?;
    Ok((a, b))
}

#[file_creator(ignore(verbose, threads))]
fn with_ignored(input: &File, columns: Vec<String>, verbose: bool, threads: usize) -> File {
    let _ = (input, columns, verbose, threads);
    File::create_output().unwrap().commit().unwrap()
}

#[file_creator(version = "2024-01", ignore(verbose))]
fn versioned_and_ignored(input: Option<File>, verbose: bool) -> Vec<File> {
    let _ = (input, verbose);
    Vec::new()
}

#[file_creator(crate = "::lake_runtime")]
fn explicit_crate(input: File) -> File {
    let _ = input;
    File::create_output().unwrap().commit().unwrap()
}

fn main() {
    let _ = (with_ignored, versioned_and_ignored, explicit_crate);
    let _ = shout;
    let _ = fallible_async;
}
