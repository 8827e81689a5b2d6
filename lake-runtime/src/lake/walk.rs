//! The directory walk behind `add -r`: every regular file below a
//! directory, never entering lake's own directories.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// What [`walk_files`] found.
pub(super) struct Walk {
    /// Every regular file, with its metadata, sorted.
    pub(super) files: Vec<(PathBuf, std::fs::Metadata)>,
    /// Entries left out, with why: symlink loops and the like.
    pub(super) skipped: Vec<(PathBuf, String)>,
}

/// Every regular file below `dir` with its metadata, sorted; symlinked
/// directories are not followed, so a cycle cannot make the walk endless.
/// The directories in `excluded` (the home, a `file://` store) and every
/// `.lake*` directory are not entered: adding `.` in a project whose home
/// is `.lake` must not add the index, its locks, or the store into itself.
pub(super) fn walk_files(dir: &Path, excluded: &[PathBuf]) -> Result<Walk> {
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
                let own = entry.file_name().as_encoded_bytes().starts_with(b".lake")
                    || excluded.iter().any(|x| same_directory(x, &path));
                if !own {
                    pending.push(path);
                }
            } else if file_type.is_file() || file_type.is_symlink() {
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
