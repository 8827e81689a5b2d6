//! A two-step pipeline whose binary is also its `lake` command line, as a
//! user would write one (tests/tests/status.rs):
//!
//! ```text
//! lake-pipeline-cli run       adds in.txt, then b = second(first(in.txt))
//! lake-pipeline-cli <args>    any `lake` command, e.g. `status`, `creators`
//! ```
//! The lake comes from `LAKE_HOME`, `LAKE_STORE` and `lake.toml`, as for
//! `lake`.

use std::io::Write;
use std::process::ExitCode;

use lake_runtime::{File, Lake, file_creator};

#[file_creator(version = "2")]
fn first(input: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    out.write_all(input.read_text()?.to_uppercase().as_bytes())?;
    out.commit()
}

#[file_creator]
fn second(upper: &File) -> lake_runtime::Result<File> {
    let mut out = File::create_output()?;
    write!(out, "{} bytes", upper.size()?)?;
    out.commit()
}

fn run() -> lake_runtime::Result<()> {
    let lake = Lake::open()?;
    let mut w = lake.create("in.txt")?;
    w.write_all(b"some input\n")?;
    let input = match w.commit() {
        Ok(file) => file,
        Err(lake_runtime::Error::NameTaken { .. }) => lake.file("in.txt")?,
        Err(e) => return Err(e),
    };
    let upper = lake.scope(|| first(&input))?;
    let summary = lake.scope(|| second(&upper))?;
    println!("{} {}", upper.name(), summary.name());
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("run") {
        return match run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lake-pipeline-cli: {e}");
                ExitCode::FAILURE
            }
        };
    }
    lake_runtime::cli::main()
}
