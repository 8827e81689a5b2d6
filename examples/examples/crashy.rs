//! A three-step pipeline with large-ish outputs, for crash tests: kill it at
//! any instant, run it again, and it finishes with the same final digest.
//!
//! 1. `generate(seed, mib)`: two outputs of `mib` MiB of pseudo-random bytes.
//! 2. `mix(a, b)`: their byte-wise combination, `mib` MiB.
//! 3. `summarize(mixed)`: a text line with the input's digest, followed by
//!    the input reversed in 64 KiB blocks.
//!
//! Every step is deterministic, so an interrupted run and an uninterrupted
//! one agree on every digest. Reads `LAKE_HOME` and `LAKE_STORE` (and
//! `lake.toml`) like the `lake` binary; `CRASHY_MIB` sets the size (default 4)
//! and `CRASHY_SEED` the seed (default 1). Prints, last:
//!
//! ```text
//! final <name> <blake3 hex>
//! ```
//!
//! ```text
//! cargo run -p lake-examples --example crashy
//! ```

use std::io::{Read, Write};

use lake_runtime::{File, Lake, file_creator};

const BLOCK: usize = 64 * 1024;

/// xorshift64*: deterministic bytes, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Two streams of `mib` MiB of pseudo-random bytes.
#[file_creator]
fn generate(seed: u64, mib: u32) -> lake_runtime::Result<(File, File)> {
    let mut outputs = Vec::new();
    for stream in 0..2u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (stream + 1));
        let mut out = File::create_output()?;
        let mut buf = vec![0u8; BLOCK];
        for _ in 0..(mib as usize * (1 << 20) / BLOCK) {
            rng.fill(&mut buf);
            out.write_all(&buf)?;
        }
        outputs.push(out.commit()?);
    }
    let b = outputs.pop().expect("two outputs");
    let a = outputs.pop().expect("two outputs");
    Ok((a, b))
}

/// `a[i] + 31 * b[i]`, byte-wise.
#[file_creator]
fn mix(a: &File, b: &File) -> lake_runtime::Result<File> {
    let mut ra = std::io::BufReader::new(a.open()?);
    let mut rb = std::io::BufReader::new(b.open()?);
    let mut out = File::create_output()?;
    let (mut ba, mut bb) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    loop {
        let n = read_full(&mut ra, &mut ba)?;
        let m = read_full(&mut rb, &mut bb)?;
        let n = n.min(m);
        if n == 0 {
            break;
        }
        for (x, y) in ba[..n].iter_mut().zip(&bb[..n]) {
            *x = x.wrapping_add(y.wrapping_mul(31));
        }
        out.write_all(&ba[..n])?;
    }
    out.commit()
}

/// A header naming the input's digest, then the input in reverse block order.
#[file_creator]
fn summarize(mixed: &File) -> lake_runtime::Result<File> {
    let bytes = mixed.read()?;
    let mut out = File::create_output()?;
    writeln!(
        out,
        "summary of {} ({} bytes, blake3 {})",
        mixed.name(),
        bytes.len(),
        mixed.digest()?
    )?;
    for block in bytes.rchunks(BLOCK) {
        out.write_all(block)?;
    }
    out.commit()
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u32 = env_or("CRASHY_MIB", 4);
    let seed: u64 = env_or("CRASHY_SEED", 1);
    let lake = Lake::open()?;
    let (a, b) = lake.scope(|| generate(seed, mib))?;
    println!("generated {} and {}", a.name(), b.name());
    let mixed = mix(&a, &b)?;
    println!("mixed {}", mixed.name());
    let summary = summarize(&mixed)?;
    println!("final {} {}", summary.name(), summary.digest()?);
    Ok(())
}
