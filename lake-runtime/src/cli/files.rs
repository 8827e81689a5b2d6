//! Files into the lake (`add`: a path, a directory, a URL, an object URL)
//! and out of it (`get`).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use crate::{AddMode, AddOutcome, Lake, Name};
use anyhow::{Context, Result, bail};

use crate::cli::annotate;
use crate::cli::lowargs::GlobalArgs;
use crate::cli::render;

/// `add -r` prints one line per file up to this many files (any number
/// with -v); past it, only its summary line.
const MAX_FILE_LINES: usize = 20;

#[allow(clippy::too_many_arguments)]
pub(crate) async fn add(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    source: &str,
    name: &Name,
    mode: AddMode,
    recursive: bool,
    changes: &annotate::Changes,
) -> Result<ExitCode> {
    let started = Instant::now();
    let mut outcomes = if crate::is_object_url(source) {
        if mode == AddMode::Move || recursive {
            bail!("--move and -r need a local source, not the object URL {source}");
        }
        vec![lake.add_object_async(source, name).await?]
    } else if source.starts_with("http://") || source.starts_with("https://") {
        if mode == AddMode::Move {
            bail!("--move needs a local source, not the URL {source}");
        }
        vec![lake.add_url_async(source, name).await?]
    } else {
        let path = Path::new(source);
        if recursive && path.is_dir() {
            lake.add_dir_async(path, name, mode).await?
        } else {
            vec![lake.add_path_async(path, name, mode).await?]
        }
    };
    if !changes.is_empty() {
        // After the content: annotations are never part of a name's
        // existence, so an add that fails here has still added the files,
        // and re-running it sets them.
        for outcome in &outcomes {
            lake.annotate_async(&outcome.name, |a| changes.apply(a))
                .await
                .with_context(|| format!("added {} but could not annotate it", outcome.name))?;
        }
    }
    if global.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    outcomes.sort_by(|a, b| a.name.cmp(&b.name));
    if !recursive || outcomes.len() <= MAX_FILE_LINES || global.verbose > 0 {
        for outcome in &outcomes {
            render::add_line(out, outcome)?;
        }
    }
    if recursive {
        let (added, unchanged): (Vec<&AddOutcome>, Vec<&AddOutcome>) =
            outcomes.iter().partition(|o| o.created);
        let bytes: u64 = added.iter().map(|o| o.size).sum();
        render::add_summary(out, added.len(), unchanged.len(), bytes, started.elapsed())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies a read-only cached file to `target` as an ordinary writable file,
/// via a temporary file beside it so a failure leaves no partial output.
pub(crate) fn copy_out(from: &Path, target: &Path) -> Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // 0666 before the umask, as `cp` and every editor create files;
    // tempfile's own 0600 would make a shared output private.
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut src =
        std::fs::File::open(from).with_context(|| format!("cannot open {}", from.display()))?;
    std::io::copy(&mut src, &mut tmp)
        .with_context(|| format!("cannot write {}", target.display()))?;
    tmp.persist(target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(())
}
