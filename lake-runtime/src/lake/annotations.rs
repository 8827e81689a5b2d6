//! Annotations of files (issue 13): tags, labels and a timestamp, stored at
//! `notes/<name>.json` and updated by compare-and-swap.
//!
//! The store holds the one true copy; the home's index caches it (with the
//! object's version) so that listings can filter on annotations without
//! reading the store. Reading or updating annotations never reads or
//! writes content, the name record or any run manifest, so it cannot change
//! a file's content, name or key.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lake_core::{
    AnnotationError, Annotations, Digest, NOTES_PREFIX, Name, ObjectMeta, ObjectVersion, PutMode,
    StoreError, name_from_notes_path,
};

use crate::blocking::block_on;
use crate::{File, Lake, ListEntry, Result};

/// How many times [`Lake::annotate_async`] re-reads and retries after
/// losing a race before giving up. Each loss means another writer's update
/// went in, so this bounds starvation, not progress.
pub const ANNOTATE_MAX_ATTEMPTS: u32 = 1_000;

/// Which listed names to keep: every condition must hold.
///
/// # Example
/// ```
/// use lake_runtime::AnnotationFilter;
///
/// let filter = AnnotationFilter::default()
///     .with_tag("site", "north")
///     .with_label("calibrated");
/// assert!(!filter.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnnotationFilter {
    /// Tags that must be set to the value (as the command line writes it:
    /// `3` matches the number 3 and the string "3").
    pub tags: Vec<(String, String)>,
    /// Labels that must be set (normalised before comparing).
    pub labels: Vec<String>,
    /// Only files whose timestamp is at or after this instant. A file
    /// without a timestamp is dated by its record's creation time.
    pub since: Option<DateTime<Utc>>,
    /// Only files with a local copy in this home.
    pub local: bool,
    /// Only files without a local copy (in the store only).
    pub remote: bool,
}

impl AnnotationFilter {
    /// Adds a tag condition.
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Adds a label condition.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.labels.push(label.into());
        self
    }

    /// Adds a lower bound on the timestamp.
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
        self
    }

    /// True if no condition is set.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
            && self.labels.is_empty()
            && self.since.is_none()
            && !self.local
            && !self.remote
    }

    /// True if a condition reads annotations (tags, labels or since).
    pub fn needs_annotations(&self) -> bool {
        !self.tags.is_empty() || !self.labels.is_empty() || self.since.is_some()
    }

    fn matches(&self, annotations: &Annotations, created_at: Option<DateTime<Utc>>) -> bool {
        let tags = self.tags.iter().all(|(k, v)| {
            annotations
                .tag(k)
                .is_some_and(|value| value.matches_text(v))
        });
        let labels = self.labels.iter().all(|l| annotations.has_label(l));
        let since = match self.since {
            None => true,
            Some(since) => annotations
                .timestamp()
                .or(created_at)
                .is_some_and(|at| at >= since),
        };
        tags && labels && since
    }
}

/// A version as the index keeps it: the e-tag, else the backend version,
/// else nothing (then every refresh re-reads the object).
fn version_text(version: &ObjectVersion) -> String {
    match (&version.e_tag, &version.version) {
        (Some(e_tag), _) => format!("etag:{e_tag}"),
        (None, Some(v)) => format!("version:{v}"),
        (None, None) => String::new(),
    }
}

