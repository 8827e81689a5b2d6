//! External objects (issue 13 item 7): `lake add s3://bucket/key NAME`
//! copies an object from any store URL into the lake, hashing it as it
//! streams, and records the (redacted) URL as the name's source.

use lake_core::{Name, StorePath};

use crate::blocking::block_on;
use crate::progress::Progress;
use crate::store::{StoreOptions, open_store_with, redact_url};
use crate::{AddOutcome, Error, Lake, Result};

/// The URL schemes [`Lake::add_object_async`] reads from: every store kind
/// `object_store` opens, except `http(s)`, which `add_url` fetches as a
/// plain download.
pub const OBJECT_URL_SCHEMES: &[&str] = &[
    "s3", "s3a", "az", "azure", "abfs", "abfss", "adl", "gs", "file", "memory",
];

/// True if `source` is a URL that [`Lake::add_object_async`] takes.
pub fn is_object_url(source: &str) -> bool {
    source.split_once("://").is_some_and(|(scheme, _)| {
        OBJECT_URL_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
    })
}

/// `scheme://authority/dir/key?query` → (`scheme://authority/dir?query`,
/// `key`): the store is opened at the object's parent, so only the object
/// itself is read.
fn split_object_url(url: &str) -> Option<(String, String)> {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = head.split_once("://")?;
    let (parent, key) = rest.trim_end_matches('/').rsplit_once('/')?;
    let mut root = match (parent, scheme) {
        (_, _) if key.is_empty() => return None,
        // `file:///key`: the root directory is the parent.
        ("", "file") => "file:///".to_owned(),
        ("", _) => return None,
        (parent, scheme) => format!("{scheme}://{parent}"),
    };
    if let Some(query) = query {
        root.push('?');
        root.push_str(query);
    }
    Some((root, key.to_owned()))
}

impl Lake {
    /// Copies the object at `url` (any store URL: `s3://bucket/key`,
    /// `az://container/key`, `gs://…`, `file:///…`) into the lake as
    /// `name`, hashing it as it streams, with the URL (credentials
    /// removed) as its source. The source store is opened with this lake's
    /// store options (`LAKE_STORE_OPT_*`, `[store_options]`) and the usual
    /// `AWS_*` / `AZURE_*` / `GOOGLE_*` environment.
    ///
    /// # Errors
    /// [`Error::Source`] naming the redacted URL when it is not an object
    /// URL or the object cannot be read; as [`Lake::add_path_async`] for
    /// the commit (an existing name with other content is refused).
    pub async fn add_object_async(&self, url: &str, name: &Name) -> Result<AddOutcome> {
        let shown = redact_url(url);
        let source_err = |message: String| Error::Source {
            source_desc: shown.clone(),
            message,
        };
        let (root, key) = split_object_url(url)
            .ok_or_else(|| source_err("expected a store URL ending in an object key".into()))?;
        let options = self
            .config()
            .store_options
            .iter()
            .fold(StoreOptions::new(), |o, (k, v)| o.with(k, v));
        let store = open_store_with(&root, &options).map_err(|e| source_err(e.to_string()))?;
        let path = StorePath::parse(&key).map_err(|e| source_err(e.to_string()))?;
        let stream = store
            .get(&path)
            .await
            .map_err(|e| source_err(e.to_string()))?;
        let progress = Progress::new(
            self.config().progress,
            stream.meta.size,
            &format!("add {name}"),
        );
        let (staged, digest, size) = self.stage_stream(stream.chunks, &progress).await?;
        let lineage = self.added_lineage(Some(shown.clone()));
        self.commit_staged(staged, digest, size, name, lineage)
            .await
    }

    /// Blocking [`Lake::add_object_async`].
    pub fn add_object(&self, url: &str, name: &Name) -> Result<AddOutcome> {
        block_on(self.add_object_async(url, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_split_at_their_key() {
        let split = |u: &str| split_object_url(u).unwrap();
        assert_eq!(
            split("s3://bucket/key.csv"),
            ("s3://bucket".into(), "key.csv".into())
        );
        assert_eq!(
            split("s3://bucket/a/b/key?region=x"),
            ("s3://bucket/a/b?region=x".into(), "key".into())
        );
        assert_eq!(
            split("file:///data/x.bin"),
            ("file:///data".into(), "x.bin".into())
        );
        assert_eq!(split("file:///x.bin"), ("file:///".into(), "x.bin".into()));
        assert_eq!(split_object_url("s3://bucket"), None);
        assert!(is_object_url("S3://b/k") && is_object_url("az://c/k"));
        assert!(!is_object_url("https://example.org/x") && !is_object_url("./a"));
    }

    #[test]
    fn add_object_copies_and_records_the_source() {
        let lake = Lake::temporary().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.bin"), b"external bytes").unwrap();
        let url = format!("file://{}/x.bin", dir.path().display());
        let name = Name::new("ext/x.bin").unwrap();
        let added = lake.add_object(&url, &name).unwrap();
        assert_eq!(added.blake3, lake_core::Digest::of(b"external bytes"));
        let record = lake.record(&name).unwrap();
        match record.lineage {
            lake_core::Lineage::Added(a) => assert_eq!(a.source.as_deref(), Some(url.as_str())),
            other => panic!("{other:?}"),
        }
        let missing = format!("file://{}/none.bin", dir.path().display());
        let err = lake
            .add_object(&missing, &Name::new("ext/none").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("none.bin"), "{err}");
    }
}
