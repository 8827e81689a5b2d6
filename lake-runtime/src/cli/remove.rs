//! `lake rm` and `lake evict`: the commands that take things away, and ask
//! before a cascade.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::{Evict, Lake, Name, RemoveOptions, RemoveReport};
use anyhow::{Result, bail};

use crate::cli::commands::parse_name;
use crate::cli::lowargs::GlobalArgs;

/// `rm` prints one line per name up to this many (any number with -v).
const MAX_NAME_LINES: usize = 20;

pub(crate) async fn rm(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    names: &[String],
    options: RemoveOptions,
    yes: bool,
    json: bool,
) -> Result<ExitCode> {
    let targets = names
        .iter()
        .map(|n| parse_name(n))
        .collect::<Result<Vec<Name>>>()?;
    let report = if options.cascade && !options.dry_run {
        // Show the closure first; then remove exactly it, without a
        // cascade, so a file made from one of them in between is refused
        // instead of removed unseen.
        let plan = lake
            .remove_async(
                &targets,
                &RemoveOptions {
                    dry_run: true,
                    ..options.clone()
                },
            )
            .await?;
        let downstream = plan.names.iter().filter(|n| !n.target).count();
        eprintln!(
            "will remove {} file(s), {downstream} of them made from the ones named, downstream first:",
            plan.names.len()
        );
        for name in &plan.names {
            let why = if name.target { "" } else { "  (downstream)" };
            eprintln!("  {}{why}", name.name);
        }
        confirm(yes)?;
        let exact: Vec<Name> = plan.names.iter().map(|n| n.name.clone()).collect();
        lake.remove_async(
            &exact,
            &RemoveOptions {
                recursive: false,
                cascade: false,
                ..options
            },
        )
        .await?
    } else {
        lake.remove_async(&targets, &options).await?
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else if !global.quiet {
        render_rm(out, &report, global.verbose > 0)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks on a terminal; elsewhere, `--yes` is the only answer.
fn confirm(yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("refusing to cascade without --yes: stdin is not a terminal to ask on");
    }
    eprint!("remove them all? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("nothing removed");
    }
    Ok(())
}

fn render_rm(out: &mut impl Write, report: &RemoveReport, verbose: bool) -> std::io::Result<()> {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    if report.names.len() <= MAX_NAME_LINES || verbose {
        for name in &report.names {
            writeln!(out, "{verb} {}", name.name)?;
        }
    }
    if report.dry_run {
        return writeln!(
            out,
            "{verb} {} name(s); nothing removed",
            report.names.len()
        );
    }
    writeln!(
        out,
        "removed {} name(s); deleted {} blob(s) ({} bytes) from the store; kept {} blob(s) other names hold",
        report.names.len(),
        report.blobs_deleted.len(),
        report.bytes_deleted,
        report.blobs_kept.len()
    )
}

pub(crate) fn evict(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    targets: &[String],
    all: bool,
    json: bool,
) -> Result<ExitCode> {
    let what = if all {
        Evict::All
    } else {
        Evict::Names(
            targets
                .iter()
                .map(|n| parse_name(n))
                .collect::<Result<Vec<_>>>()?,
        )
    };
    let report = lake.evict(&what)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else if !global.quiet {
        writeln!(
            out,
            "evicted {} name(s): {} local cop(ies), {} bytes freed",
            report.names.len(),
            report.copies,
            report.bytes
        )?;
        for (name, others) in &report.kept_shared {
            let shown: Vec<String> = others.iter().take(3).map(|n| n.to_string()).collect();
            let more = if others.len() > 3 { ", …" } else { "" };
            writeln!(
                out,
                "kept {name}: its bytes are also {}{more} (evict those too, or use --all)",
                shown.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
