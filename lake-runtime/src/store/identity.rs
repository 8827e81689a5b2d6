//! A store's identity: the object [`STORE_ID_KEY`] at its root.
//!
//! A home keeps its index and run memo per store id, not per URL: a URL can
//! point at another store over time (a bucket emptied and refilled, a
//! directory replaced), and two spellings can name one store. The id is
//! created once, by the first lake that uses the store, with a conditional
//! create, so concurrent first users agree on one id. See
//! `docs/design/0005-home-index.md`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use lake_core::{PutMode, Store, StoreError, StorePath};
use serde::{Deserialize, Serialize};

/// Key of the identity object, at the root of the store beside `blobs/`,
/// `names/`, `runs/`, `notes/` and `packs/`.
pub const STORE_ID_KEY: &str = "lake-store.json";

/// Version of the [`StoreIdentity`] JSON layout.
const SCHEMA_VERSION: u32 = 1;

/// The content of [`STORE_ID_KEY`]: a random id and when it was made.
///
/// # Example
/// ```
/// use lake_runtime::store::{StoreIdentity, open_store};
///
/// let store = open_store("memory://identity-doc")?;
/// let first = futures::executor::block_on(StoreIdentity::read_or_create(&*store))?;
/// let again = futures::executor::block_on(StoreIdentity::read_or_create(&*store))?;
/// assert_eq!(first, again);
/// assert!(StoreIdentity::is_valid_id(&first.id));
/// # Ok::<(), lake_core::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreIdentity {
    /// Version of this JSON layout when written (1).
    pub schema_version: u32,
    /// 32 lowercase hex digits (128 random bits).
    pub id: String,
    /// When the store was first used by lake.
    pub created_at: DateTime<Utc>,
}

impl StoreIdentity {
    /// A fresh identity with a random id.
    pub fn generate() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            id: random_id(),
            created_at: Utc::now(),
        }
    }

    /// True for 32 lowercase hex digits: the only ids a home turns into a
    /// directory name, so a forged identity object cannot name a path
    /// outside `<home>/stores/`.
    pub fn is_valid_id(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    /// The identity object of `store`, if it has one.
    pub async fn read(store: &dyn Store) -> Result<Option<Self>, StoreError> {
        let path = key();
        let got = match store.get(&path).await {
            Ok(got) => got,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let chunks: Vec<Bytes> = got.chunks.try_collect().await?;
        let bad = |message: String| StoreError::Backend {
            operation: "read",
            path: STORE_ID_KEY.to_owned(),
            store: store.to_string(),
            message,
        };
        let identity: Self = serde_json::from_slice(&chunks.concat())
            .map_err(|e| bad(format!("not a lake store identity: {e}")))?;
        if !Self::is_valid_id(&identity.id) {
            return Err(bad(format!(
                "store id {:?} is not 32 lowercase hex digits",
                identity.id
            )));
        }
        Ok(Some(identity))
    }

    /// The identity of `store`, created now if it has none. Of several
    /// concurrent first users, one creates it and the others read it.
    pub async fn read_or_create(store: &dyn Store) -> Result<Self, StoreError> {
        if let Some(identity) = Self::read(store).await? {
            return Ok(identity);
        }
        let fresh = Self::generate();
        let json = serde_json::to_vec_pretty(&fresh).expect("identity serializes");
        match store.put(&key(), Bytes::from(json), PutMode::Create).await {
            Ok(_) => {
                tracing::info!(store = %store, id = %fresh.id, "gave the store its lake id");
                Ok(fresh)
            }
            Err(e) if e.is_already_exists() => {
                // Lost the race: the winner's id is the store's id.
                Self::read(store).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
}

fn key() -> StorePath {
    StorePath::parse(STORE_ID_KEY).expect("a valid key")
}

/// 128 random bits as hex. `RandomState` is seeded from the operating
/// system's random source (once per thread, then stepped), and blake3 mixes
/// it with the time, the process id and a counter, so two ids made at once
/// on one machine or on two still differ. This avoids a dependency on a
/// random-number crate for one call per store.
pub(crate) fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = blake3::Hasher::new();
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.update(&h.finish().to_le_bytes());
    }
    let now = Utc::now();
    hasher.update(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    let hex = hasher.finalize().to_hex();
    hex[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_differ() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| random_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| StoreIdentity::is_valid_id(id)));
        for bad in ["", "../../etc", &"A".repeat(32), &"0".repeat(31)] {
            assert!(!StoreIdentity::is_valid_id(bad), "{bad}");
        }
    }
}
