//! A remote creator's arguments are decoded by the worker: each needs
//! `Deserialize`, checked at the parameter's type. Uses the real
//! `lake_runtime`, since the macro accepts the function.
#![allow(dead_code, unused_variables)]

use lake_runtime::{File, file_creator};

#[derive(serde::Serialize)]
struct Settings {
    threshold: u32,
}

#[file_creator(remote)]
fn clean(raw: &File, settings: Settings) -> File {
    File::create_output().unwrap().commit().unwrap()
}

fn main() {}
