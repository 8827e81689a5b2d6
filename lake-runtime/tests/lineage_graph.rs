//! The lineage graph and `why` on larger lakes than the CLI tests build:
//! a 100-step chain and a diamond, drawn in every format (issue 14).

use std::io::Write;

use lake_runtime::{File, Lake, LineageDirection, file_creator};

#[file_creator]
fn next_step(previous: &File, step: u32) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    write!(out, "{}+{step}", previous.read_to_string()?.len())?;
    out.commit()
}

#[file_creator]
fn join(left: &File, right: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(&left.read()?)?;
    out.write_all(&right.read()?)?;
    out.commit()
}

fn seed(lake: &Lake, name: &str) -> File {
    let mut w = lake.create(name).unwrap();
    w.write_all(b"seed").unwrap();
    w.commit().unwrap()
}

#[test]
fn a_hundred_node_chain_in_every_format() {
    let lake = Lake::temporary().unwrap();
    let mut file = seed(&lake, "raw/seed.txt");
    for step in 1..100 {
        file = next_step(&file, step).unwrap();
    }
    let graph = lake
        .lineage(file.name(), LineageDirection::Up, None)
        .unwrap();
    assert_eq!(graph.nodes.len(), 100);
    assert_eq!(graph.edges.len(), 99);

    let text = graph.to_text();
    assert_eq!(text.lines().count(), 100, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("raw/seed.txt  (added)")
    );
    assert_eq!(graph.to_dot().matches(" -> ").count(), 99);
    assert_eq!(graph.to_mermaid().matches(" -->|previous| ").count(), 99);
    let json = serde_json::to_value(&graph).unwrap();
    assert_eq!(json["nodes"].as_array().unwrap().len(), 100);

    // Depth limits each direction; down from the seed reaches the end.
    let near = lake
        .lineage(file.name(), LineageDirection::Up, Some(3))
        .unwrap();
    assert_eq!(near.nodes.len(), 4);
    let seed_name = "raw/seed.txt".parse().unwrap();
    let down = lake
        .lineage(&seed_name, LineageDirection::Down, None)
        .unwrap();
    assert!(down.nodes.iter().any(|n| n.name == *file.name()));

    // `why` of the last step: the step argument is what differs.
    let why = lake.why(file.name()).unwrap();
    assert!(
        why.differences
            .iter()
            .any(|d| d == "argument step differs (was 98, now 99)"),
        "{:?}",
        why.differences
    );
}

#[test]
fn a_diamond_is_drawn_once_and_named_where_it_repeats() {
    let lake = Lake::temporary().unwrap();
    let base = seed(&lake, "raw/base.txt");
    let a = next_step(&base, 1).unwrap();
    let b = next_step(&base, 2).unwrap();
    let top = join(&a, &b).unwrap();
    let graph = lake
        .lineage(top.name(), LineageDirection::Up, None)
        .unwrap();
    assert_eq!(graph.nodes.len(), 4);
    assert_eq!(graph.edges.len(), 4);
    let text = graph.to_text();
    assert_eq!(text.matches("raw/base.txt").count(), 2, "{text}");
    assert_eq!(text.matches("(drawn above)").count(), 0, "{text}");

    let both = lake
        .lineage(a.name(), LineageDirection::Both, None)
        .unwrap();
    let text = both.to_text();
    assert!(text.contains("made from it:"), "{text}");
    assert!(text.contains(top.name().as_str()), "{text}");
}
