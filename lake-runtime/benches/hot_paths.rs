//! Hot paths: a warm cache-hit `#[file_creator]` call, key computation,
//! name validation, the index lookup behind a cold hit, and hashing.
//!
//! `cargo bench -p lake-runtime --bench hot_paths`

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, criterion_group, criterion_main};
use lake_runtime::key::{CodeIdentity, KeyParams, encode_arg};
use lake_runtime::{Digest, File, Lake, LakeConfigBuilder, Name, file_creator};

#[file_creator]
fn scale(input: &File, factor: u32, label: String) -> File {
    let mut out = File::create_output().unwrap();
    write!(out, "{factor} {label} {}", input.size().unwrap()).unwrap();
    out.commit().unwrap()
}

fn warm_lake(dir: &tempfile::TempDir) -> (Lake, File) {
    let lake = Lake::open_with(
        LakeConfigBuilder::new()
            .with_home(dir.path().join("home"))
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut w = lake.create("bench/input.csv").unwrap();
    w.write_all(b"a,b\n1,2\n").unwrap();
    (lake, w.commit().unwrap())
}

fn cache_hit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (lake, input) = warm_lake(&dir);
    let first = scale(&input, 3, "x".into());
    c.bench_function("file_creator warm hit (local home)", |b| {
        b.iter(|| {
            let out = scale(black_box(&input), black_box(3), black_box("x".to_owned()));
            debug_assert_eq!(out, first);
            out
        })
    });

    // A fresh lake on the same home: the first hit reads SQLite, not memory.
    c.bench_function("file_creator first hit in a new Lake (index)", |b| {
        b.iter_batched(
            || {
                Lake::open_with(
                    LakeConfigBuilder::new()
                        .with_home(dir.path().join("home"))
                        .build()
                        .unwrap(),
                )
                .unwrap()
                .file("bench/input.csv")
                .unwrap()
            },
            |input| scale(&input, 3, "x".into()),
            criterion::BatchSize::SmallInput,
        )
    });
    drop(lake);
}

fn key_computation(c: &mut Criterion) {
    let name: Name = "bench/input.csv".parse().unwrap();
    let digest = Digest::of(b"a,b\n1,2\n");
    c.bench_function("key: 2 small args + 1 input", |b| {
        b.iter(|| {
            let factor = encode_arg("factor", black_box(&3u32)).unwrap();
            let label = encode_arg("label", black_box("x")).unwrap();
            KeyParams::new("bench::scale", CodeIdentity::Hash("0123abcd".into()))
                .with_arg("factor", &factor)
                .with_arg("label", &label)
                .with_input("input", &name, &digest)
                .compute()
        })
    });
}

fn names_and_hashing(c: &mut Criterion) {
    c.bench_function("name validation (40 bytes, 4 segments)", |b| {
        b.iter(|| Name::new(black_box("raw/2026/11/measurements-station-42.csv")).unwrap())
    });
    let data = vec![7u8; 1 << 20];
    c.bench_function("blake3 1 MiB", |b| b.iter(|| Digest::of(black_box(&data))));
}

criterion_group!(benches, cache_hit, key_computation, names_and_hashing);
criterion_main!(benches);
