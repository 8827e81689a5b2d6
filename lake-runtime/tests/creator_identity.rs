//! Two creators never share an identity, so never each other's outputs.
//!
//! Regression tests for issue 10 ("creator identity"): a `fn step` nested
//! in two functions, and `make` in two `impl` blocks, shared
//! `module_path!()::name` and so handed back each other's outputs.

use std::io::Write;

use lake_runtime::{File, Lake, file_creator};

fn input(lake: &Lake) -> File {
    let mut w = lake.create("raw/n.txt").unwrap();
    w.write_all(b"7").unwrap();
    w.commit().unwrap()
}

fn write_output(text: String) -> File {
    let mut out = File::create_output().unwrap();
    out.write_all(text.as_bytes()).unwrap();
    out.commit().unwrap()
}

fn doubled(input: &File) -> File {
    #[file_creator]
    fn step(input: &File) -> File {
        let n: u32 = input.read_to_string().unwrap().parse().unwrap();
        write_output((n * 2).to_string())
    }
    step(input)
}

fn tripled(input: &File) -> File {
    #[file_creator]
    fn step(input: &File) -> File {
        let n: u32 = input.read_to_string().unwrap().parse().unwrap();
        write_output((n * 3).to_string())
    }
    step(input)
}

struct Double;

impl Double {
    #[file_creator]
    fn make(input: &File) -> File {
        let n: u32 = input.read_to_string().unwrap().parse().unwrap();
        write_output((n * 2).to_string())
    }
}

struct Triple;

impl Triple {
    #[file_creator]
    fn make(input: &File) -> File {
        let n: u32 = input.read_to_string().unwrap().parse().unwrap();
        write_output((n * 3).to_string())
    }
}

#[test]
fn issue_10_nested_functions_of_one_name_do_not_share_outputs() {
    let lake = Lake::temporary().unwrap();
    let n = input(&lake);
    let two = doubled(&n);
    let three = tripled(&n);
    assert_eq!(two.read_to_string().unwrap(), "14");
    assert_eq!(three.read_to_string().unwrap(), "21");
    assert_ne!(two.name(), three.name());
    // And each still hits its own run.
    assert_eq!(doubled(&n), two);
    assert_eq!(tripled(&n), three);
}

#[test]
fn issue_10_methods_of_two_impl_blocks_do_not_share_outputs() {
    let lake = Lake::temporary().unwrap();
    let n = input(&lake);
    let two = Double::make(&n);
    let three = Triple::make(&n);
    assert_eq!(two.read_to_string().unwrap(), "14");
    assert_eq!(three.read_to_string().unwrap(), "21");
    let lineage = match three.record().unwrap().lineage {
        lake_runtime::Lineage::Created(run) => run,
        other => panic!("not a run: {other:?}"),
    };
    assert_eq!(lineage.creator, "creator_identity::<Triple>::make");
}

#[test]
fn identities_name_the_enclosing_function_or_impl() {
    let paths: Vec<String> = lake_runtime::creators()
        .filter(|c| c.module_path == module_path!())
        .map(|c| c.path())
        .collect();
    for expected in [
        "creator_identity::doubled()::step",
        "creator_identity::tripled()::step",
        "creator_identity::<Double>::make",
        "creator_identity::<Triple>::make",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} not in {paths:?}"
        );
    }
}