impl Lake {
    /// Reads `notes/<name>.json`: the annotations and the object's version,
    /// or `None` if the name has none yet.
    async fn read_notes(&self, name: &Name) -> Result<Option<(Annotations, ObjectVersion)>> {
        let path = lake_core::notes_path(name);
        let stream = match self.store().get(&path).await {
            Ok(stream) => stream,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let version = stream.meta.version.clone();
        let chunks: Vec<Bytes> = stream.chunks.try_collect().await?;
        let bytes = chunks.concat();
        let annotations = Annotations::from_json(&bytes, &format!("annotations of {name:?}"))?;
        Ok(Some((annotations, version)))
    }

    /// Fails with [`Error::NotFound`](crate::Error::NotFound) unless `name` exists (from the index,
    /// else one small read of its record; never its content).
    async fn require_name(&self, name: &Name) -> Result<()> {
        self.record_async(name).await.map(drop)
    }

    fn cache_annotations(&self, name: &Name, value: Option<(&Annotations, &ObjectVersion)>) {
        let version = value.map(|(a, v)| (a, version_text(v)));
        let row = version.as_ref().map(|(a, v)| (*a, v.as_str()));
        // The index is a cache: failing to write it must not fail a read
        // or an update that the store accepted.
        if let Err(e) = self.index().set_annotations(name, row) {
            tracing::debug!(%name, error = %e, "could not cache annotations in the index");
        }
    }

    /// The annotations of `name`, read from the store (one small `get` of
    /// `notes/<name>.json`; no content). A name never annotated has empty
    /// annotations.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) if no such name; store errors.
    pub async fn annotations_async(&self, name: &Name) -> Result<Annotations> {
        self.require_name(name).await?;
        let read = self.read_notes(name).await?;
        self.cache_annotations(name, read.as_ref().map(|(a, v)| (a, v)));
        Ok(read.map(|(a, _)| a).unwrap_or_default())
    }

    /// Blocking [`Lake::annotations_async`].
    pub fn annotations(&self, name: &Name) -> Result<Annotations> {
        block_on(self.annotations_async(name))
    }

    /// Updates the annotations of `name` by compare-and-swap and returns
    /// the annotations written.
    ///
    /// Reads the current annotations and their version, applies `update` to
    /// a copy, and writes it back conditionally: [`PutMode::Create`] if the
    /// name had none, [`PutMode::Update`] with the version read otherwise.
    /// If another writer got in between (`AlreadyExists`, `Precondition`,
    /// or the notes vanished), it waits a short, jittered, growing delay,
    /// re-reads and applies `update` again to the fresh value, up to
    /// [`ANNOTATE_MAX_ATTEMPTS`] times. So `update` may run several times
    /// and must only describe the change. An update that changes nothing
    /// writes nothing.
    ///
    /// No update is lost on a store whose compare-and-swap is atomic (the
    /// file store, Azure, S3, GCS, memory). On a server that checks then
    /// writes (moto, s3s-fs: see `docs/design/0003-test-servers.md`) racing
    /// updates can be lost; lake cannot detect that.
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound) if no such name; `update`'s error (nothing is
    /// written); store errors.
    pub async fn annotate_async<F>(&self, name: &Name, mut update: F) -> Result<Annotations>
    where
        F: FnMut(&mut Annotations) -> Result<(), AnnotationError> + Send,
    {
        self.require_name(name).await?;
        let path = lake_core::notes_path(name);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let current = self.read_notes(name).await?;
            let (before, mode) = match &current {
                Some((a, version)) => (a.clone(), PutMode::Update(version.clone())),
                None => (Annotations::default(), PutMode::Create),
            };
            let mut after = before.clone();
            update(&mut after).map_err(lake_core::Error::from)?;
            if after == before {
                self.cache_annotations(name, current.as_ref().map(|(a, v)| (a, v)));
                return Ok(after);
            }
            match self
                .store()
                .put(&path, Bytes::from(after.to_json()), mode)
                .await
            {
                Ok(version) => {
                    self.cache_annotations(name, Some((&after, &version)));
                    return Ok(after);
                }
                Err(
                    e @ (StoreError::AlreadyExists { .. }
                    | StoreError::Precondition { .. }
                    | StoreError::NotFound { .. }),
                ) => {
                    if attempt >= ANNOTATE_MAX_ATTEMPTS {
                        return Err(e.into());
                    }
                    tracing::debug!(%name, attempt, "annotations changed concurrently; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Blocking [`Lake::annotate_async`].
    pub fn annotate<F>(&self, name: &Name, update: F) -> Result<Annotations>
    where
        F: FnMut(&mut Annotations) -> Result<(), AnnotationError> + Send,
    {
        block_on(self.annotate_async(name, update))
    }

    /// Brings the index's copy of the annotations at or below `prefix` up
    /// to date: lists `notes/<prefix>` once, reads only the objects whose
    /// version differs from the cached one, and forgets annotations the
    /// store no longer has. Returns how many objects were read.
    pub async fn refresh_annotations_async(&self, prefix: &str) -> Result<usize> {
        let prefix = prefix.trim_end_matches('/');
        let list_prefix = if prefix.is_empty() {
            NOTES_PREFIX.to_owned()
        } else {
            Name::new(prefix)?;
            format!("{NOTES_PREFIX}/{prefix}")
        };
        // Listings are segment-wise: `notes/a` lists what is below
        // `notes/a/`, so the name `a` itself (`notes/a.json`) takes a `head`.
        let mut listed: Vec<ObjectMeta> = self.list_all(&list_prefix).await?;
        if !prefix.is_empty() {
            let own = lake_core::notes_path(&Name::new(prefix)?);
            match self.store().head(&own).await {
                Ok(meta) => listed.push(meta),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let cached: std::collections::HashMap<Name, String> = self
            .index()
            .annotations_below(prefix)?
            .into_iter()
            .map(|(name, _, version)| (name, version))
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut read = 0;
        for object in listed {
            let Some(name) = name_from_notes_path(object.path.as_str()) else {
                continue;
            };
            seen.insert(name.clone());
            let version = version_text(&object.version);
            if !version.is_empty() && cached.get(&name) == Some(&version) {
                continue;
            }
            read += 1;
            match self.read_notes(&name).await {
                Ok(value) => self.cache_annotations(&name, value.as_ref().map(|(a, v)| (a, v))),
                Err(e) => tracing::warn!(%name, error = %e, "skipping unreadable annotations"),
            }
        }
        for name in cached.keys().filter(|n| !seen.contains(*n)) {
            self.cache_annotations(name, None);
        }
        Ok(read)
    }

    /// Blocking [`Lake::refresh_annotations_async`].
    pub fn refresh_annotations(&self, prefix: &str) -> Result<usize> {
        block_on(self.refresh_annotations_async(prefix))
    }

    /// The annotations the index holds for names at or below `prefix`
    /// (as of the last [`Lake::refresh_annotations_async`] or read), with
    /// no store request. Names without annotations are absent.
    pub fn cached_annotations(
        &self,
        prefix: &str,
    ) -> Result<std::collections::BTreeMap<Name, Annotations>> {
        Ok(self
            .index()
            .annotations_below(prefix)?
            .into_iter()
            .map(|(name, a, _)| (name, a))
            .collect())
    }

    /// [`Lake::list_async`] keeping only the entries that pass `filter`.
    /// Tags, labels and `since` are read from the index (refresh it with
    /// [`Lake::refresh_annotations_async`]); the store is not listed for
    /// them.
    pub async fn list_filtered_async(
        &self,
        prefix: &str,
        refresh: bool,
        filter: &AnnotationFilter,
    ) -> Result<Vec<ListEntry>> {
        let mut entries = self.list_async(prefix, refresh).await?;
        entries.retain(|e| (!filter.local || e.local) && (!filter.remote || !e.local));
        if !filter.needs_annotations() {
            return Ok(entries);
        }
        let annotations = self.cached_annotations(prefix)?;
        let created = self.index().created_below(prefix)?;
        let empty = Annotations::default();
        entries.retain(|e| {
            let a = annotations.get(&e.name).unwrap_or(&empty);
            filter.matches(a, created.get(&e.name).copied())
        });
        Ok(entries)
    }

    /// Blocking [`Lake::list_filtered_async`].
    pub fn list_filtered(
        &self,
        prefix: &str,
        refresh: bool,
        filter: &AnnotationFilter,
    ) -> Result<Vec<ListEntry>> {
        block_on(self.list_filtered_async(prefix, refresh, filter))
    }
}

/// 2, 4, 8 … ms up to about 0.25 s, with up to 100% jitter so that writers
/// that collided do not collide again in lock step.
fn backoff(attempt: u32) -> Duration {
    let base = 1u64 << attempt.min(8);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0) as u64;
    let jitter = (nanos ^ std::process::id() as u64 ^ (attempt as u64).wrapping_mul(0x9e37))
        % (base * 1000 + 1);
    Duration::from_micros(base * 1000 + jitter)
}

impl File {
    /// The file's annotations, read from the store (no content is
    /// downloaded); see [`Lake::annotations_async`].
    pub fn annotations(&self) -> Result<Annotations> {
        self.lake().annotations(self.name())
    }

    /// Async [`File::annotations`].
    pub async fn annotations_async(&self) -> Result<Annotations> {
        self.lake().annotations_async(self.name()).await
    }

    /// Updates the file's annotations by compare-and-swap, retrying on
    /// conflict; see [`Lake::annotate_async`]. Never changes the content,
    /// the name or any run key.
    ///
    /// # Example
    /// ```
    /// # use std::io::Write;
    /// # let lake = lake_runtime::Lake::temporary()?;
    /// # let mut w = lake.create("raw/a.csv")?;
    /// # w.write_all(b"x,y\n")?;
    /// let file = w.commit()?;
    /// file.annotate(|a| {
    ///     a.set_tag("site", "north")?;
    ///     a.add_label("calibrated")?;
    ///     Ok(())
    /// })?;
    /// assert!(file.annotations()?.has_label("calibrated"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn annotate<F>(&self, update: F) -> Result<Annotations>
    where
        F: FnMut(&mut Annotations) -> Result<(), AnnotationError> + Send,
    {
        self.lake().annotate(self.name(), update)
    }

    /// Async [`File::annotate`].
    pub async fn annotate_async<F>(&self, update: F) -> Result<Annotations>
    where
        F: FnMut(&mut Annotations) -> Result<(), AnnotationError> + Send,
    {
        self.lake().annotate_async(self.name(), update).await
    }

    /// blake3 of the canonical encoding of the file's annotations
    /// ([`Annotations::metadata_digest`]); one small read, no content.
    pub fn metadata_digest(&self) -> Result<Digest> {
        Ok(self.annotations()?.metadata_digest())
    }

    /// Async [`File::metadata_digest`].
    pub async fn metadata_digest_async(&self) -> Result<Digest> {
        Ok(self.annotations_async().await?.metadata_digest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_paths_give_back_their_name() {
        let name = Name::new("raw/a.csv").unwrap();
        assert_eq!(
            name_from_notes_path(lake_core::notes_path(&name).as_str()),
            Some(name)
        );
        assert_eq!(name_from_notes_path("names/raw/a.csv.json"), None);
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) >= Duration::from_millis(2));
        assert!(backoff(30) <= Duration::from_millis(513));
    }

    #[test]
    fn filter_falls_back_to_creation_time() {
        let f = AnnotationFilter::default().with_since("2026-01-01T00:00:00Z".parse().unwrap());
        let a = Annotations::default();
        assert!(f.matches(&a, Some("2026-06-01T00:00:00Z".parse().unwrap())));
        assert!(!f.matches(&a, Some("2025-06-01T00:00:00Z".parse().unwrap())));
        let mut b = Annotations::default();
        b.set_timestamp(Some("2025-01-01T00:00:00Z".parse().unwrap()));
        assert!(!f.matches(&b, Some("2026-06-01T00:00:00Z".parse().unwrap())));
    }
}
