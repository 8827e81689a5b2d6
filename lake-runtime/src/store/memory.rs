//! `memory://` stores: private ones, and named ones shared by the whole
//! process so that two lakes in one test can share a store.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use lake_core::{Store, StoreConfigError};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use url::Url;

use super::ObjectBackend;

/// Named in-memory stores, kept for the life of the process so two lakes in
/// one test can share one. Never emptied: test stores are small.
static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(Default::default);

/// Opened `memory://NAME/PREFIX` stores, so that opening the same URL twice
/// gives the very same `Arc`.
static MEMORY_HANDLES: LazyLock<Mutex<HashMap<String, Arc<dyn Store>>>> =
    LazyLock::new(Default::default);

/// Opens `memory://[NAME[/PREFIX]]`: a fresh store without a name, else
/// the process-wide store `NAME`, the same `Arc` for the same URL.
pub(super) fn open_memory(url: &Url) -> Result<Arc<dyn Store>, StoreConfigError> {
    let name = url.host_str().unwrap_or_default();
    let prefix = Path::from_url_path(url.path()).map_err(|e| StoreConfigError::InvalidPrefix {
        reason: e.to_string(),
    })?;
    let display = |name: &str| match prefix.as_ref() {
        "" => format!("memory://{name}"),
        p => format!("memory://{name}/{p}"),
    };
    let wrap = |memory: Arc<InMemory>| -> Arc<dyn ObjectStore> {
        if prefix.as_ref().is_empty() {
            memory
        } else {
            Arc::new(PrefixStore::new(memory, prefix.clone()))
        }
    };
    if name.is_empty() {
        let store = ObjectBackend::new(wrap(Arc::new(InMemory::new())), &display(""));
        return Ok(Arc::new(store));
    }
    let key = display(name);
    // The lock is never held across a panic-prone call, so poisoning would
    // only follow a panic elsewhere; the maps stay consistent regardless.
    let mut handles = MEMORY_HANDLES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = handles.get(&key) {
        return Ok(store.clone());
    }
    let memory = MEMORY_STORES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(name.to_owned())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone();
    let store: Arc<dyn Store> = Arc::new(ObjectBackend::new(wrap(memory), &key));
    handles.insert(key, store.clone());
    Ok(store)
}
