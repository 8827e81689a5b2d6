//! Human-readable output.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use super::listing::Listing;
use crate::{AddOutcome, GcReport, GcTally, Lineage, Record, RunExplanation, RunLineage};
use anstyle::{Effects, Style};
use indicatif::HumanBytes;

/// A file with a local copy.
const LOCAL: Style = Style::new().effects(Effects::BOLD);
/// A file only in the store.
const STORE_ONLY: Style = Style::new().effects(Effects::ITALIC);

/// `ls`: folders first, then files. Local files are bold and store-only ones
/// italic (as radops does), and a column says which, for when the styles
/// are stripped (`output::stdout` strips them off a terminal and under
/// NO_COLOR).
pub(crate) fn listing(
    out: &mut impl Write,
    listing: &Listing<'_>,
    notes: Option<&BTreeMap<crate::Name, crate::Annotations>>,
    places: Option<&BTreeMap<crate::Name, Vec<String>>>,
) -> io::Result<()> {
    for folder in &listing.folders {
        writeln!(out, "{:<50} {:>10} file(s)", folder.name, folder.files)?;
    }
    for entry in &listing.files {
        let place = if entry.local { "local" } else { "store" };
        let size = HumanBytes(entry.size).to_string();
        let style = if entry.local { LOCAL } else { STORE_ONLY };
        // `ls --where`: the stores holding the bytes, by history.
        let stores = match places {
            Some(places) => {
                let at = places
                    .get(&entry.name)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let shown = if at.is_empty() {
                    "(no copy)".to_owned()
                } else {
                    at.join(", ")
                };
                format!("  in {shown}")
            }
            None => String::new(),
        };
        writeln!(
            out,
            "{style}{:<50}{style:#} {size:>10}  {place}{stores}",
            entry.name.as_str()
        )?;
        if let Some(a) = notes.and_then(|n| n.get(&entry.name)) {
            annotation_line(out, a)?;
        }
    }
    Ok(())
}

/// `ls --long`: a file's annotations on one indented line.
fn annotation_line(out: &mut impl Write, a: &crate::Annotations) -> io::Result<()> {
    let mut parts: Vec<String> = a.tags().iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.extend(a.labels().iter().map(|l| format!("#{l}")));
    if let Some(at) = a.timestamp() {
        parts.push(format!("@{}", at.to_rfc3339()));
    }
    if parts.is_empty() {
        return Ok(());
    }
    writeln!(out, "    {}", parts.join(" "))
}

/// `add`: one file's outcome.
pub(crate) fn add_line(out: &mut impl Write, outcome: &AddOutcome) -> io::Result<()> {
    let verb = if outcome.created {
        "added"
    } else {
        "unchanged"
    };
    writeln!(
        out,
        "{verb} {} ({} bytes, blake3 {})",
        outcome.name,
        outcome.size,
        outcome.blake3.short(16)
    )
}

/// `add -r`: the closing summary (issue 14).
pub(crate) fn add_summary(
    out: &mut impl Write,
    added: usize,
    unchanged: usize,
    added_bytes: u64,
    took: Duration,
) -> io::Result<()> {
    writeln!(
        out,
        "{} file(s): {added} new ({}), {unchanged} already held, in {:.2} s; {}",
        added + unchanged,
        HumanBytes(added_bytes),
        took.as_secs_f64(),
        crate::cli::commands::requests_so_far()
    )
}

/// `info`: the record, one field a line.
pub(crate) fn info(out: &mut impl Write, record: &Record, local: bool) -> io::Result<()> {
    writeln!(out, "name:        {}", record.name)?;
    writeln!(
        out,
        "size:        {} ({} bytes)",
        HumanBytes(record.size),
        record.size
    )?;
    writeln!(out, "blake3:      {}", record.blake3)?;
    writeln!(out, "created at:  {}", record.created_at.to_rfc3339())?;
    writeln!(out, "local copy:  {}", if local { "yes" } else { "no" })?;
    match &record.lineage {
        Lineage::Added(added) => {
            writeln!(
                out,
                "source:      {}",
                added.source.as_deref().unwrap_or("(written by a program)")
            )?;
            writeln!(out, "added by:    {} on {}", added.added_by, added.host)?;
            writeln!(out, "added at:    {}", added.added_at.to_rfc3339())?;
            writeln!(out, "lake:        {}", added.lake_version)?;
        }
        Lineage::Created(run) => created(out, record, run)?,
    }
    Ok(())
}

/// A file's annotations and their digest, as `lake info` and the
/// annotation commands show them.
pub(crate) fn annotations(out: &mut impl Write, a: &crate::Annotations) -> io::Result<()> {
    if a.tags().is_empty() {
        writeln!(out, "tags:        (none)")?;
    } else {
        let tags: Vec<String> = a.tags().iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "tags:        {}", tags.join(" "))?;
    }
    let labels: Vec<&str> = a.labels().iter().map(String::as_str).collect();
    writeln!(
        out,
        "labels:      {}",
        if labels.is_empty() {
            "(none)".to_owned()
        } else {
            labels.join(" ")
        }
    )?;
    match a.timestamp() {
        Some(at) => writeln!(out, "timestamp:   {}", at.to_rfc3339())?,
        None => writeln!(out, "timestamp:   (none)")?,
    }
    writeln!(
        out,
        "metadata:    {} (blake3 of the annotations)",
        a.metadata_digest()
    )
}

