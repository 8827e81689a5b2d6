//! `File`: a handle to a named, immutable file in a lake.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use lake_core::{Digest, Name, Record};

use crate::blocking::block_on;
use crate::{Error, Lake, Result};

/// A handle to a named file in a lake.
///
/// Creating a handle does no I/O. Its record (digest, size, lineage) is read
/// from the index or, failing that, fetched from the store (a small request);
/// its content is downloaded only when opened, and verified as it streams.
///
/// # Example
/// ```no_run
/// use lake_runtime::File;
///
/// // Uses the lake configured by LAKE_HOME / LAKE_STORE / lake.toml.
/// let raw = File::new("raw/measurements.csv")?;
/// println!("{} has {} bytes, blake3 {}", raw.name(), raw.size()?, raw.digest()?);
/// let text = raw.read_to_string()?; // downloads on first use
/// # Ok::<(), lake_runtime::Error>(())
/// ```
#[derive(Clone)]
pub struct File {
    lake: Lake,
    name: Name,
}

impl File {
    /// A handle to `name` in the current lake ([`Lake::current`]): the
    /// run's inside a creator, a scoped or temporary lake in tests, else
    /// [`Lake::global`].
    pub fn new(name: impl AsRef<str>) -> Result<Self> {
        Lake::current()?.file(name)
    }

    /// Starts writing `name` in the current lake ([`Lake::current`]); see
    /// [`FileWriter`]. Inside a `#[file_creator]` body only the names given
    /// as `output_uid(s)` may be created.
    pub fn create(name: impl AsRef<str>) -> Result<FileWriter> {
        Lake::current()?.create(name)
    }

    /// Starts writing the next output of the `#[file_creator]` run in
    /// progress, under its derived name (`<creator>/<key>` or
    /// `<creator>/<key>/<i>`, or the next `output_uid(s)` name).
    ///
    /// Fails outside a creator body.
    pub fn create_output() -> Result<FileWriter> {
        let run = crate::run::current_run().ok_or(Error::NotInCreator)?;
        let name = run.next_output_name()?;
        FileWriter::new_unchecked(run.lake.clone(), name)
    }

    pub(crate) fn from_parts(lake: Lake, name: Name) -> Self {
        Self { lake, name }
    }

    /// The file's name.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// The lake this file lives in.
    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// The file's record. Fails with [`Error::NotFound`] if no such name.
    pub fn record(&self) -> Result<Record> {
        self.lake.record(&self.name)
    }

    /// Async [`File::record`].
    pub async fn record_async(&self) -> Result<Record> {
        self.lake.record_async(&self.name).await
    }

    /// blake3 of the content, from the record (no download).
    pub fn digest(&self) -> Result<Digest> {
        if let Some(digest) = self.lake.memo_digest(&self.name) {
            return Ok(digest);
        }
        Ok(self.record()?.blake3)
    }

    /// Async [`File::digest`].
    pub async fn digest_async(&self) -> Result<Digest> {
        if let Some(digest) = self.lake.memo_digest(&self.name) {
            return Ok(digest);
        }
        Ok(self.record_async().await?.blake3)
    }

    /// Content length, from the record (no download).
    pub fn size(&self) -> Result<u64> {
        if let Some((_, size)) = self.lake.indexed_content(&self.name)? {
            return Ok(size);
        }
        Ok(self.record()?.size)
    }

    /// Path of the read-only local copy, downloading it first if needed.
    pub fn local_path(&self) -> Result<PathBuf> {
        self.lake.fetch(&self.name)
    }

    /// Async [`File::local_path`].
    pub async fn local_path_async(&self) -> Result<PathBuf> {
        self.lake.fetch_async(&self.name).await
    }

    /// Opens the content for reading, downloading it first if needed.
    pub fn open(&self) -> Result<std::fs::File> {
        let path = self.local_path()?;
        std::fs::File::open(&path).map_err(|e| Error::io("open", path, e))
    }

    /// Async [`File::open`].
    pub async fn open_async(&self) -> Result<tokio::fs::File> {
        let path = self.local_path_async().await?;
        tokio::fs::File::open(&path)
            .await
            .map_err(|e| Error::io("open", path, e))
    }

    /// The whole content.
    pub fn read(&self) -> Result<Vec<u8>> {
        let path = self.local_path()?;
        std::fs::read(&path).map_err(|e| Error::io("read", path, e))
    }

