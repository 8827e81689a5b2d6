//! The home: a local directory holding the cache, the index and staging.
//!
//! ```text
//! <home>/blobs/<blake3 hex>   read-only copies of content
//! <home>/index.sqlite         the catalogue (see `index.rs`)
//! <home>/tmp/                 staging; every write lands here, then is renamed
//! ```

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use lake_core::Digest;

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

    pub(crate) fn index_path(&self) -> PathBuf {
        self.root.join("index.sqlite")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh staging file, deleted on drop unless persisted.
    pub(crate) fn stage(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("stage-")
            .tempfile_in(self.tmp_dir())
            .map_err(|e| Error::io("create staging file in", self.tmp_dir(), e))
    }

    /// Moves a staged file whose digest is known into the cache, read-only.
    ///
    /// If the blob is already cached, the staged copy is dropped: the digest
    /// names the content, so both are the same bytes.
    pub(crate) fn install(&self, staged: tempfile::TempPath, digest: &Digest) -> Result<PathBuf> {
        let dest = self.blob_path(digest);
        if dest.exists() {
            return Ok(dest);
        }
        set_read_only(&staged)?;
        staged
            .persist(&dest)
            .map_err(|e| Error::io("move staged file to", &dest, e.error))?;
        Ok(dest)
    }

    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).exists()
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

pub(crate) fn set_read_only(path: &Path) -> Result<()> {
    let mut perms = fs::metadata(path)
        .map_err(|e| Error::io("read metadata of", path, e))?
        .permissions();
    perms.set_readonly(true);
    fs::set_permissions(path, perms).map_err(|e| Error::io("make read-only", path, e))
}

/// Writes everything read from `reader` to `writer`, hashing it on the way.
pub(crate) fn copy_hashing(
    mut reader: impl Read,
    mut writer: impl Write,
    mut on_progress: impl FnMut(u64),
) -> io::Result<(Digest, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        total += n as u64;
        on_progress(n as u64);
    }
    writer.flush()?;
    Ok((hasher.finalize().into(), total))
}

/// The blake3 and length of a file.
pub(crate) fn hash_file(path: &Path) -> Result<(Digest, u64)> {
    let file = fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = blake3::Hasher::new();
    // mmap + rayon would be faster on huge files; a plain buffered read keeps
    // memory flat and needs no extra dependency.
    let n = io::copy(
        &mut io::BufReader::with_capacity(COPY_BUFFER, file),
        &mut hasher,
    )
    .map_err(|e| Error::io("read", path, e))?;
    Ok((hasher.finalize().into(), n))
}
