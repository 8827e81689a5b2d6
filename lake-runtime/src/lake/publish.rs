//! The commit protocol, whole: every write that makes content visible
//! under a name goes through this file.
//!
//! 1. Upload the blob (content-addressed, so rewriting is harmless).
//! 2. Create the name record with a conditional create (`PutMode::Create`):
//!    a name never points at missing bytes, and concurrent writers agree on
//!    one winner. If the name exists, read the winner and compare.
//! 3. For a run, create the run manifest last, the same way: a manifest
//!    never lists a name that is missing, and a crash before it leaves at
//!    most unreferenced blobs (for `lake gc`) or complete name records (the
//!    next call finishes the run).
//!
//! Adds come in through [`Lake::commit_staged`] and `publish_added`, runs
//! through [`Lake::publish_run`]; `run/commit.rs` only prepares what a run
//! publishes.

use std::path::Path;

use bytes::Bytes;
use chrono::Utc;
use lake_core::{
    Digest, Lineage, Name, ObjectVersion, PackedRecord, PutMode, RECORD_SCHEMA_VERSION, Record,
    StoreError, StorePath,
};

use super::AddOutcome;
use super::stage::SMALL_FILE;
use crate::home::hash_own_file;
use crate::{Error, Lake, Result};
use lake_core::{ManifestOutput, RunManifest};

/// One output of a finished run, ready to publish: its content is already
/// the home's local copy of `digest`.
pub(crate) struct RunOutput {
    pub(crate) name: Name,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    pub(crate) lineage: Lineage,
}

/// A new name to publish, with where its content is.
pub(super) struct Publication<'a> {
    pub(super) name: &'a Name,
    pub(super) digest: Digest,
    pub(super) size: u64,
    /// What the blob is made from.
    pub(super) content: BlobSource<'a>,
    pub(super) lineage: Lineage,
}