    /// The whole content as UTF-8.
    pub fn read_to_string(&self) -> Result<String> {
        let path = self.local_path()?;
        std::fs::read_to_string(&path).map_err(|e| Error::io("read", path, e))
    }

    /// True if the content is in the home's cache (no network).
    pub fn exists_locally(&self) -> Result<bool> {
        self.lake.exists_locally(&self.name)
    }

    /// True if the store holds the name (one small request).
    pub fn exists_in_store(&self) -> Result<bool> {
        block_on(self.lake.exists_in_store_async(&self.name))
    }

    /// Async [`File::exists_in_store`].
    pub async fn exists_in_store_async(&self) -> Result<bool> {
        self.lake.exists_in_store_async(&self.name).await
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("File").field(&self.name.as_str()).finish()
    }
}

impl fmt::Display for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.name, f)
    }
}

impl PartialEq for File {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for File {}

/// Writes a new file; nothing is visible until [`FileWriter::commit`].
///
/// Bytes go to a staging file in the home and are hashed as they are
/// written. Dropping the writer without committing deletes the staging file
/// and leaves no trace in the lake.
///
/// # Example
/// ```
/// use std::io::Write;
/// use lake_runtime::{Lake, LakeConfigBuilder};
///
/// let dir = tempfile::tempdir()?;
/// let lake = Lake::open_with(LakeConfigBuilder::new().with_home(dir.path()).build()?)?;
/// let mut out = lake.create("reports/summary.txt")?;
/// writeln!(out, "rows: 42")?;
/// let file = out.commit()?;
/// assert_eq!(file.size()?, 9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileWriter {
    lake: Lake,
    name: Name,
    out: BufWriter<std::fs::File>,
    path: tempfile::TempPath,
    hasher: blake3::Hasher,
    size: u64,
    /// The run this writer's output belongs to, captured at creation because
    /// a blocking `commit` may finish on another thread.
    run: Option<std::sync::Arc<crate::run::RunContext>>,
}

impl FileWriter {
    pub(crate) fn new(lake: Lake, name: Name) -> Result<Self> {
        if let Some(run) = crate::run::current_run() {
            run.check_explicit_name(&name)?;
        }
        Self::new_unchecked(lake, name)
    }

    fn new_unchecked(lake: Lake, name: Name) -> Result<Self> {
        let staged = lake.home().stage()?;
        let (file, path) = staged.into_parts();
        Ok(Self {
            lake,
            name,
            out: BufWriter::with_capacity(crate::home::COPY_BUFFER, file),
            path,
            hasher: blake3::Hasher::new(),
            size: 0,
            run: crate::run::current_run(),
        })
    }

    /// The name this writer will commit to.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Makes the file visible in the lake: uploads the content, then creates
    /// the name. Committing identical content to an existing name is a
    /// no-op; different content is refused ([`Error::NameTaken`]).
    pub fn commit(self) -> Result<crate::File> {
        block_on(self.commit_async())
    }

    /// Async [`FileWriter::commit`].
    pub async fn commit_async(mut self) -> Result<crate::File> {
        self.out
            .flush()
            .map_err(|e| Error::io("write", &*self.path, e))?;
        let digest: Digest = self.hasher.finalize().into();
        if let Some(run) = self.run.take() {
            // Inside a run the outputs are committed together, after the
            // body returns, so a failing body leaves nothing visible.
            self.lake.home().install(self.path, &digest, self.size)?;
            run.add_pending(crate::run::ManifestOutput {
                name: self.name.clone(),
                blake3: digest,
                size: self.size,
            });
            return Ok(File::from_parts(self.lake, self.name));
        }
        let lineage = self.lake.added_lineage(None);
        self.lake
            .commit_staged(self.path, digest, self.size, &self.name, lineage)
            .await?;
        Ok(File::from_parts(self.lake, self.name))
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The error names the file: `?` in a creator body turns it into an
        // `Error::UnlabelledIo`, which has no other context.
        let n = self.out.write(buf).map_err(|e| self.naming_file(e))?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush().map_err(|e| self.naming_file(e))
    }
}

impl FileWriter {
    fn naming_file(&self, error: io::Error) -> io::Error {
        io::Error::new(
            error.kind(),
            format!("cannot write {:?}: {error}", self.name),
        )
    }
}

impl fmt::Debug for FileWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWriter")
            .field("name", &self.name.as_str())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}
