//! Two builds of one program sharing a home and a store, as a user meets
//! them: after each edit that changes what a step computes, the step must
//! run again; after an unrelated edit, it must not.
//!
//! See: issue 10 (item 1, "a code identity that covers what the step's code
//! depends on"), docs/design/0009-code-identity.md.
//!
//! The program is a cargo project written to `<target>/identity-e2e/project`
//! that depends on `lake-runtime` by path. It builds into
//! `<target>/identity-e2e`, a target directory of its own (the outer one is
//! locked by the `cargo test` that runs this), so lake-runtime's
//! dependencies compile once per checkout (about 1.5 min on 2 cores, 0.7 GB);
//! every later build is an incremental rebuild of the tiny project, a few
//! seconds each.

use std::path::{Path, PathBuf};
use std::process::Command;

use lake_tests::{TestDir, overwrite};

const MANIFEST: &str = r#"
[package]
name = "identity-e2e"
version = "0.1.0"
edition = "2024"
publish = false

# Not a member of the enclosing workspace, whatever the temp dir is in.
[workspace]

[features]
fast = []

[dependencies]
lake-runtime = { path = "LAKE_RUNTIME" }
helper-dep = { path = "helper-dep" }

# No debug info: it would triple the size of the shared target directory.
[profile.dev]
debug = false
"#;

const MAIN: &str = r#"
use std::io::Write;

use lake_runtime::{File, file_creator};

mod util;

const LIMIT: u64 = 3;
type Num = u64;

macro_rules! twice {
    ($e:expr) => {
        $e * 2
    };
}

/// Adds the limit.
fn helper(x: u64) -> u64 {
    x + LIMIT
}

fn unrelated() -> u64 {
    7
}

#[file_creator]
fn inner(x: u64) -> lake_runtime::Result<File> {
    println!("RAN inner");
    let mut out = File::create_output()?;
    write!(out, "{}", x + 1)?;
    out.commit()
}

#[file_creator]
fn step(x: u64) -> lake_runtime::Result<File> {
    println!("RAN step");
    let inner_file = inner(x)?;
    let text = include_str!("data.txt");
    let fast = cfg!(feature = "fast");
    let v = twice!(helper(helper_dep::scale(x))) as Num;
    let mut out = File::create_output()?;
    write!(out, "{v} {text} {fast} {}", inner_file.read_to_string()?)?;
    out.commit()
}

fn main() {
    // What a user asks before re-running: which outputs are stale, and why.
    let lake = lake_runtime::Lake::current().expect("the lake opens");
    for stale in lake.stale_outputs().expect("stale outputs") {
        println!("STALE {}: {}", stale.creator, stale.reason);
    }
    let out = step(1).expect("step runs");
    println!("OUT {}", out.read_to_string().expect("output reads"));
    println!("UNRELATED {}", unrelated() + util::tool());
}
"#;

struct Project {
    dir: PathBuf,
    lake: TestDir,
}

impl Project {
    fn new() -> Self {
        let lake = TestDir::new();
        // A fixed path in the target directory, rewritten on each run: a
        // new path would leave a new copy of the project's artifacts behind
        // every time.
        let dir = Self::target_dir().join("project");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let runtime = workspace.join("lake-runtime");
        let files = [
            (
                "Cargo.toml",
                MANIFEST.replace("LAKE_RUNTIME", &runtime.to_string_lossy()),
            ),
            ("src/main.rs", MAIN.to_owned()),
            (
                "src/util.rs",
                "pub fn tool() -> u64 {\n    1\n}\n".to_owned(),
            ),
            ("src/data.txt", "hello".to_owned()),
            (
                "helper-dep/Cargo.toml",
                "[package]\nname = \"helper-dep\"\nversion = \"0.1.0\"\nedition = \"2024\"\n"
                    .to_owned(),
            ),
            (
                "helper-dep/src/lib.rs",
                "pub fn scale(x: u64) -> u64 {\n    x * 10\n}\n".to_owned(),
            ),
        ];
        for (path, content) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        // The workspace's lock pins every crate lake-runtime needs, so the
        // build resolves offline to versions that are already compiled.
        std::fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Self { dir, lake }
    }

