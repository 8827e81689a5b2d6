//! The directory walk behind `add -r`: every regular file below a
//! directory, never entering lake's own directories nor `.git`, and
//! leaving out what the directory's `.lakeignore` lists (gitignore rules).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What [`walk_files`] found.
pub(super) struct Walk {
    /// Every regular file, with its metadata, sorted.
    pub(super) files: Vec<(PathBuf, std::fs::Metadata)>,
    /// Entries left out, with why: symlink loops and the like.
    pub(super) skipped: Vec<(PathBuf, String)>,
}

/// The name of the file, at the top of a directory given to `add -r`,
/// whose gitignore-style patterns name what not to add.
pub(super) const LAKEIGNORE: &str = ".lakeignore";

/// Every regular file below `dir` with its metadata, sorted; symlinked
/// directories are not followed, so a cycle cannot make the walk endless.
/// The directories in `excluded` (the home, a `file://` store) and every
/// `.lake*` directory are not entered: adding `.` in a project whose home
/// is `.lake` must not add the index, its locks, or the store into itself.
/// Nor is `.git`, and what `dir/.lakeignore` lists is left out (the file
/// itself too).
pub(super) fn walk_files(dir: &Path, excluded: &[PathBuf]) -> Result<Walk> {
    let ignored = lakeignore(dir)?;
    let is_ignored = |path: &Path, is_dir: bool| {
        ignored
            .as_ref()
            .is_some_and(|m| m.matched_path_or_any_parents(path, is_dir).is_ignore())
    };
    let mut candidates = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::Source {
            source_desc: d.display().to_string(),
            message: e.to_string(),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &d, e))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .map_err(|e| Error::io("read metadata of", &path, e))?;
            if file_type.is_dir() {
                let file_name = entry.file_name();
                let own = file_name.as_encoded_bytes().starts_with(b".lake")
                    || file_name == ".git"
                    || excluded.iter().any(|x| same_directory(x, &path));
                if !own && !is_ignored(&path, true) {
                    pending.push(path);
                }
            } else if (file_type.is_file() || file_type.is_symlink())
                && !(ignored.is_some() && d == dir && entry.file_name() == LAKEIGNORE)
                && !is_ignored(&path, false)
            {
                candidates.push(path);
            }
        }
    }
    // The stats are most of the walk's time: spread them over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let chunk = candidates.len().div_ceil(threads).max(1);
    let mut walk = Walk {
        files: Vec::with_capacity(candidates.len()),
        skipped: Vec::new(),
    };
    std::thread::scope(|scope| {
        let stats: Vec<_> = candidates
            .chunks(chunk)
            .map(|paths| {
                scope.spawn(move || paths.iter().map(std::fs::metadata).collect::<Vec<_>>())
            })
            .collect();
        for (paths, stats) in candidates.chunks(chunk).zip(stats) {
            for (path, meta) in paths
                .iter()
                .zip(stats.join().expect("stat thread panicked"))
            {
                match meta {
                    // Follows symlinks: one to a regular file counts.
                    Ok(meta) if meta.is_file() => walk.files.push((path.clone(), meta)),
                    // A symlink to a directory, a FIFO, a device: not content.
                    Ok(_) => {}
                    // A dangling symlink is skipped, as before; a file that
                    // vanished mid-walk is not an error either.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    // A symlink loop (ELOOP) is reported, not fatal.
                    Err(e) if is_symlink_loop(&e) => {
                        walk.skipped.push((path.clone(), "a symlink loop".into()));
                    }
                    Err(e) => return Err(Error::io("read metadata of", path, e)),
                }
            }
        }
        Ok(())
    })?;
    // Byte order: as stable as component order, and much cheaper to sort.
    walk.files
        .sort_unstable_by(|(a, _), (b, _)| a.as_os_str().cmp(b.as_os_str()));
    Ok(walk)
}

/// ELOOP: `ErrorKind::FilesystemLoop` is not stable on our toolchain.
fn is_symlink_loop(error: &std::io::Error) -> bool {
    const ELOOP: i32 = 40;
    cfg!(target_os = "linux") && error.raw_os_error() == Some(ELOOP)
}

/// True if `a` and `b` are the same directory (same device and inode).
fn same_directory(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(a), std::fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        a == b
    }
}

/// The matcher of `dir/.lakeignore`, if there is one; a pattern it cannot
/// parse is an error naming the file and the pattern.
fn lakeignore(dir: &Path) -> Result<Option<ignore::gitignore::Gitignore>> {
    let path = dir.join(LAKEIGNORE);
    if !path.is_file() {
        return Ok(None);
    }
    let bad_file = |error: ignore::Error| Error::Source {
        source_desc: path.display().to_string(),
        message: error.to_string(),
    };
    let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
    if let Some(error) = builder.add(&path) {
        return Err(bad_file(error));
    }
    builder.build().map(Some).map_err(bad_file)
}
