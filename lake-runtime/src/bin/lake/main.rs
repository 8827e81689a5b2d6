//! The `lake` command line: a thin shell over `lake_runtime`.
//!
//! Parsing happens in two steps (as in ripgrep): `lowargs` holds what clap
//! parsed, and each command turns it into library calls.

mod commands;
mod lowargs;
mod render;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = lowargs::LowArgs::parse();
    init_tracing();
    match commands::run(args) {
        Ok(code) => code,
        Err(err) => {
            // One line, naming the bad value: the library's messages already
            // do, and `{:#}` joins any context added here with ": ".
            eprintln!("lake: error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}
