//! Streams `<MiB>` MiB straight to the store as `<name>` with
//! `Lake::create_streaming`, then prints one JSON line: the committed
//! blake3 and size, and the process's peak resident memory (`VmHWM`).
//!
//! ```text
//! lake-stream-write <name> <MiB> [<hang after MiB>]
//! ```
//! With a third argument, it prints `HANGING` after writing that many MiB
//! and then waits forever, mid-upload, to be killed.
//! The lake comes from `LAKE_HOME`, `LAKE_STORE` and `LAKE_STORE_OPT_*`.
//! The content is [`lake_tests::streamed_chunk`] for chunks 0, 1, 2, …

use std::io::Write;

use lake_runtime::Lake;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().ok_or("usage: lake-stream-write <name> <MiB>")?;
    let mib: u64 = args
        .next()
        .ok_or("usage: lake-stream-write <name> <MiB>")?
        .parse()?;
    let hang_after: Option<u64> = args.next().map(|a| a.parse()).transpose()?;
    let lake = Lake::open()?;
    let mut out = lake.create_streaming(&name)?;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..mib {
        if hang_after == Some(i) {
            out.flush()?;
            println!("HANGING");
            std::io::stdout().flush()?;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        lake_tests::streamed_chunk(i, &mut chunk);
        out.write_all(&chunk)?;
    }
    let file = out.commit()?;
    let record = file.record()?;
    println!(
        "{{\"blake3\":\"{}\",\"size\":{},\"peak_rss_kib\":{}}}",
        record.blake3,
        record.size,
        peak_rss_kib()
    );
    Ok(())
}
