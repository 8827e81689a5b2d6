//! `lake cp`, `lake mv`, `lake rm --from` and `lake history`: copies of a
//! file's bytes between the named stores of lake.toml, and their record.

use std::io::Write;
use std::process::ExitCode;

use crate::{History, Lake, Name, RelocateReport};
use anyhow::Result;

use crate::cli::commands::parse_name;
use crate::cli::lowargs::GlobalArgs;

fn names(raw: &[String]) -> Result<Vec<Name>> {
    raw.iter().map(|n| parse_name(n)).collect()
}

pub(crate) async fn cp(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    raw: &[String],
    to: &str,
    json: bool,
) -> Result<ExitCode> {
    let report = lake.copy_names_async(&names(raw)?, to).await?;
    print(out, global, &report, json, &format!("copied to {to}"))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn mv(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    raw: &[String],
    from: &str,
    to: &str,
    json: bool,
) -> Result<ExitCode> {
    let report = lake.move_names_async(&names(raw)?, from, to).await?;
    print(
        out,
        global,
        &report,
        json,
        &format!("moved from {from} to {to}"),
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn rm_from(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    raw: &[String],
    from: &str,
    force_last: bool,
    json: bool,
) -> Result<ExitCode> {
    let report = lake
        .remove_copies_async(&names(raw)?, from, force_last)
        .await?;
    print(
        out,
        global,
        &report,
        json,
        &format!("removed the copy in {from} of"),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn print(
    out: &mut impl Write,
    global: &GlobalArgs,
    report: &RelocateReport,
    json: bool,
    verb: &str,
) -> Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
        return Ok(());
    }
    if global.quiet {
        return Ok(());
    }
    let mut done: Vec<&Name> = report
        .copied
        .iter()
        .chain(&report.already_there)
        .chain(&report.removed_from)
        .collect();
    done.sort();
    done.dedup();
    for name in done {
        writeln!(out, "{verb} {name}")?;
    }
    writeln!(
        out,
        "{} uploaded ({} bytes), {} already there, {} cop(ies) removed ({} kept for names with the same bytes)",
        report.copied.len(),
        report.bytes,
        report.already_there.len(),
        report.removed_from.len(),
        report.kept_shared.len()
    )?;
    Ok(())
}

pub(crate) async fn history(
    lake: &Lake,
    out: &mut impl Write,
    name: &Name,
    json: bool,
) -> Result<ExitCode> {
    let history = lake.history_async(name).await?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &history)?;
        writeln!(out)?;
    } else {
        render_history(out, &history)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per event, oldest first: time, what, where, who, host, command.
fn render_history(out: &mut impl Write, h: &History) -> std::io::Result<()> {
    let mut lines: Vec<(chrono::DateTime<chrono::Utc>, String)> = Vec::new();
    if let Some(record) = &h.record {
        let (by, host, how) = match &record.lineage {
            crate::Lineage::Added(added) => (
                added.added_by.as_str(),
                added.host.as_str(),
                match &added.source {
                    Some(source) => format!("added from {source}"),
                    None => "added".to_owned(),
                },
            ),
            crate::Lineage::Created(run) => (
                run.originator.as_str(),
                run.host.as_str(),
                format!("made by {}", run.creator),
            ),
        };
        lines.push((
            record.created_at,
            format!("{:<24} by {by} on {host}: {how}", "created"),
        ));
    }
    for event in &h.events {
        let what = match (&event.store, &event.from) {
            (Some(to), Some(from)) => {
                format!("{} {} -> {}", event.event.as_str(), from.name, to.name)
            }
            (Some(store), None) => format!("{} {}", event.event.as_str(), store.name),
            _ => event.event.as_str().to_owned(),
        };
        let note = event
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        lines.push((
            event.at,
            format!(
                "{what:<24} by {} on {}: {}{note}",
                event.by, event.host, event.command
            ),
        ));
    }
    // A removal from before histories were kept has only its tombstone.
    let has_removal = h
        .events
        .iter()
        .any(|e| e.event == crate::HistoryKind::Removed);
    if let (Some(t), false) = (&h.tombstone, has_removal) {
        lines.push((
            t.removed_at,
            format!(
                "{:<24} by {} on {}{}",
                "removed",
                t.removed_by,
                t.host,
                t.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
        ));
    }
    lines.sort_by_key(|(at, _)| *at);
    for (at, line) in lines {
        writeln!(out, "{}  {line}", at.format("%Y-%m-%dT%H:%M:%SZ"))?;
    }
    let places: Vec<&str> = h.locations.iter().map(|s| s.name.as_str()).collect();
    if h.record.is_none() {
        writeln!(out, "now: removed")?;
    } else if places.is_empty() {
        writeln!(out, "now: no copy in any store")?;
    } else {
        writeln!(out, "now: in {}", places.join(", "))?;
    }
    for open in &h.open {
        let at = open.store.as_ref().map_or("?", |s| s.name.as_str());
        let what = if open.event == crate::HistoryKind::RemoveStarted {
            format!("a removal of the copy in {at}")
        } else {
            format!("a copy to {at}")
        };
        writeln!(
            out,
            "unfinished: {what} started at {} was never recorded as done; if nothing is running, \
             run `lake verify --store --repair`",
            open.at.format("%Y-%m-%dT%H:%M:%SZ")
        )?;
    }
    Ok(())
}
