//! Human-readable output.

use std::collections::BTreeMap;
use std::io::{self, Write};

use lake_runtime::{Lineage, ListEntry, Record};

const BOLD: &str = "\x1b[1m";
const ITALIC: &str = "\x1b[3m";
const RESET: &str = "\x1b[0m";

/// `ls`: folders first, then files. Local files are bold and store-only ones
/// italic on a terminal (as radops does); elsewhere a column says which.
pub(crate) fn listing(
    out: &mut impl Write,
    prefix: &str,
    entries: &[ListEntry],
    recursive: bool,
    styled: bool,
) -> io::Result<()> {
    let prefix = prefix.trim_end_matches('/');
    let strip = if prefix.is_empty() {
        0
    } else {
        prefix.len() + 1
    };
    let mut folders: BTreeMap<&str, usize> = BTreeMap::new();
    let mut files = Vec::new();
    for entry in entries {
        let name = entry.name.as_str();
        let rest = name.get(strip..).unwrap_or(name);
        match rest.split_once('/') {
            Some((folder, _)) if !recursive => *folders.entry(folder).or_default() += 1,
            _ => files.push(entry),
        }
    }
    for (folder, count) in folders {
        let shown = if prefix.is_empty() {
            format!("{folder}/")
        } else {
            format!("{prefix}/{folder}/")
        };
        writeln!(out, "{shown:<50} {count:>10} file(s)")?;
    }
    for entry in files {
        let place = if entry.local { "local" } else { "store" };
        let size = human_size(entry.size);
        if styled {
            let style = if entry.local { BOLD } else { ITALIC };
            writeln!(out, "{style}{:<50}{RESET} {size:>10}  {place}", entry.name)?;
        } else {
            writeln!(out, "{:<50} {size:>10}  {place}", entry.name)?;
        }
    }
    Ok(())
}

/// `info`: the record, one field a line.
pub(crate) fn info(out: &mut impl Write, record: &Record, local: bool) -> io::Result<()> {
    writeln!(out, "name:        {}", record.name)?;
    writeln!(
        out,
        "size:        {} ({} bytes)",
        human_size(record.size),
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
        Lineage::Created(run) => {
            writeln!(out, "creator:     {}", run.creator)?;
            writeln!(out, "originator:  {}", run.originator)?;
        }
    }
    Ok(())
}

pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