    fn target_dir() -> PathBuf {
        // <target>/<profile>/deps/<test exe>
        let exe = std::env::current_exe().unwrap();
        exe.ancestors().nth(3).unwrap().join("identity-e2e")
    }

    /// Replaces `from` by `to` in `file`, which must contain it.
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        overwrite(&path, text.replacen(from, to, 1));
    }

    /// Builds with `features` and runs the program; returns its stdout.
    fn build_and_run(&self, features: &str) -> String {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--offline", "--quiet", "--features", features])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", Self::target_dir())
            // The outer build's settings are not the user's.
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        let out = build.output().unwrap();
        assert!(
            out.status.success(),
            "build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = Self::target_dir()
            .join("debug")
            .join(format!("identity-e2e{}", std::env::consts::EXE_SUFFIX));
        let out = Command::new(bin)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.lake.path())
            .env("LAKE_HOME", self.lake.home())
            .env("LAKE_STORE", self.lake.store_url())
            .current_dir(self.lake.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "program failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Builds and runs; the step must run again, and the outputs of the
    /// previous build be reported stale because of `change`.
    #[track_caller]
    fn assert_reruns(&self, why: &str, features: &str, change: &str) -> String {
        let out = self.build_and_run(features);
        assert!(
            out.contains("RAN step"),
            "{why}: the step did not re-run:\n{out}"
        );
        let named = out
            .lines()
            .any(|l| l.starts_with("STALE identity_e2e::step: code changed") && l.contains(change));
        assert!(named, "{why}: no stale output names {change:?}:\n{out}");
        out
    }

    #[track_caller]
    fn assert_hits(&self, why: &str, features: &str) -> String {
        let out = self.build_and_run(features);
        assert!(!out.contains("RAN step"), "{why}: the step re-ran:\n{out}");
        out
    }
}

#[test]
fn issue_10_code_edits_rerun_the_step_and_unrelated_edits_do_not() {
    let p = Project::new();
    let first = p.build_and_run("");
    assert!(first.contains("RAN step"), "{first}");
    assert!(first.contains("RAN inner"), "{first}");
    assert!(first.contains("OUT 26 hello false 2"), "{first}");
    p.assert_hits("same build", "");

    // Unrelated code, comments, whitespace and doc comments.
    p.edit("src/main.rs", "    7\n", "    8\n");
    p.edit("src/util.rs", "    1\n", "    2\n");
    p.edit(
        "src/main.rs",
        "/// Adds the limit.",
        "/// Adds the limit (a doc edit).",
    );
    p.edit(
        "src/main.rs",
        "    x + LIMIT\n",
        "    // a comment\n    x  +  LIMIT\n\n",
    );
    let out = p.assert_hits("unrelated edits", "");
    assert!(out.contains("UNRELATED 10"), "the edits were built:\n{out}");

    p.edit("src/main.rs", "x  +  LIMIT", "x + LIMIT + 1");
    p.assert_reruns("helper fn edit", "", "fn helper changed");
    p.edit("src/main.rs", "LIMIT: u64 = 3", "LIMIT: u64 = 4");
    p.assert_reruns("const edit", "", "const LIMIT changed");
    p.edit("src/main.rs", "type Num = u64;", "type Num = i64;");
    p.assert_reruns("type alias edit", "", "type Num changed");
    p.edit("src/main.rs", "$e * 2", "$e * 3");
    p.assert_reruns("macro_rules edit", "", "macro twice changed");
    overwrite(&p.dir.join("src/data.txt"), "hello!");
    p.assert_reruns("include_str file edit", "", "file src/data.txt changed");
    p.edit("helper-dep/src/lib.rs", "x * 10", "x * 11");
    p.assert_reruns("path dependency edit", "", "dep helper-dep 0.1.0 changed");
    p.edit("src/main.rs", "x + 1)?", "x + 2)?");
    let out = p.assert_reruns("inner creator edit", "", "fn inner changed");
    assert!(out.contains("RAN inner"), "{out}");
    let out = p.assert_reruns(
        "feature tested by cfg!",
        "fast",
        "cfg feature = \"fast\" false → true",
    );
    assert!(out.contains(" true "), "{out}");
    // Back to the default features: that build's run is still there.
    p.assert_hits("default features again", "");
}
