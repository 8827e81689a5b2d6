//! Bytes into the home's staging area, hashed on the way: from a local
//! file (`add`) or from a stream (a download, `add` of a URL). Whoever
//! stages decides whether the digest is acceptable, then installs.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use lake_core::Digest;
use tokio::io::AsyncWriteExt;

use crate::home::{Home, copy_hashing};
use crate::progress::Progress;
use crate::{Error, Lake, Result};

/// A staged file, installed as the home's local copy.
pub(super) struct Installed {
    pub(super) local: PathBuf,
    pub(super) digest: Digest,
    pub(super) size: u64,
}

/// A staging file with the digest and size of what was written to it.
pub(super) struct Staged {
    pub(super) path: tempfile::TempPath,
    pub(super) digest: Digest,
    pub(super) size: u64,
}

/// Copies `source` into lake's own staging file, hashing on the way, for
/// `--copy` and `--move` alike.
///
/// A move once hard-linked the source into the cache to save the copy. The
/// user's inode then was the cache's: a symlink was linked as a link (its
/// target's later edits became the name's content), a failed move left the
/// cache sharing a writable inode, and a writer still appending changed a
/// committed name. Copying costs one read and write, which the hash needs
/// to read anyway, and the cache only ever holds inodes lake wrote.
pub(super) fn stage_source(home: &Home, source: &Path, progress: &Progress) -> Result<Staged> {
    copy_into(home.stage()?, source, progress)
}

/// Files up to this size are copied and hashed inline, in one buffer.
pub(super) const SMALL_FILE: u64 = 1 << 20;

fn copy_small(
    mut reader: std::fs::File,
    mut writer: std::fs::File,
    len: u64,
) -> std::io::Result<(Digest, u64)> {
    use std::io::{Read, Write};
    // Room for one byte past the expected length, so that reading up to
    // end-of-file needs no reallocation.
    let mut buf = Vec::with_capacity(len as usize + 1);
    reader.read_to_end(&mut buf)?;
    writer.write_all(&buf)?;
    Ok((Digest::of(&buf), buf.len() as u64))
}

fn copy_into(
    staged: tempfile::NamedTempFile,
    source: &Path,
    progress: &Progress,
) -> Result<Staged> {
    let reader = std::fs::File::open(source).map_err(|e| Error::io("open", source, e))?;
    let len = reader
        .metadata()
        .map_err(|e| Error::io("read metadata of", source, e))?
        .len();
    let (file, tmp_path) = staged.into_parts();
    let (digest, size) = if len <= SMALL_FILE {
        // A hasher thread and its buffers cost more than hashing a small
        // file inline (this is the `add -r` of many small files case).
        copy_small(reader, file, len)
    } else {
        copy_hashing(reader, file, |n| progress.inc(n))
    }
    .map_err(|e| Error::io("copy", source, e))?;
    if size != len {
        // Another process is writing it: the bytes read are no version of
        // the file anyone saw whole.
        return Err(Error::Source {
            source_desc: source.display().to_string(),
            message: format!(
                "it changed size while being read ({len} bytes when opened, {size} read); \
                 add it again once it is complete"
            ),
        });
    }
    Ok(Staged {
        path: tmp_path,
        digest,
        size,
    })
}

impl Lake {
    /// Writes a stream of chunks to a fresh staging file, hashing on the
    /// way. The caller decides whether the digest is acceptable.
    pub(crate) async fn stage_stream<E>(
        &self,
        mut chunks: impl futures::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        progress: &Progress,
    ) -> Result<(tempfile::TempPath, Digest, u64)>
    where
        Error: From<E>,
    {
        let (file, tmp_path) = self.inner.home.stage()?.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io("write", &*tmp_path, e))?;
            progress.inc(chunk.len() as u64);
        }
        file.flush()
            .await
            .map_err(|e| Error::io("write", &*tmp_path, e))?;
        drop(file);
        progress.finish();
        Ok((tmp_path, hasher.finalize().into(), size))
    }
}