/// Where a new name's content is, to make its blob from.
#[derive(Debug, Clone, Copy)]
pub(super) enum BlobSource<'a> {
    /// The installed local copy, uploaded.
    Local(&'a Path),
    /// An object already in the store (a streamed upload), copied to the
    /// blob inside the store. It must outlive the publication: the blob is
    /// made from it again if it went away under the new record.
    Uploaded(&'a StorePath),
}

/// What [`Lake::publish`] found.
enum Published {
    /// This call created the name record; the store gave it this e-tag.
    Created(Record, Option<String>),
    /// The name already had this record (an earlier or concurrent writer).
    Existing(Record),
}

impl Lake {
    /// Publishes a finished run: each output's blob, then its name record,
    /// in order, then the run manifest built by `manifest` from the records
    /// that ended up in the store.
    ///
    /// A name that already exists (an earlier, interrupted run or a
    /// concurrent one) keeps its record: the first commit wins. But a
    /// `forced` re-run exists to check the step, so bytes that differ from
    /// what other homes trust are an error. `accept` may refuse each final
    /// record (an explicit output name taken by another call); a refusal
    /// stops the run before its manifest is written.
    pub(crate) async fn publish_run(
        &self,
        outputs: Vec<RunOutput>,
        forced: bool,
        accept: impl Fn(&Record) -> Result<()>,
        manifest: impl FnOnce(Vec<ManifestOutput>) -> RunManifest,
    ) -> Result<RunManifest> {
        let mut committed = Vec::with_capacity(outputs.len());
        for output in outputs {
            let record = self
                .commit_output(&output.name, output.digest, output.size, output.lineage)
                .await?;
            if forced && record.blake3 != output.digest {
                return Err(Error::NameTaken {
                    name: record.name,
                    existing: record.blake3,
                    offered: output.digest,
                });
            }
            accept(&record)?;
            committed.push(ManifestOutput {
                name: record.name.clone(),
                blake3: record.blake3,
                size: record.size,
            });
        }
        self.commit_manifest(manifest(committed)).await
    }

    /// Commits staged content as `name`: blob first, then the name record
    /// with a conditional create, so a name never points at missing bytes
    /// and concurrent writers agree on one winner.
    pub(crate) async fn commit_staged(
        &self,
        staged: tempfile::TempPath,
        digest: Digest,
        size: u64,
        name: &Name,
        lineage: Lineage,
    ) -> Result<AddOutcome> {
        if let Some(existing) = self.try_record(name).await? {
            return self.same_content(existing, digest, name, staged, size);
        }
        self.check_nesting(name, true).await?;
        self.check_tombstone(name, digest, true).await?;
        let local = self.inner.home.install(staged, &digest, size)?;
        self.publish_added(Publication {
            name,
            digest,
            size,
            content: BlobSource::Local(&local),
            lineage,
        })
        .await
        .map(|(outcome, _)| outcome)
    }

    /// Publishes the installed local copy `local` as the new name `name`.
    /// If this call created the record and the store gave it an e-tag, the
    /// record comes back with it, for a record pack.
    pub(super) async fn publish_added(
        &self,
        new: Publication<'_>,
    ) -> Result<(AddOutcome, Option<PackedRecord>)> {
        let (name, digest, size) = (new.name, new.digest, new.size);
        let (outcome, packed) = match self.publish(new).await? {
            Published::Created(record, e_tag) => (
                AddOutcome::of(&record, true),
                e_tag.map(|e_tag| PackedRecord { e_tag, record }),
            ),
            // Lost a race: the winner's record stands if it has our bytes.
            Published::Existing(existing) if existing.blake3 != digest => {
                return Err(Error::NameTaken {
                    name: name.clone(),
                    existing: existing.blake3,
                    offered: digest,
                });
            }
            Published::Existing(record) => (AddOutcome::of(&record, false), None),
        };
        tracing::debug!(%name, blake3 = %digest, size, "committed");
        Ok((outcome, packed))
    }

    /// Uploads the blob at `local`, then creates the name record with a
    /// conditional create, so a name never points at missing bytes and
    /// concurrent writers agree on one winner. The record that ends up in
    /// the store is also put in the index.
    async fn publish(&self, new: Publication<'_>) -> Result<Published> {
        let Publication {
            name,
            digest,
            size,
            content,
            lineage,
        } = new;
        self.upload_blob(&digest, size, content).await?;
        let record = Record {
            schema_version: RECORD_SCHEMA_VERSION,
            name: name.clone(),
            blake3: digest,
            size,
            created_at: Utc::now(),
            lineage,
        };
        let path = StorePath::name_record(name);
        match self.create_once(&path, record.to_json()).await? {
            Ok(version) => {
                self.ensure_blob(&digest, content).await?;
                self.index().insert(&record)?;
                Ok(Published::Created(record, version.e_tag))
            }
            Err(taken) => {
                let existing = self
                    .fetch_record_from_store(name)
                    .await?
                    .ok_or_else(|| Error::Store(taken))?;
                if existing.blake3 == digest {
                    self.ensure_blob(&digest, content).await?;
                }
                self.index().insert(&existing)?;
                Ok(Published::Existing(existing))
            }
        }
    }

    /// The blob once more, after the record that holds it exists: a
    /// concurrent `rm` of another name with these bytes may have deleted
    /// it between the upload and the record (it lists the names before it
    /// deletes, and this record was not there yet). Then it is uploaded
    /// again. An `rm` that deletes it after this check lists the names
    /// again and puts it back itself (docs/design/0010-removal.md).
    async fn ensure_blob(&self, digest: &Digest, content: BlobSource<'_>) -> Result<()> {
        let path = StorePath::blob(digest);
        match self.inner.store.head(&path).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => {
                tracing::info!(%digest, "the blob went away under a new record; uploading it again");
                match content {
                    BlobSource::Local(local) => self.inner.store.put_file(&path, local).await?,
                    BlobSource::Uploaded(object) => self.inner.store.copy(object, &path).await?,
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Creates `path` holding `bytes` unless it exists: `Ok(version)` if
    /// this call created it, `Err(already_exists)` if another writer did
    /// first (the caller reads the winner, and reports this error if the
    /// winner is gone again).
    async fn create_once(
        &self,
        path: &StorePath,
        bytes: Vec<u8>,
    ) -> Result<std::result::Result<ObjectVersion, StoreError>> {
        match self
            .inner
            .store
            .put(path, Bytes::from(bytes), PutMode::Create)
            .await
        {
            Ok(version) => Ok(Ok(version)),
            Err(e) if e.is_already_exists() => Ok(Err(e)),
            Err(e) => Err(e.into()),
        }
    }

    fn same_content(
        &self,
        existing: Record,
        digest: Digest,
        name: &Name,
        staged: tempfile::TempPath,
        size: u64,
    ) -> Result<AddOutcome> {
        if existing.blake3 != digest {
            return Err(Error::NameTaken {
                name: name.clone(),
                existing: existing.blake3,
                offered: digest,
            });
        }
        // Same bytes: keep them as the local copy if none is cached yet.
        self.inner.home.install(staged, &digest, size)?;
        Ok(AddOutcome::of(&existing, false))
    }

    async fn upload_blob(&self, digest: &Digest, size: u64, content: BlobSource<'_>) -> Result<()> {
        let local = match content {
            BlobSource::Local(local) => local,
            BlobSource::Uploaded(object) => return self.copy_to_blob(digest, size, object).await,
        };
        let path = StorePath::blob(digest);
        // The local copy was hashed when it was staged; a copy of another
        // size since then would upload bytes that are not `digest`.
        let local_size = std::fs::metadata(local)
            .map_err(|e| Error::io("read metadata of", local, e))?
            .len();
        if local_size != size {
            return Err(Error::Corrupt {
                what: format!("local copy {}", local.display()),
                expected: *digest,
                actual: hash_own_file(local)?.0,
            });
        }
        if size <= SMALL_FILE {
            // One unconditional put of the same bytes costs less than a
            // head first, and rewriting renews the blob's age for gc.
            self.inner.store.put_file(&path, local).await?;
            return Ok(());
        }
        if !self.reusable_blob(&path, size).await? {
            self.inner.store.put_file(&path, local).await?;
        }
        Ok(())
    }

    /// True if the blob at `path` can stand for new content of `size`
    /// bytes without writing it again. Content-addressed: same key and size
    /// means the same bytes (a tampered blob is `verify --store`'s job, not
    /// every add's). An old blob may be an orphan that a concurrent `lake
    /// gc` is about to delete, so it is written again, which renews its age.
    async fn reusable_blob(&self, path: &StorePath, size: u64) -> Result<bool> {
        match self.inner.store.head(path).await {
            Ok(meta) => Ok(meta.size == size
                && Utc::now().signed_duration_since(meta.last_modified)
                    < chrono::Duration::from_std(super::gc::BLOB_REUSE_MAX_AGE)
                        .expect("constant fits")),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The blob of `digest` from the uploaded object `object`: reused as in
    /// `upload_blob`, else copied inside the store.
    async fn copy_to_blob(&self, digest: &Digest, size: u64, object: &StorePath) -> Result<()> {
        let path = StorePath::blob(digest);
        if !self.reusable_blob(&path, size).await? {
            self.inner.store.copy(object, &path).await?;
        }
        Ok(())
    }

    /// Commits one run output whose content is already in the home: uploads
    /// the blob, then creates the name record. If the name already exists
    /// (an earlier, interrupted run or a concurrent one), its record wins.
    async fn commit_output(
        &self,
        name: &Name,
        digest: Digest,
        size: u64,
        lineage: Lineage,
    ) -> Result<Record> {
        let local = self.inner.home.blob_path(&digest);
        let new = Publication {
            name,
            digest,
            size,
            content: BlobSource::Local(&local),
            lineage,
        };
        match self.publish(new).await? {
            Published::Created(record, _) => Ok(record),
            Published::Existing(existing) => {
                if existing.blake3 != digest {
                    tracing::warn!(
                        %name,
                        "output already committed with other content by an earlier or concurrent run; keeping it"
                    );
                }
                Ok(existing)
            }
        }
    }

    /// Creates the run manifest, the last step of a run. If another process
    /// finished the same run first, its manifest wins and is returned.
    async fn commit_manifest(&self, manifest: RunManifest) -> Result<RunManifest> {
        let key = manifest.key.to_hex();
        let path = StorePath::run_manifest(&key);
        let json = manifest.to_json();
        match self.create_once(&path, json.clone()).await? {
            Ok(_) => {
                self.index()
                    .insert_run_manifest(&key, &String::from_utf8_lossy(&json))?;
                self.remember_run(&manifest);
                Ok(manifest)
            }
            Err(taken) => Ok(self
                .run_manifest(&manifest.key)
                .await?
                .ok_or_else(|| Error::Store(taken))?),
        }
    }
}
