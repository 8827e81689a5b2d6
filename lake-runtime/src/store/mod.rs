//! TEMPORARY shim until the stores branch lands (memory + file only).
#![allow(missing_docs)]
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::fmt;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, FutureExt};
use lake_core::*;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, path::Path as OPath};

pub fn redact_url(url: &str) -> String { url.to_owned() }

pub fn open_store_with(url: &str, _o: &BTreeMap<String, String>) -> Result<Arc<dyn Store>, StoreError> {
    static MEM: OnceLock<Mutex<BTreeMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let inner: Arc<dyn ObjectStore> = if let Some(n) = url.strip_prefix("memory://") {
        MEM.get_or_init(Default::default).lock().unwrap().entry(n.to_owned()).or_insert_with(|| Arc::new(object_store::memory::InMemory::new())).clone()
    } else if let Some(p) = url.strip_prefix("file://") {
        std::fs::create_dir_all(p).unwrap();
        Arc::new(object_store::local::LocalFileSystem::new_with_prefix(p).unwrap())
    } else { return Err(StoreError::NotSupported { operation: "url".into(), store: url.into() }) };
    Ok(Arc::new(Shim { inner, url: url.to_owned() }))
}

#[derive(Debug)]
struct Shim { inner: Arc<dyn ObjectStore>, url: String }
impl fmt::Display for Shim { fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.url) } }
impl Shim {
    fn err(&self, op: &'static str, p: &StorePath, e: object_store::Error) -> StoreError {
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound { path: p.to_string(), store: self.url.clone() },
            object_store::Error::AlreadyExists { .. } => StoreError::AlreadyExists { path: p.to_string(), store: self.url.clone() },
            object_store::Error::Precondition { .. } => StoreError::Precondition { path: p.to_string(), store: self.url.clone() },
            e => StoreError::Backend { operation: op, path: p.to_string(), store: self.url.clone(), message: e.to_string() },
        }
    }
    fn meta(m: object_store::ObjectMeta) -> ObjectMeta {
        ObjectMeta { path: StorePath::parse(m.location.as_ref()).unwrap(), size: m.size, last_modified: m.last_modified, version: ObjectVersion { e_tag: m.e_tag, version: m.version } }
    }
}
impl Store for Shim {
    fn head<'a>(&'a self, p: &'a StorePath) -> BoxFuture<'a, Result<ObjectMeta, StoreError>> {
        async move { self.inner.head(&OPath::from(p.as_str())).await.map(Self::meta).map_err(|e| self.err("head", p, e)) }.boxed()
    }
    fn get<'a>(&'a self, p: &'a StorePath) -> BoxFuture<'a, Result<GetStream, StoreError>> {
        async move {
            let r = self.inner.get(&OPath::from(p.as_str())).await.map_err(|e| self.err("get", p, e))?;
            let meta = Self::meta(r.meta.clone());
            let pp = p.clone(); let url = self.url.clone();
            let chunks = r.into_stream().map_err(move |e| StoreError::Backend { operation: "get", path: pp.to_string(), store: url.clone(), message: e.to_string() }).boxed();
            Ok(GetStream { meta, chunks })
        }.boxed()
    }
    fn put<'a>(&'a self, p: &'a StorePath, b: Bytes, mode: PutMode) -> BoxFuture<'a, Result<ObjectVersion, StoreError>> {
        async move {
            let mode = match mode { PutMode::Overwrite => object_store::PutMode::Overwrite, PutMode::Create => object_store::PutMode::Create, PutMode::Update(v) => object_store::PutMode::Update(object_store::UpdateVersion { e_tag: v.e_tag, version: v.version }) };
            let r = self.inner.put_opts(&OPath::from(p.as_str()), PutPayload::from(b), mode.into()).await.map_err(|e| self.err("put", p, e))?;
            Ok(ObjectVersion { e_tag: r.e_tag, version: r.version })
        }.boxed()
    }
    fn put_file<'a>(&'a self, p: &'a StorePath, file: &'a std::path::Path) -> BoxFuture<'a, Result<(), StoreError>> {
        async move { let b = std::fs::read(file).unwrap(); self.put(p, b.into(), PutMode::Overwrite).await.map(drop) }.boxed()
    }
    fn list<'a>(&'a self, prefix: &'a StorePath, after: Option<&'a StorePath>, limit: usize) -> BoxFuture<'a, Result<ListPage, StoreError>> {
        async move {
            let mut all: Vec<ObjectMeta> = self.inner.list(Some(&OPath::from(prefix.as_str()))).map_ok(Self::meta).try_collect().await.map_err(|e| self.err("list", prefix, e))?;
            all.sort_by(|a, b| a.path.cmp(&b.path));
            let all: Vec<_> = all.into_iter().filter(|m| after.is_none_or(|a| &m.path > a)).collect();
            let next = (all.len() > limit).then(|| all[limit - 1].path.clone());
            Ok(ListPage { objects: all.into_iter().take(limit).collect(), next })
        }.boxed()
    }
    fn delete<'a>(&'a self, p: &'a StorePath) -> BoxFuture<'a, Result<(), StoreError>> {
        async move { match self.inner.delete(&OPath::from(p.as_str())).await { Ok(()) => Ok(()), Err(object_store::Error::NotFound{..}) => Ok(()), Err(e) => Err(self.err("delete", p, e)) } }.boxed()
    }
}
