//! The `lake` command line, as a library: the `lake` binary is
//! [`main`], and a pipeline's own binary can be too, with the
//! creator-aware commands (`status`, `creators`) seeing its creators.
//!
//! Parsing happens in two steps (as in ripgrep): `lowargs` holds what clap
//! parsed, and each command turns it into library calls.

mod annotate;
mod commands;
mod creators;
mod doctor;
mod files;
mod listing;
mod lowargs;
mod output;
mod remove;
mod render;
mod show_config;
mod stores;

use std::process::ExitCode;

use clap::Parser;

/// Exit statuses, as `lake --help` and README.md list them. A usage error
/// exits with 2 from clap's own `parse`, which is why that is its number.
pub(crate) mod status {
    /// An error, printed on one line.
    pub(crate) const ERROR: u8 = 1;
    /// `lake verify` found problems that it did not repair.
    pub(crate) const PROBLEMS_FOUND: u8 = 3;
}

/// Runs the `lake` command line on this process's arguments and returns
/// its exit status: every `lake` subcommand, and, in a pipeline's own
/// binary, `lake status` and `lake creators` over that pipeline's creators.
///
/// ```no_run
/// // src/bin/my-lake.rs of a pipeline crate (feature `cli` of lake-runtime):
/// fn main() -> std::process::ExitCode {
///     lake_runtime::cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let args = lowargs::LowArgs::parse();
    init_tracing(&args.global);
    match commands::run(args) {
        Ok(code) => code,
        // The reader of stdout went away (`lake ls | head`): it has what it
        // wanted, so the run ends quietly and successfully.
        Err(_) if output::stdout_closed() => ExitCode::SUCCESS,
        Err(err) => {
            let style = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("lake: {style}error:{style:#} {}", one_line(&err));
            ExitCode::from(status::ERROR)
        }
    }
}

/// The error and its causes as one line, each cause once.
///
/// The library's messages already include their cause (`cannot open x: No
/// such file`), so a cause whose text is already in the line is not
/// repeated, as `{:#}` would. A server's multi-line answer (Azure's XML
/// errors) becomes its code and message.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = flatten(&cause.to_string());
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// One line of `text`: an XML error body is reduced to its `Code` and
/// `Message`, and line breaks become spaces.
fn flatten(text: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].trim().to_owned())
    };
    let text = match (
        text.find("<?xml").or_else(|| text.find("<Error>")),
        tag("Code"),
    ) {
        (Some(xml), Some(code)) => {
            let message = tag("Message").unwrap_or_default();
            let message = message.lines().next().unwrap_or_default();
            format!("{}{code}: {message}", &text[..xml])
        }
        _ => text.to_owned(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn init_tracing(global: &lowargs::GlobalArgs) {
    let spec = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec,
        _ => flag_level(global).to_owned(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(scoped_to_lake(&spec))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| RedactingWriter(std::io::stderr()))
        .with_ansi(output::stderr_colored())
        .without_time()
        .init();
}

/// The log level that `-q` and `-v`… ask for (warnings by default).
fn flag_level(global: &lowargs::GlobalArgs) -> &'static str {
    match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    }
}

/// Lake's crates, which a bare `RUST_LOG` level applies to.
const LAKE_TARGETS: &[&str] = &["lake", "lake_runtime", "lake_core"];

/// `RUST_LOG` with each bare level (`trace`, `debug`, …) applied to lake's
/// own crates only, other crates staying at `warn`: `RUST_LOG=trace` must
/// not turn on every HTTP library's request dumps. A directive that names a
/// target (`hyper_util=trace`) is kept as written.
fn scoped_to_lake(spec: &str) -> String {
    let mut directives = vec!["warn".to_owned()];
    for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare_level = matches!(
            directive.to_ascii_lowercase().as_str(),
            "trace" | "debug" | "info" | "warn" | "error" | "off"
        );
        if bare_level {
            directives.extend(LAKE_TARGETS.iter().map(|t| format!("{t}={directive}")));
        } else {
            directives.push(directive.to_owned());
        }
    }
    directives.join(",")
}

/// Stderr, with every line passed through the store secrets' redactor:
/// dependencies format their own messages, which may hold a credential.
struct RedactingWriter(std::io::Stderr);

impl std::io::Write for RedactingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // tracing's formatter hands over one whole event per write.
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::store::redact_known_secrets(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_levels_apply_to_lake_only() {
        assert_eq!(scoped_to_lake(""), "warn");
        assert_eq!(
            scoped_to_lake("trace"),
            "warn,lake=trace,lake_runtime=trace,lake_core=trace"
        );
        assert_eq!(
            scoped_to_lake("debug,hyper_util=trace"),
            "warn,lake=debug,lake_runtime=debug,lake_core=debug,hyper_util=trace"
        );
    }

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::other("No space left on device (os error 28)");
        let err =
            anyhow::Error::new(io).context("cannot write x: No space left on device (os error 28)");
        assert_eq!(
            one_line(&err),
            "cannot write x: No space left on device (os error 28)"
        );
        let err = anyhow::anyhow!("inner cause").context("outer");
        assert_eq!(one_line(&err), "outer: inner cause");
    }

    #[test]
    fn xml_error_bodies_become_code_and_message() {
        let azure = "Generic error: response error \"request error\", after 0 retries: \
            HTTP status client error (403 Forbidden) for url (https://a.blob/c/x)\n\
            <?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Error>\n  <Code>AuthorizationFailure</Code>\n  \
            <Message>This request is not authorized to perform this operation.\nRequestId:1\nTime:2</Message>\n</Error>";
        let line = flatten(azure);
        assert!(!line.contains('\n'), "{line}");
        assert!(!line.contains("<?xml"), "{line}");
        assert!(
            line.ends_with(
                "AuthorizationFailure: This request is not authorized to perform this operation."
            ),
            "{line}"
        );
        assert!(line.starts_with("Generic error"), "{line}");
    }
}
