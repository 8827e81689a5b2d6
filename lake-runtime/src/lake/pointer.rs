//! Pointer files (issue 13 item 6): a small JSON file standing for a file in
//! a store, handed to other processes or machines instead of the data.
//!
//! Writing one reads the record (no content); resolving one checks that it
//! was written for this lake's store and that the store's record still has
//! the digest and size it names, then returns a lazy [`File`].

use std::path::Path;

use lake_core::{Name, Pointer};

use crate::blocking::block_on;
use crate::store::redact_url;
use crate::{Error, File, Lake, Result};

/// The store URL as a pointer carries it: credentials removed, no trailing
/// slash, so two homes configured for one store write the same string.
fn pointer_store_url(url: &str) -> String {
    redact_url(url).trim_end_matches('/').to_owned()
}

impl Lake {
    /// The store URL as pointers written by this lake name it (credentials
    /// removed).
    pub fn pointer_store(&self) -> String {
        pointer_store_url(&self.config().store_url)
    }

    /// A pointer to `name`: this store's URL (no credentials), the name,
    /// and its record's blake3 and size. Reads the record only.
    ///
    /// # Errors
    /// [`Error::NotFound`] if no such name.
    pub async fn pointer_async(&self, name: &Name) -> Result<Pointer> {
        let record = self.record_async(name).await?;
        Ok(Pointer::new(
            self.pointer_store(),
            record.name,
            record.blake3,
            record.size,
        ))
    }

    /// Blocking [`Lake::pointer_async`].
    pub fn pointer(&self, name: &Name) -> Result<Pointer> {
        block_on(self.pointer_async(name))
    }

    /// The file `pointer` stands for, checked against this lake: the
    /// pointer's store must be this lake's, and the store's record of the
    /// name must have the pointer's blake3 and size. Downloads nothing.
    ///
    /// # Errors
    /// [`Error::Pointer`] naming both stores, or both digests and sizes;
    /// [`Error::NotFound`] if the store has no such name.
    pub async fn resolve_pointer_async(&self, pointer: &Pointer) -> Result<File> {
        self.resolve_pointer_from(pointer, &format!("to {:?}", pointer.name.as_str()))
            .await
    }

    /// Blocking [`Lake::resolve_pointer_async`].
    pub fn resolve_pointer(&self, pointer: &Pointer) -> Result<File> {
        block_on(self.resolve_pointer_async(pointer))
    }

    /// Reads the pointer file at `path` and resolves it
    /// ([`Lake::resolve_pointer_async`]).
    pub async fn file_from_pointer_async(&self, path: &Path) -> Result<File> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| Error::io("read pointer file", path, e))?;
        let pointer = Pointer::from_json(&bytes).map_err(|e| Error::Pointer {
            pointer: path.display().to_string(),
            message: e.to_string(),
        })?;
        self.resolve_pointer_from(&pointer, &path.display().to_string())
            .await
    }

    /// Blocking [`Lake::file_from_pointer_async`].
    pub fn file_from_pointer(&self, path: &Path) -> Result<File> {
        block_on(self.file_from_pointer_async(path))
    }

    async fn resolve_pointer_from(&self, pointer: &Pointer, what: &str) -> Result<File> {
        let ours = self.pointer_store();
        let theirs = pointer_store_url(&pointer.store);
        if theirs != ours {
            return Err(Error::Pointer {
                pointer: what.to_owned(),
                message: format!(
                    "it points into store {theirs}, but this lake's store is {ours}; \
                     resolve it from a home configured for {theirs}"
                ),
            });
        }
        let record = self.record_async(&pointer.name).await?;
        if record.blake3 != pointer.blake3 || record.size != pointer.size {
            return Err(Error::Pointer {
                pointer: what.to_owned(),
                message: format!(
                    "it says {:?} has blake3 {} and {} bytes, but the store's record has \
                     blake3 {} and {} bytes",
                    pointer.name.as_str(),
                    pointer.blake3,
                    pointer.size,
                    record.blake3,
                    record.size
                ),
            });
        }
        Ok(File::from_parts(self.clone(), pointer.name.clone()))
    }
}

