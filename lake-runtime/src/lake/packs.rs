//! Record packs: `add -r` writes the records it created below a prefix as
//! one object, so a fresh home's refresh learns them with one GET instead
//! of one per name. A packed record is trusted only if its e-tag proves
//! it is the record in the store, byte for byte.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use lake_core::{Digest, Name, PACKS_PREFIX, PackedRecord, PutMode, Record, RecordPack, StorePath};

use super::PARALLEL_REQUESTS;
use super::refresh::ListedRecord;
use crate::{Error, Lake, Result};

/// How much older than the oldest new name a record pack may look and still
/// be read. A pack is written after its records, by the same store clock, so
/// an older pack cannot hold a new name; the margin only absorbs clock
/// differences between a distributed store's servers.
const PACK_CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// True if `e_tag` is the MD5 of `bytes`, as S3 (and moto) give for an
/// object written in one request. Any other e-tag (Azure's, a file's
/// inode and time, a counter) proves nothing about the bytes.
fn e_tag_proves(e_tag: &str, bytes: &[u8]) -> bool {
    use md5::Digest as _;
    let hex = e_tag.trim_matches('"');
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && hex.eq_ignore_ascii_case(&format!("{:x}", md5::Md5::digest(bytes)))
}

impl Lake {
    /// Writes the records `add -r` created below `prefix` as one record
    /// pack, so other machines learn them with one GET. Never fails: the
    /// names are committed already, and a missing pack only costs those
    /// machines one GET per name.
    pub(super) async fn write_record_pack(&self, prefix: &Name, mut entries: Vec<PackedRecord>) {
        // One record saves nothing over its own GET, and a record whose
        // e-tag is not the MD5 of its bytes (Azure, file://, memory) could
        // never be trusted by a reader.
        entries.retain(|e| e_tag_proves(&e.e_tag, &e.record.to_json()));
        if entries.len() < 2 {
            return;
        }
        // Adds finish in any order; the same records give the same pack.
        entries.sort_unstable_by(|a, b| a.record.name.cmp(&b.record.name));
        let count = entries.len();
        let bytes = RecordPack::new(entries).to_json();
        let path = StorePath::record_pack(prefix, &Digest::of(&bytes));
        // Content-addressed: overwriting can only write the same bytes.
        match self
            .inner
            .store
            .put(&path, Bytes::from(bytes), PutMode::Overwrite)
            .await
        {
            Ok(_) => tracing::debug!(%path, records = count, "wrote record pack"),
            Err(e) => tracing::warn!(
                %path,
                error = %e,
                "could not write the record pack; other machines will read the names one by one"
            ),
        }
    }

    /// The records of `new` names that record packs related to `prefix`
    /// hold with the e-tag their name object is listed with. Packs that
    /// cannot be listed, read or parsed are skipped: they only save GETs.
    pub(super) async fn read_record_packs(
        &self,
        prefix: Option<&Name>,
        new: &[Name],
        listed: &BTreeMap<Name, ListedRecord>,
    ) -> HashMap<Name, Record> {
        // An e-tag is what the store says identifies the content of
        // `names/<name>.json` (S3, moto, s3s: the MD5 of its bytes; Azure: a
        // new one on every write; `file://`: inode, mtime and size), so a
        // packed record whose e-tag equals the listed one is the record in
        // the store, byte for byte. Names listed without an e-tag, or with
        // another (deleted and re-created since the pack was written, or a
        // forged pack), are fetched one by one as before.
        let wanted: HashMap<&Name, &str> = new
            .iter()
            .filter_map(|name| Some((name, listed.get(name)?.e_tag.as_deref()?)))
            .collect();
        let oldest = new
            .iter()
            .filter_map(|name| listed.get(name))
            .map(|l| l.last_modified)
            .min();
        let Some(oldest) = oldest.filter(|_| !wanted.is_empty()) else {
            return HashMap::new();
        };
        let packs = match self
            .list_record_packs(prefix, oldest - PACK_CLOCK_MARGIN)
            .await
        {
            Ok(packs) => packs,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list record packs; reading names one by one");
                return HashMap::new();
            }
        };
        let mut trusted = HashMap::new();
        let mut got = futures::stream::iter(packs)
            .map(|path| async move {
                let bytes = self.get_small(&path).await;
                (path, bytes)
            })
            .buffer_unordered(PARALLEL_REQUESTS);
        while let Some((path, bytes)) = got.next().await {
            let pack = match bytes.map(|b| RecordPack::from_json(&b).map_err(Error::from)) {
                Ok(Ok(pack)) => pack,
                // Deleted since the listing, unreadable, or not a pack
                // this lake understands.
                Ok(Err(e)) | Err(e) => {
                    tracing::debug!(%path, error = %e, "skipping record pack");
                    continue;
                }
            };
            for entry in pack.entries {
                // Keyed by the record's own name, so a trusted record is
                // always the record of the name it is filed under. The
                // listed e-tag alone proves nothing about the packed record
                // (a forged pack keeps the real e-tag and changes the
                // digest), so the record's bytes must hash to it.
                if wanted.get(&entry.record.name) == Some(&entry.e_tag.as_str())
                    && e_tag_proves(&entry.e_tag, &entry.record.to_json())
                {
                    trusted.insert(entry.record.name.clone(), entry.record);
                }
            }
        }
        trusted
    }

    /// Every record pack whose prefix equals `prefix`, lies above it or
    /// below it (all packs for `None`), written at `since` or later.
    async fn list_record_packs(
        &self,
        prefix: Option<&Name>,
        since: DateTime<Utc>,
    ) -> Result<Vec<StorePath>> {
        let related = |pack: &Name| match prefix {
            None => true,
            Some(p) => p.has_prefix(pack.as_str()) || pack.has_prefix(p.as_str()),
        };
        let packs = self
            .list_all(PACKS_PREFIX)
            .await?
            .into_iter()
            .filter(|object| {
                StorePath::pack_prefix_from_path(object.path.as_str())
                    .is_some_and(|pack| related(&pack))
                    && object.last_modified >= since
            })
            .map(|object| object.path)
            .collect();
        Ok(packs)
    }
}
