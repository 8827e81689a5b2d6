//! Demo pipelines for lake; see `examples/`.
//!
//! What the examples share lives here.

/// Shows lake's log lines (`skipping …`, `running …`) on stdout, next to a
/// demo's own output. `RUST_LOG` overrides the default level,
/// `lake_runtime=info`.
pub fn show_lake_log_on_stdout() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "lake_runtime=info".into()),
        )
        .with_writer(std::io::stdout)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_target(false)
        .without_time()
        .init();
}
