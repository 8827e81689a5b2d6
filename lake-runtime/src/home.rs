//! The home: a local directory holding the cache, the indexes and staging.
//!
//! ```text
//! <home>/blobs/<blake3 hex>               read-only copies of content, shared by
//!                                         every store (verified by digest)
//! <home>/stores/<store id>/index.sqlite   one catalogue and run memo per store
//!                                         (see `index.rs`)
//! <home>/stores/urls/<blake3 of location> which store id a location held when
//!                                         last seen (see `Home::binding`)
//! <home>/tmp/                             staging; every write lands here, then
//!                                         is renamed
//! ```
//!
//! A home from before stores had ids kept one `<home>/index.sqlite` for
//! whatever store it was pointed at. It is ignored: it cannot tell which
//! store its rows came from, and it is only a cache, so nothing is lost.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use lake_core::Digest;

use crate::store::StoreIdentity;
use crate::{Error, Result};

/// Size of the buffer used when hashing and copying files.
pub(crate) const COPY_BUFFER: usize = 1 << 20;

#[derive(Debug, Clone)]
pub(crate) struct Home {
    root: PathBuf,
}

impl Home {
    /// Opens (creating if needed) the home at `root`.
    pub(crate) fn open(root: &Path) -> Result<Self> {
        for dir in [root.to_path_buf(), root.join("blobs"), root.join("tmp")] {
            fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        }
        // A home from before store ids has `<home>/index.sqlite`; it is left
        // alone, unread: deleting it (and its -wal/-shm) under an older lake
        // that still has it open would fail that process with a disk I/O
        // error, and it costs only disk. See docs/design/0005-home-index.md.
        Ok(Self {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.to_hex())
    }

    /// `<home>/stores/<id>/index.sqlite`, its directory created. `id` must
    /// be a valid store id ([`StoreIdentity::is_valid_id`]), which cannot
    /// name a path outside `stores/`.
    pub(crate) fn index_path(&self, id: &str) -> Result<PathBuf> {
        debug_assert!(StoreIdentity::is_valid_id(id), "{id}");
        let dir = self.root.join("stores").join(id);
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        Ok(dir.join("index.sqlite"))
    }

    fn binding_path(&self, location: &str) -> PathBuf {
        let hash = blake3::hash(location.as_bytes()).to_hex();
        self.root.join("stores").join("urls").join(&hash[..32])
    }

    /// The store id last seen at `location` (see
    /// [`store_location`](crate::store::store_location)), if this home has
    /// seen it. The file holds the id, then the location, which is checked
    /// so that a hash collision or a hand-edited file cannot bind a
    /// location to another store's index. Anything unreadable reads as
    /// "not seen": the caller then asks the store.
    pub(crate) fn binding(&self, location: &str) -> Option<String> {
        let text = fs::read_to_string(self.binding_path(location)).ok()?;
        let (id, rest) = text.split_once('\n')?;
        let bound = rest.strip_suffix('\n').unwrap_or(rest);
        (bound == location && StoreIdentity::is_valid_id(id)).then(|| id.to_owned())
    }

    /// Records that `location` holds the store `id`, atomically (staged,
    /// then renamed). `location` has no credentials, so the file has none.
    pub(crate) fn bind(&self, location: &str, id: &str) -> Result<()> {
        let path = self.binding_path(location);
        let dir = path.parent().expect("binding path has a parent");
        fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        let mut staged = self.stage()?;
        staged
            .write_all(format!("{id}\n{location}\n").as_bytes())
            .map_err(|e| Error::io("write", staged.path(), e))?;
        staged
            .persist(&path)
            .map_err(|e| Error::io("write", &path, e.error))?;
        Ok(())
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh staging file, deleted on drop unless persisted. Its name
    /// carries the process id ([`staging_prefix`]), so a process stopped
    /// by a signal, which unwinds nothing, can still find its own.
    pub(crate) fn stage(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(&staging_prefix())
            .tempfile_in(self.tmp_dir())
            .map_err(|e| Error::io("create staging file in", self.tmp_dir(), e))
    }

    /// Moves a staged file of `size` bytes whose digest is known into the
    /// cache, read-only.
    ///
    /// If a copy of the right size is already cached, the staged one is
    /// dropped: the digest names the content. A cached copy of another size
    /// (truncated, appended to, or not a file) is damaged, and the staged
    /// bytes replace it rather than being trusted to it.
    pub(crate) fn install(
        &self,
        staged: tempfile::TempPath,
        digest: &Digest,
        size: u64,
    ) -> Result<PathBuf> {
        let dest = self.blob_path(digest);
        match fs::symlink_metadata(&dest) {
            Ok(meta) if meta.is_file() && meta.len() == size => return Ok(dest),
            Ok(meta) => {
                tracing::warn!(
                    path = %dest.display(),
                    "replacing a damaged local copy ({} bytes, expected {size})",
                    meta.len()
                );
                let removed = if meta.is_dir() {
                    fs::remove_dir_all(&dest)
                } else {
                    fs::remove_file(&dest)
                };
                removed.map_err(|e| Error::io("remove damaged local copy", &dest, e))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("read metadata of", &dest, e)),
        }
        set_read_only(&staged)?;
        staged
            .persist(&dest)
            .map_err(|e| Error::io("move staged file to", &dest, e.error))?;
        Ok(dest)
    }

    /// Every digest with a local copy, from one read of `blobs/`.
    pub(crate) fn local_copy_digests(&self) -> Result<std::collections::HashSet<Digest>> {
        let dir = self.root.join("blobs");
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))?;
        let mut out = std::collections::HashSet::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("read directory", &dir, e))?;
            if let Some(digest) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                out.insert(digest);
            }
        }
        Ok(out)
    }

    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
    }

    /// True if the local copy of `digest` is a file of `size` bytes: one of
    /// another size is damaged and must not stand in for the content.
    pub(crate) fn has_blob_of_size(&self, digest: &Digest, size: u64) -> bool {
        fs::symlink_metadata(self.blob_path(digest)).is_ok_and(|m| m.is_file() && m.len() == size)
    }

    /// Deletes a cached blob; a missing blob is fine.
    pub(crate) fn remove_blob(&self, digest: &Digest) -> Result<bool> {
        let path = self.blob_path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove", &path, e)),
        }
    }
}

