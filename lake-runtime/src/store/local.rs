//! [`LocalBackend`]: a store in a local directory (`file://`).
//!
//! `object_store`'s `LocalFileSystem` does the reads, listings and
//! conditional creates. It has no compare-and-swap, so this module adds one
//! with advisory file locks, and it uploads files by a streaming copy
//! instead of through memory.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use lake_core::{
    GetStream, ListPage, ObjectMeta, ObjectVersion, PutMode, Store, StoreConfigError, StoreError,
    StorePath,
};
use object_store::local::LocalFileSystem;

use super::object::{ObjectBackend, to_path};

/// Directory under the root that holds the lock files; hidden from listings.
pub const LOCKS_DIR: &str = ".lake-locks";

/// Number of lock files. Keys hash onto these stripes, so the directory stays
/// bounded however many keys are written; two keys sharing a stripe only
/// serialize their (short) writes.
const LOCK_STRIPES: usize = 256;

/// A [`Store`] in a local directory, safe for several processes at once.
///
/// # Concurrency
/// - `put` with [`PutMode::Create`] publishes with a hard link, which fails
///   atomically if the key exists.
/// - `put` with [`PutMode::Update`], [`PutMode::Overwrite`], `put_file` and
///   `delete` hold an exclusive lock (`flock`) on one of the lock files under
///   [`LOCKS_DIR`], so an update's check of the current version and its
///   rename happen with no other writer in between. Locks are advisory and
///   need a filesystem with working `flock` (not every NFS mount has it).
/// - Every write lands in a staging file next to its destination (named
///   `<file>#<digits>`, which listings skip) and is renamed into place, so a
///   reader never sees a partial object.
///
/// `put_file` of a read-only source on the same filesystem (a home's cached
/// blob, which is how lake calls it) publishes a hard link instead of a
/// copy: the default store lives inside the home, and a second copy of
/// every file would double both the disk used and the time `lake add`
/// takes. Any other source is copied (reflinked where the filesystem can),
/// so a file that may still change never shares an inode with the store.
#[derive(Clone)]
pub struct LocalBackend {
    root: PathBuf,
    fs: Arc<LocalFileSystem>,
    object: ObjectBackend,
    fsync_files: bool,
}

impl LocalBackend {
    /// Opens (creating it if missing) the store rooted at the directory `root`.
    pub fn open(root: &FsPath) -> Result<Self, StoreError> {
        let config = |source: StoreConfigError| StoreError::Config {
            url: format!("file://{}", root.display()),
            source,
        };
        std::fs::create_dir_all(root.join(LOCKS_DIR)).map_err(|source| {
            config(StoreConfigError::CreateDir {
                path: root.to_owned(),
                source,
            })
        })?;
        let root = root.canonicalize().map_err(|source| {
            config(StoreConfigError::ResolvePath {
                path: root.to_owned(),
                source,
            })
        })?;
        let fs = Arc::new(LocalFileSystem::new_with_prefix(&root).map_err(|e| {
            config(StoreConfigError::Builder {
                reason: e.to_string(),
            })
        })?);
        let object = ObjectBackend::new(fs.clone(), &format!("file://{}", root.display()))
            .with_unsorted_listing()
            .with_hidden_prefix(LOCKS_DIR);
        Ok(Self {
            root,
            fs,
            object,
            fsync_files: false,
        })
    }

    /// Whether `put_file` fsyncs each uploaded file before publishing it
    /// (store option `local_fsync`; off by default). Off, a power loss can
    /// leave a published blob short; reads hash every byte, so that shows
    /// as a refused download and `lake verify --store` names it, never as
    /// wrong content, and `lake verify --store --repair` restores it from a
    /// home's copy. On, every file costs a disk flush: `add -r` of many
    /// small files becomes several times slower.
    pub fn with_fsync(mut self, fsync_files: bool) -> Self {
        self.fsync_files = fsync_files;
        self
    }

    /// The store's root directory, absolute.
    pub fn root(&self) -> &FsPath {
        &self.root
    }

