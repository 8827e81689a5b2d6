//! Record packs: a fresh home learns the names of an `add -r` from one
//! pack instead of one GET per name, and trusts a packed record only when
//! the store lists its name with the packed e-tag.
//! See `docs/design/0008-record-packs.md`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use lake_core::{
    NAMES_PREFIX, PACKS_PREFIX, PackedRecord, PutMode, Record, RecordPack, Store, StorePath,
};
use lake_runtime::store::{CountingStore, open_store};
use lake_runtime::{AddMode, Digest, Lake, LakeConfigBuilder, Name};

const FILES: usize = 50;

struct Fixture {
    store: Arc<CountingStore>,
    url: String,
    options: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// A memory store, whose e-tags are counters: no pack can be trusted.
    fn memory() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("memory://packs-{}-{:p}", std::process::id(), &dir);
        let inner = open_store(&url).unwrap();
        Self {
            store: Arc::new(CountingStore::new(inner)),
            url,
            options: Vec::new(),
            dir,
        }
    }

    /// A fresh prefix of the moto bucket, whose e-tags are the MD5 of what
    /// was written, as on S3; `None` (after a loud skip) without moto.
    fn moto() -> Option<Self> {
        let (url, options) = lake_runtime::testing::server_from_env("MOTO")?;
        let inner = lake_runtime::store::open_store_with(&url, &options).unwrap();
        Some(Self {
            store: Arc::new(CountingStore::new(inner)),
            url,
            options: options
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// A lake on the shared store with its own home: one machine.
    fn machine(&self, home: &str) -> Lake {
        let config = self
            .options
            .iter()
            .fold(
                LakeConfigBuilder::new()
                    .with_home(self.dir.path().join(home))
                    .with_store(&self.url),
                |b, (k, v)| b.with_store_option(k, v),
            )
            .with_progress(false)
            .build()
            .unwrap();
        Lake::open_with_store(config, self.store.clone()).unwrap()
    }

    /// `FILES` small files below `<dir>/src`, each with its own bytes.
    fn source_dir(&self) -> std::path::PathBuf {
        let src = self.dir.path().join("src");
        for i in 0..FILES {
            let sub = src.join(format!("d{}", i % 3));
            std::fs::create_dir_all(&sub).unwrap();
            std::fs::write(sub.join(format!("f{i:02}.txt")), format!("file {i}\n")).unwrap();
        }
        src
    }

    async fn keys_below(&self, prefix: &str) -> Vec<lake_core::ObjectMeta> {
        let page = self
            .store
            .list(&StorePath::prefix(prefix), None, 10_000)
            .await
            .unwrap();
        assert!(page.next.is_none());
        page.objects
    }

    async fn read(&self, path: &StorePath) -> Vec<u8> {
        let chunks: Vec<Bytes> = self
            .store
            .get(path)
            .await
            .unwrap()
            .chunks
            .try_collect()
            .await
            .unwrap();
        chunks.concat()
    }
}

async fn add_source(lake: &Lake, src: &Path) -> Vec<Name> {
    let prefix = Name::new("data").unwrap();
    let outcomes = lake
        .add_dir_async(src, &prefix, AddMode::Copy)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), FILES);
    let mut names: Vec<Name> = outcomes.into_iter().map(|o| o.name).collect();
    names.sort();
    names
}

