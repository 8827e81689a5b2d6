//! `lake lineage` and `lake why` on the example pipeline's lake, driven as
//! a user would (issue 14, items 1 and 2).

use lake_tests::TestDir;

/// Runs the pipeline example on `dir`'s lake; returns the names it lists
/// under "outputs:", as (label, name).
fn run_pipeline(dir: &TestDir) -> Vec<(String, String)> {
    let stdout = dir.run_example("pipeline");
    stdout
        .lines()
        .skip_while(|l| *l != "outputs:")
        .skip(1)
        .map_while(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(label), Some(name), None) => Some((label.to_owned(), name.to_owned())),
                _ => None,
            }
        })
        .collect()
}

fn named<'a>(outputs: &'a [(String, String)], label: &str) -> Vec<&'a str> {
    outputs
        .iter()
        .filter(|(l, _)| l == label)
        .map(|(_, n)| n.as_str())
        .collect()
}

#[test]
fn lineage_of_the_report_reaches_every_raw_file_in_each_format() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    let report = named(&outputs, "report")[0];
    let raws = named(&outputs, "raw");
    assert_eq!(raws.len(), 3, "{outputs:?}");

    let text = dir.lake().args(["lineage", report, "--up"]).ok();
    assert!(text.starts_with(&format!("{report}  ← ")), "{text}");
    for raw in &raws {
        assert!(text.contains(raw), "{raw} missing from\n{text}");
    }
    assert!(text.contains("└── "), "{text}");

    let json = dir
        .lake()
        .args(["lineage", report, "--up", "--format", "json"])
        .json();
    assert_eq!(json["root"], report);
    let nodes = json["nodes"].as_array().unwrap();
    let edges = json["edges"].as_array().unwrap();
    for raw in &raws {
        assert!(nodes.iter().any(|n| n["name"] == *raw), "{json}");
    }
    // Every edge joins two nodes of the graph.
    for edge in edges {
        for end in ["from", "to"] {
            assert!(nodes.iter().any(|n| n["name"] == edge[end]), "{edge}");
        }
    }

    let dot = dir
        .lake()
        .args(["lineage", report, "--up", "--format", "dot"])
        .ok();
    assert!(dot.starts_with("digraph lineage {"), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), edges.len(), "{dot}");

    let mermaid_file = dir.path().join("lineage.mmd");
    dir.lake()
        .args(["lineage", report, "--up", "--format", "mermaid", "-o"])
        .arg(&mermaid_file)
        .ok();
    let mermaid = std::fs::read_to_string(&mermaid_file).unwrap();
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert_eq!(mermaid.matches(" -->|").count(), edges.len(), "{mermaid}");
}

#[test]
fn lineage_down_from_a_raw_file_reaches_the_report_and_depth_limits_it() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    let raw = named(&outputs, "raw")[0];
    let report = named(&outputs, "report")[0];
    let down = dir.lake().args(["lineage", raw, "--down"]).ok();
    assert!(down.contains(report), "{down}");
    let near = dir
        .lake()
        .args(["lineage", raw, "--down", "--depth", "1", "--format", "json"])
        .json();
    let edges = near["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    assert!(edges.iter().all(|e| e["from"] == raw), "{near}");

    // A name that does not exist is an error naming it.
    let err = dir.lake().args(["lineage", "no/such"]).fails();
    assert!(err.contains("no/such"), "{err}");
}

#[test]
fn why_names_the_argument_that_differs_from_the_previous_run() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    // The pipeline fetches Lisbon, then Oslo: Oslo's run differs by city.
    let oslo = named(&outputs, "raw")[1];
    let why = dir.lake().args(["why", oslo]).ok();
    assert!(why.contains("was made by pipeline::fetch"), "{why}");
    assert!(
        why.contains("~ argument city differs (was \"Lisbon\", now \"Oslo\")"),
        "{why}"
    );
    let json = dir.lake().args(["why", oslo, "--json"]).json();
    assert_eq!(json["creator"], "pipeline::fetch");
    assert_eq!(json["previous"]["name"], named(&outputs, "raw")[0]);

    // The first run has nothing earlier; an added file has no run at all.
    let lisbon = named(&outputs, "raw")[0];
    let first = dir.lake().args(["why", lisbon]).ok();
    assert!(first.contains("first run of pipeline::fetch"), "{first}");
    dir.write("added.txt", "x");
    dir.lake()
        .args(["add", "added.txt", "plain/added.txt"])
        .ok();
    let err = dir.lake().args(["why", "plain/added.txt"]).fails();
    assert!(
        err.contains("was added, not made by a creator's run"),
        "{err}"
    );
}

#[test]
fn lineage_svg_renders_to_pixels_with_every_name_in_it() {
    let dir = TestDir::new();
    let outputs = run_pipeline(&dir);
    let report = named(&outputs, "report")[0];
    let svg_path = dir.path().join("lineage.svg");
    dir.lake()
        .args(["lineage", report, "--up", "--format", "svg", "-o"])
        .arg(&svg_path)
        .ok();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for (_, name) in outputs.iter().filter(|(label, _)| label != "rejected") {
        assert!(svg.contains(name.as_str()), "{name} missing from the SVG");
    }

    // Rendered as a viewer would, on a white page, with the fonts this
    // machine has standing in for the generic families the SVG names.
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    let family = fonts
        .faces()
        .find_map(|face| face.families.first().map(|(name, _)| name.clone()))
        .expect("a system font to render text with");
    fonts.set_serif_family(family.clone());
    fonts.set_sans_serif_family(family);
    let (with_text, pixmap) = inked_share(&svg, &options);
    // Kept for a person to look at.
    let png = lake_tests::lake_bin()
        .parent()
        .unwrap()
        .join("lineage-pipeline.png");
    pixmap.save_png(&png).unwrap();
    // Boxes, arrows and text: some ink, far from all of it; and the names
    // are drawn, not only the boxes (a missing font draws no text at all).
    assert!(
        (0.005..0.5).contains(&with_text),
        "{with_text} of the page is inked"
    );
    // `<text…` and `<textPath…` become elements that draw nothing.
    let boxes_only = svg.replace("<text", "<desc").replace("</text", "</desc");
    let (without_text, _) = inked_share(&boxes_only, &options);
    assert!(
        with_text > without_text * 1.5,
        "text adds little ink ({without_text} → {with_text}): is it drawn?"
    );
}

/// The share of dark pixels of `svg` drawn on white, and the drawing.
fn inked_share(svg: &str, options: &resvg::usvg::Options) -> (f64, resvg::tiny_skia::Pixmap) {
    let tree = resvg::usvg::Tree::from_str(svg, options).expect("the SVG parses");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let inked = pixmap
        .pixels()
        .iter()
        .filter(|p| p.red() < 128 && p.green() < 128 && p.blue() < 128)
        .count();
    (inked as f64 / pixmap.pixels().len() as f64, pixmap)
}
