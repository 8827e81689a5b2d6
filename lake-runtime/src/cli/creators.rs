//! The commands that need the program's creators: `status` and
//! `creators`. In the plain `lake` binary there are none; in a pipeline's
//! binary that calls [`crate::cli::main`], its own.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;

use crate::Lake;
use crate::cli::listing::json_line;

/// `status`: the stale outputs, each with its reason.
pub(crate) async fn status(lake: &Lake, out: &mut impl Write, json: bool) -> Result<ExitCode> {
    let entries = lake.status_async().await?;
    if json {
        for entry in &entries {
            json_line(out, entry)?;
        }
    } else if crate::creators().next().is_none() {
        writeln!(
            out,
            "no creator is registered in this program, so no output can be found \
             stale; run `status` from your pipeline's binary (lake_runtime::cli::main())"
        )?;
    } else if entries.is_empty() {
        writeln!(out, "every output is up to date with this program's code")?;
    } else {
        for entry in &entries {
            writeln!(out, "stale  {}  {}", entry.name, entry.reason)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `creators`: this program's creators, their code identity and source.
pub(crate) fn creators(out: &mut impl Write, json: bool) -> Result<ExitCode> {
    let mut creators: Vec<_> = crate::creators().collect();
    creators.sort_by_key(|c| c.path());
    if json {
        for c in &creators {
            let row = serde_json::json!({
                "creator": c.path(),
                "code_identity": c.code_identity(),
                "source": format!("{}:{}", c.source_file, c.source_line),
            });
            json_line(out, &row)?;
        }
    } else if creators.is_empty() {
        writeln!(
            out,
            "no creator is registered in this program; run `creators` from your \
             pipeline's binary (lake_runtime::cli::main())"
        )?;
    } else {
        for c in creators {
            let identity = match c.code_identity() {
                lake_core::key::CodeIdentity::Hash(hash) => {
                    format!("code {}", hash.chars().take(16).collect::<String>())
                }
                lake_core::key::CodeIdentity::Version(version) => {
                    format!("version {version}")
                }
            };
            writeln!(
                out,
                "{}  {identity}  {}:{}",
                c.path(),
                c.source_file,
                c.source_line
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
