//! `--json` prints the shapes `docs/json.md` documents: JSON Lines of
//! folders and files for `ls`, one record for `info`, each object tagged
//! with its `kind`.
//!
//! See: issue 14 (item 4).

use lake_tests::{TestDir, documented_json_fields, json_fields};

#[test]
fn ls_prints_documented_folder_and_file_lines_one_level_or_all() {
    let t = TestDir::new();
    t.lake()
        .arg("add")
        .arg(t.write("a", "a\n"))
        .arg("d/a.txt")
        .ok();
    t.lake()
        .arg("add")
        .arg(t.write("b", "bb\n"))
        .arg("d/sub/b.txt")
        .ok();
    t.lake()
        .arg("add")
        .arg(t.write("c", "ccc\n"))
        .arg("d/sub/deeper/c.txt")
        .ok();

    let stdout = t.lake().args(["ls", "d", "--json"]).ok();
    // Compact, one object per line: a reader can stream it.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    let rows = t.lake().args(["ls", "d", "--json"]).json_lines();
    assert_eq!(rows[0]["kind"], "folder");
    assert_eq!(json_fields(&rows[0]), documented_json_fields("folder"));
    assert_eq!(rows[0]["name"], "d/sub/");
    assert_eq!(rows[0]["files"], 2);
    assert_eq!(rows[0]["size"], 3 + 4);
    assert_eq!(rows[1]["kind"], "file");
    assert_eq!(json_fields(&rows[1]), documented_json_fields("file"));
    assert_eq!(rows[1]["name"], "d/a.txt");

    let all = t.lake().args(["ls", "-r", "d", "--json"]).json_lines();
    let all = all.as_array().unwrap();
    let names: Vec<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["d/a.txt", "d/sub/b.txt", "d/sub/deeper/c.txt"]);
    for row in all {
        assert_eq!(row["kind"], "file");
        assert_eq!(json_fields(row), documented_json_fields("file"));
    }

    // --long and --where add the two documented fields, to files only.
    let long = t
        .lake()
        .args(["ls", "d", "--json", "--long", "--where"])
        .json_lines();
    assert_eq!(json_fields(&long[0]), documented_json_fields("folder"));
    let mut with_extras = documented_json_fields("file");
    with_extras.extend(["annotations".to_owned(), "where".to_owned()]);
    assert_eq!(json_fields(&long[1]), with_extras);
    assert_eq!(long[1]["where"], serde_json::json!(["default"]));

    // A file's own name lists that file.
    let one = t.lake().args(["ls", "d/a.txt", "--json"]).json_lines();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["kind"], "file");
}

#[test]
fn info_prints_the_documented_record() {
    let t = TestDir::new();
    t.lake()
        .arg("add")
        .arg(t.write("a", "a\n"))
        .arg("a.txt")
        .ok();
    t.lake().args(["tag", "a.txt", "k=v"]).ok();
    let record = t.lake().args(["info", "a.txt", "--json"]).json();
    assert_eq!(record["kind"], "record");
    assert_eq!(json_fields(&record), documented_json_fields("record"));
    assert_eq!(record["annotations"]["tags"]["k"], "v");
    assert_eq!(record["lineage"]["kind"], "added");
}
