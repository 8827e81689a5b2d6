//! Large downloads read several ranges at once, land whole, and are refused
//! whole when the store's bytes are wrong.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use lake_core::{PutMode, Store, StorePath};
use lake_runtime::store::{CountingStore, open_store};
use lake_runtime::{Digest, Error, Lake, LakeConfigBuilder, Name};

/// Above the size where downloads switch to ranges, and not a whole number
/// of MiB, so the last range is short.
const LARGE: usize = (64 << 20) + 12_345;

/// Pseudo-random bytes: a range written at the wrong offset cannot go
/// unnoticed.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

struct Fixture {
    lake: Lake,
    store: Arc<CountingStore>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("memory://downloads-{}", std::process::id());
    let inner = open_store(&format!("{url}-{:p}", &dir)).unwrap();
    let store = Arc::new(CountingStore::new(inner));
    let config = LakeConfigBuilder::new()
        .with_home(dir.path().join("home"))
        .with_store(url)
        .build()
        .unwrap();
    let lake = Lake::open_with_store(config, store.clone()).unwrap();
    Fixture {
        lake,
        store,
        _dir: dir,
    }
}

fn add(lake: &Lake, name: &str, bytes: &[u8]) -> Name {
    let mut writer = lake.create(name).unwrap();
    writer.write_all(bytes).unwrap();
    writer.commit().unwrap();
    Name::new(name).unwrap()
}

#[test]
fn a_large_blob_downloads_in_ranges_and_lands_whole() {
    let f = fixture();
    let bytes = content(LARGE, 7);
    let name = add(&f.lake, "big.bin", &bytes);
    f.lake
        .evict(&lake_runtime::Evict::Names(vec![name.clone()]))
        .unwrap();
    assert!(!f.lake.exists_locally(&name).unwrap());

    let before = f.store.counts();
    let local = f.lake.fetch(&name).unwrap();
    let after = f.store.counts();
    assert!(
        after.get - before.get > 1,
        "one request for {LARGE} bytes: {} gets",
        after.get - before.get
    );
    assert_eq!(after.get_bytes - before.get_bytes, LARGE as u64);
    let got = std::fs::read(&local).unwrap();
    assert_eq!(got.len(), LARGE);
    assert!(Digest::of(&got) == Digest::of(&bytes), "other bytes landed");
    assert!(std::fs::metadata(&local).unwrap().permissions().readonly());
}

#[test]
fn a_tampered_large_blob_is_refused_and_nothing_lands() {
    let f = fixture();
    let bytes = content(LARGE, 11);
    let name = add(&f.lake, "big.bin", &bytes);
    f.lake
        .evict(&lake_runtime::Evict::Names(vec![name.clone()]))
        .unwrap();

    // Same size, one byte changed in the last range.
    let mut tampered = bytes.clone();
    tampered[LARGE - 5] ^= 1;
    let blob = StorePath::blob(&Digest::of(&bytes));
    futures::executor::block_on(
        f.store
            .put(&blob, Bytes::from(tampered), PutMode::Overwrite),
    )
    .unwrap();

    let err = f.lake.fetch(&name).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("big.bin"), "{err}");
    assert!(!f.lake.exists_locally(&name).unwrap());
    let home = f.lake.home_dir();
    let staged: Vec<_> = std::fs::read_dir(home.join("tmp")).unwrap().collect();
    assert!(staged.is_empty(), "staging kept {staged:?}");
}

#[test]
fn a_truncated_large_blob_is_refused() {
    let f = fixture();
    let bytes = content(LARGE, 13);
    let name = add(&f.lake, "big.bin", &bytes);
    f.lake
        .evict(&lake_runtime::Evict::Names(vec![name.clone()]))
        .unwrap();
    let blob = StorePath::blob(&Digest::of(&bytes));
    let short = Bytes::copy_from_slice(&bytes[..LARGE - 100]);
    futures::executor::block_on(f.store.put(&blob, short, PutMode::Overwrite)).unwrap();

    let err = f.lake.fetch(&name).unwrap_err();
    assert!(err.to_string().contains("blobs/"), "{err}");
    assert!(!f.lake.exists_locally(&name).unwrap());
}

/// Issue 16 item 4: `pull` of four names holding the same bytes (and one
/// other) downloads each distinct content once.
#[test]
fn pull_downloads_names_with_equal_bytes_once() {
    let f = fixture();
    let shared = content(LARGE, 21);
    let other = content(1000, 22);
    for i in 0..4 {
        add(&f.lake, &format!("copies/{i}.bin"), &shared);
    }
    add(&f.lake, "copies/other.bin", &other);
    f.lake.evict(&lake_runtime::Evict::All).unwrap();

    let before = f.store.counts();
    let report = f.lake.pull("copies").unwrap();
    let after = f.store.counts();
    assert_eq!(report.downloaded, 5);
    assert_eq!(report.contents, 2);
    assert_eq!(report.bytes, (LARGE + 1000) as u64);
    // Content once, plus the few records the listing reads.
    let read = after.get_bytes - before.get_bytes;
    assert!(
        read >= (LARGE + 1000) as u64 && read < (LARGE + 1000 + (64 << 10)) as u64,
        "{read} bytes read for {} bytes of distinct content",
        LARGE + 1000
    );
    for i in 0..4 {
        let name = Name::new(format!("copies/{i}.bin")).unwrap();
        assert!(f.lake.exists_locally(&name).unwrap(), "{name} is not local");
    }
}
