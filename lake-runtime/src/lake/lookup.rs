//! Record and run-manifest lookups: the in-process memo first, then the
//! home's index, then the store.
//!
//! Two ways to ask for a name's content: [`Lake::try_record`] (index, else
//! the store) and [`Lake::indexed_content`] (memo or index only, never a
//! request, for the warm hit path and for `add -r` after a refresh).

use std::sync::Arc;

use bytes::Bytes;
use lake_core::key::RunKey;
use lake_core::{Digest, Lineage, Name, Record, RunManifest, StoreExt, StorePath};

use crate::blocking::block_on;
use crate::{Error, Lake, Result};

impl Lake {
    /// The record of `name`, from the index or else the store.
    pub async fn record_async(&self, name: &Name) -> Result<Record> {
        self.upload_if_local_source(name).await?;
        self.try_record(name).await?.ok_or_else(|| Error::NotFound {
            name: name.clone(),
            store: self.store_display(),
        })
    }

    /// Blocking [`Lake::record_async`].
    pub fn record(&self, name: &Name) -> Result<Record> {
        block_on(self.record_async(name))
    }

    pub(crate) async fn try_record(&self, name: &Name) -> Result<Option<Record>> {
        if let Some(record) = self.index().get(name)? {
            self.remember_digest(&record);
            return Ok(Some(record));
        }
        let Some(record) = self.fetch_record_from_store(name).await? else {
            return Ok(None);
        };
        // Caching the record is a favour to the next read: a read must not
        // fail because the index cannot be written (a full disk).
        if let Err(e) = self.index().insert(&record) {
            tracing::debug!(%name, error = %e, "could not cache the record in the index");
        }
        self.remember_digest(&record);
        Ok(Some(record))
    }

    fn remember_digest(&self, record: &Record) {
        self.memo()
            .digests
            .insert(record.name.clone(), (record.blake3, record.size));
    }

    /// The digest of `name` from the in-process memo: set once this process
    /// has seen its record.
    pub(crate) fn memo_digest(&self, name: &Name) -> Option<Digest> {
        self.memo().digests.get(name).map(|(digest, _)| *digest)
    }

    /// Digest and size of `name` without parsing its record, from the memo
    /// or the index only: never a store request. Callers on the warm hit
    /// path read an error as "unknown" and take the slow path, which
    /// reports it.
    pub(crate) fn indexed_content(&self, name: &Name) -> Result<Option<(Digest, u64)>> {
        if let Some(entry) = self.memo().digests.get(name) {
            return Ok(Some(*entry));
        }
        let entry = self.index().content_of(name)?;
        if let Some(entry) = entry {
            self.memo().digests.insert(name.clone(), entry);
        }
        Ok(entry)
    }

    /// The outputs of run `key` if this process has already seen its manifest.
    pub(crate) fn memo_run(&self, key: &RunKey) -> Option<Arc<[Name]>> {
        self.memo().runs.get(key).cloned()
    }

    /// The outputs of run `key` from the memo or the index, without the store.
    pub(crate) fn indexed_run(&self, key: &RunKey) -> Option<Arc<[Name]>> {
        if let Some(names) = self.memo_run(key) {
            return Some(names);
        }
        let json = self.index().run_manifest(&key.to_hex()).ok()??;
        let manifest = RunManifest::from_json_for(json.as_bytes(), key).ok()?;
        self.remember_run(&manifest);
        self.memo_run(key)
    }

    /// The key of the run that made `name` (`Some(None)`: `name` was added,
    /// not made by a run), from the memo or the index, without the store;
    /// `None` if this home does not know the name. Index errors read as
    /// unknown: the caller then takes the slow path, which reports them.
    pub(crate) fn indexed_maker(&self, name: &Name) -> Option<Option<RunKey>> {
        if let Some(maker) = self.memo().made_by.get(name) {
            return Some(*maker);
        }
        let record = self.index().get(name).ok()??;
        self.remember_digest(&record);
        Some(self.remember_maker(&record))
    }

    /// [`Lake::indexed_maker`] from the in-process memo alone.
    pub(crate) fn memo_maker(&self, name: &Name) -> Option<Option<RunKey>> {
        self.memo().made_by.get(name).copied()
    }

    fn remember_maker(&self, record: &Record) -> Option<RunKey> {
        let maker = match &record.lineage {
            Lineage::Created(run) => run.run_key.parse().ok(),
            _ => None,
        };
        self.memo().made_by.insert(record.name.clone(), maker);
        maker
    }

