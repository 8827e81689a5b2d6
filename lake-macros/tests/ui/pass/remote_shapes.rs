//! `#[file_creator(remote)]` with every input shape, borrowed and owned
//! arguments, a `Result` return and an async creator: the worker entry
//! point decodes each and calls the creator.

use std::collections::BTreeMap;

use lake_runtime::{File, file_creator};

#[derive(serde::Serialize, serde::Deserialize)]
struct Settings {
    threshold: u32,
}

#[file_creator(remote)]
fn inputs(
    owned: File,
    borrowed: &File,
    list: Vec<File>,
    slice: &[File],
    maybe: Option<File>,
) -> lake_runtime::Result<File> {
    let _ = (owned, borrowed, list, slice, maybe);
    File::create_output()?.commit()
}

#[file_creator(remote, version = "1")]
fn arguments(
    label: &str,
    names: &[String],
    owned: String,
    weights: BTreeMap<String, u32>,
    settings: Settings,
    by_ref: &Settings,
) -> (File, File) {
    let _ = (label, names, owned, weights, settings.threshold, by_ref.threshold);
    let a = File::create_output().unwrap().commit().unwrap();
    let b = File::create_output().unwrap().commit().unwrap();
    (a, b)
}

#[file_creator(remote)]
async fn fetch(url: String) -> Vec<File> {
    let _ = url;
    Vec::new()
}

impl Clone for Settings {
    fn clone(&self) -> Self {
        Self {
            threshold: self.threshold,
        }
    }
}

fn main() {}