    /// Takes the write lock of `key`'s stripe; dropping the file releases it.
    async fn lock(&self, key: &StorePath) -> Result<std::fs::File, StoreError> {
        let stripe = blake3::hash(key.as_str().as_bytes()).as_bytes()[0] as usize % LOCK_STRIPES;
        let lock_path = self.root.join(LOCKS_DIR).join(format!("{stripe:02x}.lock"));
        self.blocking("lock", key, move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .and_then(|file| file.lock().map(|()| file));
            file.map_err(|e| (lock_path, e))
        })
        .await
    }

    /// Runs `work` of `operation` on `key` on the blocking pool. Its I/O
    /// error names the local file it concerns.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        key: &StorePath,
        work: impl FnOnce() -> Result<T, (PathBuf, io::Error)> + Send + 'static,
    ) -> Result<T, StoreError> {
        let errors = self.object.errors();
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err((file, e))) => Err(errors.io(operation, key.as_str(), &file, &e)),
            Err(e) => Err(errors.backend(operation, key.as_str(), &e.to_string())),
        }
    }

    async fn put_locked(
        &self,
        path: &StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> Result<ObjectVersion, StoreError> {
        let expected = match mode {
            // The hard link that publishes a create is atomic on its own.
            PutMode::Create => return self.object.put_inner(path, bytes, mode).await,
            PutMode::Overwrite => None,
            PutMode::Update(version) => Some(version),
        };
        let dest = self.dest(path)?;
        let _lock = self.lock(path).await?;
        if let Some(expected) = expected {
            // Missing key: NotFound, per the contract.
            let current = self.object.head_inner(path).await?;
            if expected.e_tag.is_none() || current.version.e_tag != expected.e_tag {
                return Err(StoreError::Precondition {
                    path: path.to_string(),
                    store: self.object.to_string(),
                });
            }
        }
        self.blocking("put", path, move || {
            write_into_place(&bytes, &dest).map_err(|e| (dest, e))
        })
        .await?;
        // Still under the lock, so this is the version just written, in the
        // e-tag format `LocalFileSystem` uses for head and get.
        Ok(self.object.head_inner(path).await?.version)
    }

    /// The file that holds `path`.
    fn dest(&self, path: &StorePath) -> Result<PathBuf, StoreError> {
        self.fs
            .path_to_filesystem(&to_path(path)?)
            .map_err(|_| StoreError::InvalidPath {
                path: path.to_string(),
            })
    }

    async fn put_file_locked(&self, path: &StorePath, file: &FsPath) -> Result<(), StoreError> {
        let fsync = self.fsync_files;
        // No lock for a link to a missing key: a link never replaces an
        // object, so it cannot slip between an update's check and rename.
        if self
            .put_file_blocking(path, file, move |source, dest| {
                link_new(source, dest, fsync)
            })
            .await?
        {
            return Ok(());
        }
        let _lock = self.lock(path).await?;
        self.put_file_blocking(path, file, move |source, dest| {
            copy_into_place(source, dest, fsync).map(|()| true)
        })
        .await
        .map(drop)
    }

    /// Runs `publish(source, dest)` of a `put_file` on the blocking pool.
    async fn put_file_blocking(
        &self,
        path: &StorePath,
        file: &FsPath,
        publish: impl FnOnce(&FsPath, &FsPath) -> io::Result<bool> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let dest = self.dest(path)?;
        let source = file.to_owned();
        self.blocking("put_file", path, move || {
            publish(&source, &dest).map_err(|e| (source, e))
        })
        .await
    }

    /// [`Store::put_stream`]: the chunks go into a staging file next to the
    /// destination (fsynced if asked), renamed into place under the lock.
    async fn put_stream_locked(
        &self,
        path: &StorePath,
        mut chunks: BoxStream<'_, io::Result<Bytes>>,
    ) -> Result<u64, StoreError> {
        use tokio::io::AsyncWriteExt;
        let dest = self.dest(path)?;
        let errors = self.object.errors().clone();
        let io_error =
            |file: &FsPath, e: io::Error| errors.io("put_stream", path.as_str(), file, &e);
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error(parent, e))?;
        }
        let staging = staging_path(&dest);
        let written: Result<u64, StoreError> = async {
            let mut out = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&staging)
                .await
                .map_err(|e| io_error(&staging, e))?;
            let mut size = 0;
            while let Some(chunk) = chunks.next().await {
                let chunk = chunk.map_err(|e| {
                    errors.backend(
                        "put_stream",
                        path.as_str(),
                        &format!("the stream failed: {e}"),
                    )
                })?;
                out.write_all(&chunk)
                    .await
                    .map_err(|e| io_error(&staging, e))?;
                size += chunk.len() as u64;
            }
            out.flush().await.map_err(|e| io_error(&staging, e))?;
            if self.fsync_files {
                out.sync_all().await.map_err(|e| io_error(&staging, e))?;
            }
            Ok(size)
        }
        .await;
        let renamed = match written {
            Ok(size) => {
                let _lock = self.lock(path).await?;
                tokio::fs::rename(&staging, &dest)
                    .await
                    .map(|()| size)
                    .map_err(|e| io_error(&dest, e))
            }
            Err(e) => Err(e),
        };
        if renamed.is_err() {
            let _ = tokio::fs::remove_file(&staging).await;
        }
        renamed
    }

    /// [`Store::copy`]: a hard link where it can. Every write publishes a
    /// new file by rename, never changing one in place, so two keys may
    /// share an inode.
    async fn copy_locked(&self, from: &StorePath, to: &StorePath) -> Result<(), StoreError> {
        let source = self.dest(from)?;
        if tokio::fs::symlink_metadata(&source).await.is_err() {
            return Err(StoreError::NotFound {
                path: from.to_string(),
                store: self.to_string(),
            });
        }
        let dest = self.dest(to)?;
        let fsync = self.fsync_files;
        let _lock = self.lock(to).await?;
        self.blocking("copy", to, move || {
            publish_via_staging(&dest, |staging| {
                match std::fs::hard_link(&source, staging) {
                    Err(e) if is_cross_device_or_unsupported(&e) => {
                        std::fs::copy(&source, staging).map(drop)
                    }
                    linked => linked,
                }
            })
            .and_then(|()| {
                if fsync {
                    std::fs::File::open(&dest)?.sync_all()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| (dest, e))
        })
        .await
    }

    async fn delete_locked(&self, path: &StorePath) -> Result<(), StoreError> {
        // Without the lock, an update that already checked the version could
        // rename its staging file over the deleted key and resurrect it.
        let _lock = self.lock(path).await?;
        self.object.delete_inner(path).await
    }
}

/// A fresh staging path next to `dest`: `<file>#<digits>`, which
/// `LocalFileSystem` never lists, so a crash leaves nothing visible.
fn staging_path(dest: &FsPath) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = dest.file_name().unwrap_or_default().to_owned();
    name.push(format!("#{}{n:06}", std::process::id()));
    dest.with_file_name(name)
}