    /// The record of `name` as the store has it now, bypassing the index,
    /// which it then corrects: a name deleted from the store (as a refusal
    /// of an explicit output name suggests) is forgotten.
    pub(crate) async fn record_from_store(&self, name: &Name) -> Result<Option<Record>> {
        match self.fetch_record_from_store(name).await? {
            Some(record) => {
                self.index().insert(&record)?;
                self.remember_digest(&record);
                self.remember_maker(&record);
                Ok(Some(record))
            }
            None => {
                self.index()
                    .apply_refresh(&[], std::slice::from_ref(name), false)?;
                let mut memo = self.memo();
                memo.digests.remove(name);
                memo.made_by.remove(name);
                Ok(None)
            }
        }
    }

    pub(super) fn remember_run(&self, manifest: &RunManifest) {
        let names: Arc<[Name]> = manifest.outputs.iter().map(|o| o.name.clone()).collect();
        self.memo().runs.insert(manifest.key, names);
    }

    pub(super) async fn fetch_record_from_store(&self, name: &Name) -> Result<Option<Record>> {
        let path = StorePath::name_record(name);
        let bytes = match self.get_small(&path).await {
            Ok(bytes) => bytes,
            Err(Error::Store(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let record = Record::from_json(&bytes).map_err(decoding("name record", &path))?;
        if &record.name != name {
            return Err(Error::StoreInconsistent {
                store: self.store_display(),
                path: path.to_string(),
                problem: format!("it holds the record of {:?}, not of {name:?}", record.name),
            });
        }
        Ok(Some(record))
    }

    pub(super) async fn get_small(&self, path: &StorePath) -> Result<Bytes> {
        Ok(self.inner.store.read_all(path).await?)
    }

    /// True if the store holds `name` (one small request; nothing downloaded).
    pub async fn exists_in_store_async(&self, name: &Name) -> Result<bool> {
        match self.inner.store.head(&StorePath::name_record(name)).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// True if the content of `name` is in the home's cache.
    pub fn exists_locally(&self, name: &Name) -> Result<bool> {
        Ok(match self.index().get(name)? {
            Some(record) => self
                .inner
                .home
                .has_blob_of_size(&record.blake3, record.size),
            None => false,
        })
    }

    /// The manifest of the finished run `key`, from the index or the store.
    pub(crate) async fn run_manifest(&self, key: &RunKey) -> Result<Option<RunManifest>> {
        if let Some(json) = self.index().run_manifest(&key.to_hex())?
            && let Ok(manifest) = RunManifest::from_json_for(json.as_bytes(), key)
        {
            self.remember_run(&manifest);
            return Ok(Some(manifest));
        }
        let path = StorePath::run_manifest(&key.to_hex());
        let bytes = match self.get_small(&path).await {
            Ok(bytes) => bytes,
            Err(Error::Store(e)) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let manifest = decode_manifest(&path, &bytes, Some(key))?;
        // As in `try_record`: caching must not fail the read.
        if let Err(e) = self
            .index()
            .insert_run_manifest(&key.to_hex(), &String::from_utf8_lossy(&bytes))
        {
            tracing::debug!(%path, error = %e, "could not cache the run manifest in the index");
        }
        self.remember_run(&manifest);
        Ok(Some(manifest))
    }
}

/// The run manifest stored at `path`, decoded and, given the key it is
/// stored for, checked to be that run's; a decoding error names the object.
pub(super) fn decode_manifest(
    path: &StorePath,
    bytes: &[u8],
    key: Option<&RunKey>,
) -> Result<RunManifest> {
    let decoded = match key {
        Some(key) => RunManifest::from_json_for(bytes, key),
        None => RunManifest::from_json(bytes),
    };
    decoded.map_err(decoding("run manifest", path))
}

/// Names the object a decoding error comes from, e.g. `name record
/// names/a.json`, so `lake verify --store` and logs point at it.
fn decoding<'a>(kind: &'a str, path: &'a StorePath) -> impl FnOnce(lake_core::Error) -> Error + 'a {
    move |error| match error {
        lake_core::Error::Decode { source, .. } => lake_core::Error::Decode {
            what: format!("{kind} {path}"),
            source,
        }
        .into(),
        other => other.into(),
    }
}