/// The start of the names of this process's staging files.
pub(crate) fn staging_prefix() -> String {
    format!("stage-{}-", std::process::id())
}

pub(crate) fn set_read_only(path: &Path) -> Result<()> {
    let mut perms = fs::metadata(path)
        .map_err(|e| Error::io("read metadata of", path, e))?
        .permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| Error::io("make read-only", path, e))
}

/// Writes everything read from `reader` to `writer`, hashing it on the way.
///
/// Hashing runs on a second thread, fed the same buffers, so a large copy
/// costs about max(copy, hash) instead of copy + hash.
pub(crate) fn copy_hashing(
    mut reader: impl Read,
    mut writer: impl Write,
    mut on_progress: impl FnMut(u64),
) -> io::Result<(Digest, u64)> {
    use std::sync::mpsc;

    // Buffers travel reader → hasher → back for reuse, so memory stays at a
    // few buffers however large the file is.
    const BUFFERS: usize = 4;
    let (to_hasher, hasher_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (recycle_tx, recycle) = mpsc::channel::<Vec<u8>>();
    let hasher = std::thread::spawn(move || {
        let mut hasher = blake3::Hasher::new();
        for (buf, len) in hasher_rx {
            hasher.update(&buf[..len]);
            // The copier may have stopped early; a closed channel is fine.
            let _ = recycle_tx.send(buf);
        }
        hasher.finalize()
    });
    let hasher_gone = || io::Error::other("hasher thread ended");
    let mut total = 0u64;
    let mut allocated = 0;
    let copied = (|| loop {
        let mut buf = match recycle.try_recv() {
            Ok(buf) => buf,
            Err(_) if allocated < BUFFERS + 1 => {
                allocated += 1;
                vec![0u8; COPY_BUFFER]
            }
            Err(_) => recycle.recv().map_err(|_| hasher_gone())?,
        };
        let filled = loop {
            match reader.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if filled == 0 {
            return Ok(());
        }
        writer.write_all(&buf[..filled])?;
        total += filled as u64;
        on_progress(filled as u64);
        to_hasher.send((buf, filled)).map_err(|_| hasher_gone())?;
    })();
    drop(to_hasher);
    let digest = hasher.join().expect("hasher thread panicked");
    copied?;
    writer.flush()?;
    Ok((digest.into(), total))
}

/// The blake3 and length of a file lake owns (a staging file or a local
/// copy), hashed on every core: a 1 GiB download or `verify` takes a
/// fraction of a single-core pass. Reads go through one large buffer, not a
/// memory map, so memory stays flat; a map would also fault the process if
/// someone truncated the file meanwhile.
pub(crate) fn hash_own_file(path: &Path) -> Result<(Digest, u64)> {
    let mut file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io("read metadata of", path, e))?
        .len();
    if len <= COPY_BUFFER as u64 {
        // Small: one read, one single-threaded hash, no large buffer.
        let mut bytes = Vec::with_capacity(len as usize + 1);
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", path, e))?;
        return Ok((Digest::of(&bytes), bytes.len() as u64));
    }
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; PARALLEL_HASH_BUFFER.min(len as usize + 1)];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io("read", path, e)),
            }
        }
        if filled == 0 {
            break;
        }
        hasher.update_rayon(&buf[..filled]);
        if filled < buf.len() {
            break;
        }
    }
    Ok((hasher.finalize().into(), hasher.count()))
}

/// Bytes per read of [`hash_own_file`]: large enough to split well across
/// cores, a power of two so the splits fall on blake3's subtree edges.
const PARALLEL_HASH_BUFFER: usize = 16 << 20;

/// The blake3 and length of a file.
pub(crate) fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    // A plain read, not `hash_own_file`'s map: the file may be the user's.
    let n = io::copy(
        &mut io::BufReader::with_capacity(COPY_BUFFER, file),
        &mut hasher,
    )
    .map_err(|e| Error::io("read", path, e))?;
    Ok((hasher.finalize().into(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_hashing_copies_and_hashes_every_size() {
        for len in [
            0,
            1,
            COPY_BUFFER - 1,
            COPY_BUFFER,
            3 * COPY_BUFFER + 5,
            11 * COPY_BUFFER,
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut out = Vec::new();
            let mut progress = 0;
            let (digest, n) = copy_hashing(&data[..], &mut out, |k| progress += k).unwrap();
            assert_eq!(n, len as u64);
            assert_eq!(progress, len as u64);
            assert_eq!(out, data);
            assert_eq!(digest, Digest::of(&data), "len {len}");
        }
    }

    #[test]
    fn copy_hashing_reports_read_errors() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let err = copy_hashing(Failing, io::sink(), |_| {}).unwrap_err();
        assert!(err.to_string().contains("disk on fire"));
    }
}