impl File {
    /// The file a pointer file stands for, in the current lake
    /// ([`Lake::current`]); see [`Lake::resolve_pointer_async`]. Nothing is
    /// downloaded until the file is opened.
    ///
    /// # Example
    /// ```
    /// # use std::io::Write;
    /// use lake_runtime::File;
    ///
    /// let lake = lake_runtime::Lake::temporary()?;
    /// let mut w = lake.create("raw/a.csv")?;
    /// w.write_all(b"x,y\n")?;
    /// let file = w.commit()?;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("a.lake.json");
    /// file.write_pointer(&path)?;
    ///
    /// // Elsewhere, on any home configured for the same store:
    /// let again = File::from_pointer(&path)?;
    /// assert_eq!(again.read_to_string()?, "x,y\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pointer(path: impl AsRef<Path>) -> Result<File> {
        Lake::current()?.file_from_pointer(path.as_ref())
    }

    /// This file's pointer ([`Lake::pointer_async`]).
    pub fn pointer(&self) -> Result<lake_core::Pointer> {
        self.lake().pointer(self.name())
    }

    /// Writes this file's pointer to `path` (atomically: a temporary file
    /// beside it, then a rename).
    pub fn write_pointer(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.pointer()?.to_json();
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("write in", dir, e))?;
        std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| Error::io("write", path, e))?;
        tmp.persist(path)
            .map_err(|e| Error::io("write", path, e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn add(lake: &Lake, bytes: &[u8]) -> File {
        let mut w = lake.create("raw/a.csv").unwrap();
        w.write_all(bytes).unwrap();
        w.commit().unwrap()
    }

    #[test]
    fn pointer_round_trip_across_two_homes() {
        let a = Lake::temporary().unwrap();
        let file = add(&a, b"x,y\n1,2\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        file.write_pointer(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"schema_version\": 1"), "{text}");

        let b = a.second_machine().unwrap();
        let resolved = File::from_pointer(&path).unwrap();
        assert_eq!(resolved.lake().home_dir(), b.home_dir());
        assert!(!resolved.exists_locally().unwrap());
        assert_eq!(resolved.read_to_string().unwrap(), "x,y\n1,2\n");
    }

    #[test]
    fn tampered_pointer_is_refused_naming_both_digests() {
        let a = Lake::temporary().unwrap();
        let file = add(&a, b"x,y\n");
        let mut pointer = file.pointer().unwrap();
        let real = pointer.blake3;
        pointer.blake3 = lake_core::Digest::of(b"other");
        let err = a.resolve_pointer(&pointer).unwrap_err().to_string();
        assert!(err.contains(&real.to_string()), "{err}");
        assert!(err.contains(&pointer.blake3.to_string()), "{err}");

        let mut pointer = file.pointer().unwrap();
        pointer.size += 1;
        let err = a.resolve_pointer(&pointer).unwrap_err().to_string();
        assert!(err.contains("5 bytes") && err.contains("4 bytes"), "{err}");
    }

    #[test]
    fn pointer_for_another_store_is_refused_naming_it() {
        let a = Lake::temporary().unwrap();
        let mut pointer = add(&a, b"x").pointer().unwrap();
        pointer.store = "s3://elsewhere/lake".into();
        let err = a.resolve_pointer(&pointer).unwrap_err().to_string();
        assert!(err.contains("s3://elsewhere/lake"), "{err}");
        assert!(err.contains(&a.pointer_store()), "{err}");
    }

    #[test]
    fn pointer_store_url_has_no_credentials() {
        let url = pointer_store_url("https://user:hunter2@example.com/lake/");
        assert!(!url.contains("hunter2"), "{url}");
        assert!(!url.ends_with('/'), "{url}");
    }
}