/// Publishes a read-only `source` at a missing `dest` with one hard link:
/// its content is final, so the link makes it visible whole at once.
/// Where `dest` already is this very file, only its age is renewed (`lake
/// gc` judges orphans by age). `Ok(false)`: this does not apply (a
/// writable source, another object at `dest`, or no hard links across the
/// two paths), and the caller must publish by staging instead.
fn link_new(source: &FsPath, dest: &FsPath, fsync: bool) -> io::Result<bool> {
    let meta = regular_file_metadata(source)?;
    if !meta.permissions().readonly() {
        return Ok(false);
    }
    if fsync {
        std::fs::File::open(source)?.sync_all()?;
    }
    let mut linked = std::fs::hard_link(source, dest);
    if let Err(e) = &linked
        && e.kind() == io::ErrorKind::NotFound
        && let Some(parent) = dest.parent()
    {
        std::fs::create_dir_all(parent)?;
        linked = std::fs::hard_link(source, dest);
    }
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            use std::os::unix::fs::MetadataExt;
            match std::fs::metadata(dest) {
                Ok(existing) if (existing.dev(), existing.ino()) == (meta.dev(), meta.ino()) => {
                    std::fs::File::open(dest)?.set_modified(SystemTime::now())?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        }
        Err(e) if is_cross_device_or_unsupported(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The metadata of `path`, or a clear error if it is not a regular file.
fn regular_file_metadata(path: &FsPath) -> io::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        Ok(meta)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Publishes `source` at `dest` atomically: link or copy it into a staging
/// file (fsynced if asked), then rename that over `dest`.
fn copy_into_place(source: &FsPath, dest: &FsPath, fsync: bool) -> io::Result<()> {
    // Fail early and clearly on a missing source instead of in the copy.
    let meta = regular_file_metadata(source)?;
    // Only a read-only source is linked: lake never makes a file read-only
    // before its content is final, so the shared inode cannot change under
    // the store without someone first undoing that on purpose.
    if meta.permissions().readonly() {
        let linked = publish_via_staging(dest, |staging| {
            std::fs::hard_link(source, staging)?;
            if fsync {
                std::fs::File::open(staging)?.sync_all()?;
            }
            Ok(())
        });
        match linked {
            Ok(()) => return Ok(()),
            // Another filesystem, or one without hard links: copy instead.
            Err(e) if is_cross_device_or_unsupported(&e) => {}
            Err(e) => return Err(e),
        }
    }
    // `io::copy` uses copy_file_range, which reflinks where it can.
    publish_via_staging(dest, |staging| {
        let mut out = std::fs::File::create_new(staging)?;
        io::copy(&mut std::fs::File::open(source)?, &mut out)?;
        if fsync { out.sync_all() } else { Ok(()) }
    })
}

/// Whether a failed hard link means "these two paths cannot share an
/// inode", as opposed to a real I/O failure.
fn is_cross_device_or_unsupported(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::CrossesDevices
            | io::ErrorKind::Unsupported
            | io::ErrorKind::PermissionDenied
            | io::ErrorKind::TooManyLinks
    )
}

/// Writes `bytes` to a staging file and renames it over `dest`.
///
/// The e-tag of a local object is inode, mtime and size. A freed inode can be
/// reused at once, and kernels stamp mtimes from a coarse clock, so a write
/// could repeat an earlier e-tag of the same key and let a stale
/// compare-and-swap through. Writes of one key are serialized by its lock,
/// so giving each an mtime strictly after the previous one rules that out.
fn write_into_place(bytes: &[u8], dest: &FsPath) -> io::Result<()> {
    let now = SystemTime::now();
    let mtime = match std::fs::metadata(dest).and_then(|m| m.modified()) {
        Ok(previous) => now.max(previous + Duration::from_micros(1)),
        Err(_) => now,
    };
    publish_via_staging(dest, |staging| {
        let mut out = std::fs::File::create_new(staging)?;
        out.write_all(bytes)?;
        out.set_modified(mtime)?;
        out.sync_all()
    })
}

/// Has `fill` create a fresh staging file beside `dest` (failing with
/// `AlreadyExists` if the name is taken), then renames it over `dest`, so
/// readers see the old object or the whole new one. A failed fill or
/// rename removes the staging file.
fn publish_via_staging(
    dest: &FsPath,
    mut fill: impl FnMut(&FsPath) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    for _ in 0..100 {
        let staging = staging_path(dest);
        let published = match fill(&staging) {
            // A leftover of a crashed process: pick another name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            filled => filled.and_then(|()| std::fs::rename(&staging, dest)),
        };
        // A rename onto a hard link of the same inode does nothing and
        // leaves the staging name behind; it must not linger either.
        if published.is_err() || std::fs::symlink_metadata(&staging).is_ok() {
            let _ = std::fs::remove_file(&staging);
        }
        return published;
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free staging file name",
    ))
}

impl fmt::Display for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.object, f)
    }
}

