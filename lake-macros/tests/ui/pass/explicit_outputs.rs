//! `output_uid` and `output_uids`, of every accepted type. The names are
//! borrowed by the call builder, so bodies can still use them.

use lake_runtime::{File, Name, file_creator};

#[file_creator]
fn one_named(output_uid: &str, rows: u32) -> File {
    let _ = rows;
    File::create(output_uid).unwrap().commit().unwrap()
}

#[file_creator]
fn one_named_owned(input: &File, output_uid: String) -> lake_runtime::Result<File> {
    let _ = input;
    File::create(&output_uid)?.commit()
}

#[file_creator]
fn one_named_name(output_uid: Name) -> lake_runtime::Result<File> {
    File::create(output_uid.as_str())?.commit()
}

#[file_creator]
fn several_named(input: &File, output_uids: Vec<String>) -> Vec<File> {
    let _ = input;
    output_uids
        .iter()
        .map(|name| File::create(name).unwrap().commit().unwrap())
        .collect()
}

#[file_creator]
fn several_named_names(output_uids: Vec<Name>) -> Vec<File> {
    output_uids
        .iter()
        .map(|_| File::create_output().unwrap().commit().unwrap())
        .collect()
}

fn main() {
    let _ = (
        one_named,
        one_named_owned,
        one_named_name,
        several_named,
        several_named_names,
    );
}