/// radops' three boxes, top to bottom: inputs → creation method → outputs,
/// then provenance.
fn created(out: &mut impl Write, record: &Record, run: &RunLineage) -> io::Result<()> {
    let inputs: Vec<String> = if run.inputs.is_empty() {
        vec!["(none)".into()]
    } else {
        run.inputs
            .iter()
            .map(|i| format!("{}: {} ({})", i.param, i.name, i.blake3.short(12)))
            .collect()
    };
    let mut method = vec![run.creator.clone()];
    method.extend(
        run.params
            .iter()
            .map(|p| format!("{} = {}", p.name, p.json)),
    );
    let mut outputs: Vec<String> = run
        .outputs
        .iter()
        .map(|n| {
            if n == &record.name {
                format!("{n}  <- this file")
            } else {
                n.to_string()
            }
        })
        .collect();
    outputs.push(format!("by {} on {}", run.originator, run.host));
    let width = inputs
        .iter()
        .chain(&method)
        .chain(&outputs)
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(20);
    writeln!(out)?;
    draw_box(out, "input files", &inputs, width)?;
    arrow(out, width)?;
    draw_box(out, "creation method", &method, width)?;
    arrow(out, width)?;
    draw_box(out, "outputs", &outputs, width)?;
    writeln!(out)?;
    if let Some(git) = &run.git {
        if let Some(link) = &git.permalink {
            writeln!(out, "permalink:   {link}")?;
        }
        writeln!(
            out,
            "git:         {}{}",
            git.commit.as_deref().unwrap_or("(no commit)"),
            if git.dirty { " (dirty)" } else { "" }
        )?;
        if let Some(remote) = &git.remote {
            writeln!(out, "remote:      {remote}")?;
        }
    } else {
        writeln!(out, "git:         (not in a git repository)")?;
    }
    writeln!(out, "source:      {}:{}", run.source_file, run.source_line)?;
    writeln!(
        out,
        "versions:    {} {}, lake {}, code {}{}",
        run.crate_name,
        run.crate_version,
        run.lake_version,
        &run.code_hash[..run.code_hash.len().min(16)],
        run.version
            .as_deref()
            .map(|v| format!(", version {v:?}"))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "ran:         {} -> {} ({} ms)",
        run.started_at.to_rfc3339(),
        run.ended_at.to_rfc3339(),
        run.duration_ms
    )?;
    writeln!(out, "run key:     {}", run.run_key)
}

fn draw_box(out: &mut impl Write, title: &str, lines: &[String], width: usize) -> io::Result<()> {
    let rule = width + 2 - title.chars().count() - 3;
    writeln!(out, "┌─ {title} {}┐", "─".repeat(rule))?;
    for line in lines {
        let pad = width - line.chars().count();
        writeln!(out, "│ {line}{} │", " ".repeat(pad))?;
    }
    writeln!(out, "└{}┘", "─".repeat(width + 2))
}

fn arrow(out: &mut impl Write, width: usize) -> io::Result<()> {
    let indent = " ".repeat(width / 2 + 1);
    writeln!(out, "{indent}│")?;
    writeln!(out, "{indent}▼")
}

/// `gc`: what was removed (or would be, in a dry run), by kind.
pub(crate) fn gc(out: &mut impl Write, report: &GcReport) -> io::Result<()> {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for item in &report.removed {
        writeln!(
            out,
            "{verb} {:<13} {:>10}  {}",
            item.kind,
            HumanBytes(item.bytes),
            item.path
        )?;
    }
    let line = |t: GcTally| format!("{} ({})", t.count, HumanBytes(t.bytes));
    writeln!(
        out,
        "{verb} {}: {} store blob(s), {} store staging file(s), {} abandoned upload(s), {} incomplete multipart upload(s), {} batch file(s), {} home staging file(s), {} home blob(s)",
        line(report.total()),
        line(report.store_blobs),
        line(report.store_staging),
        line(report.store_uploads),
        report.store_multipart.count,
        line(report.batches),
        line(report.home_staging),
        line(report.home_blobs),
    )?;
    if let Some(why) = &report.multipart_unlisted {
        writeln!(out, "note: {why}")?;
    }
    writeln!(
        out,
        "kept {} referenced blob(s) and {} leftover(s) younger than {} s",
        report.referenced_blobs,
        line(report.kept_young),
        report.grace_secs
    )?;
    if let Some(budget) = &report.local_budget {
        let evicted = if report.dry_run {
            "would evict"
        } else {
            "evicted"
        };
        writeln!(
            out,
            "local copies: {} before, {evicted} {} least recently used, {} left (budget {})",
            HumanBytes(budget.before_bytes),
            line(budget.evicted),
            HumanBytes(budget.after_bytes),
            HumanBytes(budget.max_bytes),
        )?;
    }
    Ok(())
}

/// `why`: the run, the earlier run it is compared with, and one line per
/// key component that differs, diff-style.
pub(crate) fn why(out: &mut impl Write, why: &RunExplanation) -> io::Result<()> {
    let short = |key: &str| key.chars().take(16).collect::<String>();
    writeln!(
        out,
        "{} was made by {} (run {}…, {})",
        why.name,
        why.creator,
        short(&why.run_key),
        why.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    let Some(previous) = &why.previous else {
        return writeln!(
            out,
            "it is the first run of {} this home knows of: nothing earlier to compare",
            why.creator
        );
    };
    writeln!(
        out,
        "compared with the run before it, which made {} (run {}…, {}):",
        previous.name,
        short(&previous.run_key),
        previous.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    )?;
    for difference in &why.differences {
        writeln!(out, "  ~ {difference}")?;
    }
    Ok(())
}