impl fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBackend")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Store for LocalBackend {
    fn head<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        self.object.head(path)
    }

    fn get<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.object.get(path)
    }

    fn get_range<'a>(
        &'a self,
        path: &'a StorePath,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        self.object.get_range(path, range)
    }

    fn put<'a>(
        &'a self,
        path: &'a StorePath,
        bytes: Bytes,
        mode: PutMode,
    ) -> BoxFuture<'a, Result<ObjectVersion, StoreError>> {
        self.put_locked(path, bytes, mode).boxed()
    }

    fn put_file<'a>(
        &'a self,
        path: &'a StorePath,
        file: &'a FsPath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.put_file_locked(path, file).boxed()
    }

    fn list<'a>(
        &'a self,
        prefix: &'a StorePath,
        after: Option<&'a StorePath>,
        limit: usize,
    ) -> BoxFuture<'a, Result<ListPage, StoreError>> {
        self.object.list(prefix, after, limit)
    }

    fn delete<'a>(&'a self, path: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>> {
        self.delete_locked(path).boxed()
    }

    fn put_stream<'a>(
        &'a self,
        path: &'a StorePath,
        chunks: BoxStream<'a, io::Result<Bytes>>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.put_stream_locked(path, chunks).boxed()
    }

    fn copy<'a>(
        &'a self,
        from: &'a StorePath,
        to: &'a StorePath,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.copy_locked(from, to).boxed()
    }
}