async fn records(lake: &Lake, names: &[Name]) -> HashMap<Name, Record> {
    let mut out = HashMap::new();
    for name in names {
        out.insert(name.clone(), lake.record_async(name).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_home_learns_an_added_directory_from_one_pack() {
    let Some(f) = Fixture::moto() else { return };
    let a = f.machine("home-a");
    let names = add_source(&a, &f.source_dir()).await;
    let packs = f.keys_below(PACKS_PREFIX).await;
    assert_eq!(packs.len(), 1, "one add -r writes one pack: {packs:?}");
    let pack_key = &packs[0].path;
    assert_eq!(
        StorePath::pack_prefix_from_path(pack_key.as_str()),
        Some(Name::new("data").unwrap())
    );
    let pack = RecordPack::from_json(&f.read(pack_key).await).unwrap();
    assert_eq!(pack.entries.len(), FILES);
    // Content-addressed.
    assert!(
        pack_key
            .as_str()
            .ends_with(&format!("/{}.json", Digest::of(&pack.to_json()))),
        "{pack_key}"
    );

    // Adding the same directory again creates nothing, so writes no pack.
    add_source(&a, &f.source_dir()).await;
    assert_eq!(f.keys_below(PACKS_PREFIX).await.len(), 1);

    let b = f.machine("home-b");
    f.store.reset();
    assert_eq!(b.refresh_async().await.unwrap(), FILES);
    let (name_gets, _) = f.store.gets_under(NAMES_PREFIX);
    let (pack_gets, _) = f.store.gets_under(PACKS_PREFIX);
    assert!(
        name_gets < 5,
        "{name_gets} GETs of names/ for {FILES} names that one pack holds"
    );
    assert_eq!(pack_gets, 1);

    let listed = b.list_async("data", false).await.unwrap();
    assert_eq!(listed.len(), FILES);
    assert_eq!(records(&b, &names).await, records(&a, &names).await);
    let seventh = Name::new("data/d1/f07.txt").unwrap();
    let bytes = std::fs::read(b.fetch_async(&seventh).await.unwrap()).unwrap();
    assert_eq!(bytes, b"file 7\n");
}

/// A name deleted and created again with other content after its pack was
/// written: the store lists it with another e-tag, so the stale packed
/// record must not be used.
#[tokio::test(flavor = "multi_thread")]
async fn a_packed_record_of_a_recreated_name_is_not_trusted() {
    let Some(f) = Fixture::moto() else { return };
    let a = f.machine("home-a");
    let names = add_source(&a, &f.source_dir()).await;
    let victim = &names[7];
    let mut replacement = a.record_async(victim).await.unwrap();
    replacement.blake3 = Digest::of(b"other content");
    replacement.size = 13;
    let path = StorePath::name_record(victim);
    f.store.delete(&path).await.unwrap();
    f.store
        .put(&path, Bytes::from(replacement.to_json()), PutMode::Create)
        .await
        .unwrap();

    let b = f.machine("home-b");
    f.store.reset();
    assert_eq!(b.refresh_async().await.unwrap(), FILES);
    assert_eq!(b.record_async(victim).await.unwrap(), replacement);
    assert_eq!(
        f.store.gets_under(NAMES_PREFIX).0,
        1,
        "only the re-created name is fetched"
    );
    let mut expected = records(&a, &names).await;
    expected.insert(victim.clone(), replacement);
    assert_eq!(records(&b, &names).await, expected);
}

/// A pack whose e-tags do not match the listing (forged, or copied from
/// another store) is ignored, as is one that does not parse: every name is
/// then fetched and the index holds the store's records.
#[tokio::test(flavor = "multi_thread")]
async fn a_pack_with_wrong_e_tags_or_garbage_is_not_trusted() {
    let Some(f) = Fixture::moto() else { return };
    let a = f.machine("home-a");
    let names = add_source(&a, &f.source_dir()).await;
    for pack in f.keys_below(PACKS_PREFIX).await {
        f.store.delete(&pack.path).await.unwrap();
    }
    let real = records(&a, &names).await;
    let listed: HashMap<Name, String> = f
        .keys_below(&format!("{NAMES_PREFIX}/data"))
        .await
        .into_iter()
        .map(|meta| {
            let name = StorePath::name_from_record_path(meta.path.as_str()).unwrap();
            (name, meta.version.e_tag.expect("moto lists e-tags"))
        })
        .collect();
    // Each entry carries a real e-tag, but that of the next name, and a
    // record that differs from the real one.
    let forged: Vec<PackedRecord> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut record = real[name].clone();
            record.size += 1;
            PackedRecord {
                e_tag: listed[&names[(i + 1) % names.len()]].clone(),
                record,
            }
        })
        .collect();
    let prefix = Name::new("data").unwrap();
    let forged = RecordPack::new(forged).to_json();
    let garbage = b"{\"schema_version\":1,\"entries\":[{\"e_tag\":1}]}".to_vec();
    for bytes in [forged, garbage] {
        let path = StorePath::record_pack(&prefix, &Digest::of(&bytes));
        f.store
            .put(&path, Bytes::from(bytes), PutMode::Overwrite)
            .await
            .unwrap();
    }

    let b = f.machine("home-b");
    f.store.reset();
    assert_eq!(b.refresh_async().await.unwrap(), FILES);
    assert_eq!(f.store.gets_under(PACKS_PREFIX).0, 2, "both packs are read");
    assert_eq!(
        f.store.gets_under(NAMES_PREFIX).0,
        FILES as u64,
        "every name is fetched"
    );
    assert_eq!(records(&b, &names).await, real);
}

/// Packs of unrelated prefixes are not even read.
#[tokio::test(flavor = "multi_thread")]
async fn adding_below_a_prefix_reads_only_related_packs() {
    let Some(f) = Fixture::moto() else { return };
    let a = f.machine("home-a");
    let src = f.source_dir();
    add_source(&a, &src).await;
    a.add_dir_async(&src, &Name::new("elsewhere").unwrap(), AddMode::Copy)
        .await
        .unwrap();
    assert_eq!(f.keys_below(PACKS_PREFIX).await.len(), 2);

    // B adds into data/d0: the refresh of that prefix may use the pack of
    // `data` (an ancestor), not the one of `elsewhere`.
    let b = f.machine("home-b");
    f.store.reset();
    let outcomes = b
        .add_dir_async(
            &src.join("d0"),
            &Name::new("data/d0").unwrap(),
            AddMode::Copy,
        )
        .await
        .unwrap();
    assert!(outcomes.iter().all(|o| !o.created));
    assert_eq!(f.store.gets_under(PACKS_PREFIX).0, 1);
    assert!(f.store.gets_under(NAMES_PREFIX).0 < 5);
}

/// See issue 17, "a forged record pack": a copy of a real pack with one
/// entry's digest and size changed to another blob's, its e-tag kept, made
/// a fresh home serve the other file under that name.
#[tokio::test(flavor = "multi_thread")]
async fn issue_17_a_forged_entry_with_the_real_e_tag_is_not_trusted() {
    let Some(f) = Fixture::moto() else { return };
    let a = f.machine("home-a");
    let names = add_source(&a, &f.source_dir()).await;
    let real = records(&a, &names).await;
    let packs = f.keys_below(PACKS_PREFIX).await;
    assert_eq!(packs.len(), 1);
    let mut pack = RecordPack::from_json(&f.read(&packs[0].path).await).unwrap();
    f.store.delete(&packs[0].path).await.unwrap();
    let (victim, other) = (&names[3], &names[4]);
    let entry = pack
        .entries
        .iter_mut()
        .find(|e| &e.record.name == victim)
        .unwrap();
    entry.record.blake3 = real[other].blake3;
    entry.record.size = real[other].size;
    let forged = pack.to_json();
    let prefix = Name::new("data").unwrap();
    f.store
        .put(
            &StorePath::record_pack(&prefix, &Digest::of(&forged)),
            Bytes::from(forged),
            PutMode::Overwrite,
        )
        .await
        .unwrap();

    let b = f.machine("home-b");
    f.store.reset();
    assert_eq!(b.refresh_async().await.unwrap(), FILES);
    assert_eq!(
        f.store.gets_under(NAMES_PREFIX).0,
        1,
        "only the forged entry is fetched"
    );
    assert_eq!(b.record_async(victim).await.unwrap(), real[victim]);
    let bytes = std::fs::read(b.fetch_async(victim).await.unwrap()).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(a.fetch_async(victim).await.unwrap()).unwrap()
    );
}

/// On a store whose e-tags are not content hashes (memory, `file://`,
/// Azure) no reader could trust a pack, so none is written, and a fresh
/// home reads each record.
#[tokio::test(flavor = "multi_thread")]
async fn no_pack_is_written_where_e_tags_prove_nothing() {
    let f = Fixture::memory();
    let a = f.machine("home-a");
    let names = add_source(&a, &f.source_dir()).await;
    assert!(f.keys_below(PACKS_PREFIX).await.is_empty());
    let b = f.machine("home-b");
    f.store.reset();
    assert_eq!(b.refresh_async().await.unwrap(), FILES);
    assert_eq!(f.store.gets_under(NAMES_PREFIX).0, FILES as u64);
    assert_eq!(records(&b, &names).await, records(&a, &names).await);
}
