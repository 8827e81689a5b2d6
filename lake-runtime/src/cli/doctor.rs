//! `lake doctor`: is this configuration usable, and does its store keep the
//! guarantees lake relies on? Each check prints one line, `ok`, `warn` or
//! `FAIL`; any `FAIL` exits 1. Secrets are never printed: options show as
//! `key=***`, and the environment's credentials by variable name only.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::store::probe::{ProbeOptions, probe_conditionals};
use crate::store::{StoreOptions, open_store_with, redact_url};
use crate::{LakeConfig, PutMode, Store, StoreExt, StorePath};
use anyhow::Result;
use bytes::Bytes;
use serde::Serialize;

use crate::cli::lowargs::GlobalArgs;
use crate::cli::{output, status};

/// A clock this far from the store's makes gc's age checks unreliable: the
/// grace period (1 h) and the blob reuse age (30 min) compare the store's
/// times with this machine's.
const CLOCK_WARN: Duration = Duration::from_secs(60);
const CLOCK_FAIL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    level: Level,
    detail: String,
}

struct Report(Vec<Check>);

impl Report {
    fn add(&mut self, check: &'static str, level: Level, detail: impl Into<String>) {
        self.0.push(Check {
            check,
            level,
            detail: detail.into(),
        });
    }

    fn failed(&self) -> bool {
        self.0.iter().any(|c| c.level == Level::Fail)
    }
}

/// Runs every check, and prints them as lines or as JSON.
pub(crate) fn run(
    global: &GlobalArgs,
    config: Result<LakeConfig>,
    thorough: bool,
    json: bool,
) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let probe = if thorough {
        ProbeOptions::default()
    } else {
        ProbeOptions::quick()
    };
    let report = runtime.block_on(checks(config, probe));
    let mut out = output::stdout();
    if json {
        serde_json::to_writer_pretty(&mut out, &report.0)?;
        writeln!(out)?;
    } else if !global.quiet || report.failed() {
        for check in &report.0 {
            let level = match check.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            writeln!(out, "{level}  {:<20} {}", check.check, check.detail)?;
        }
    }
    out.flush()?;
    Ok(if report.failed() {
        ExitCode::from(status::ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

async fn checks(config: Result<LakeConfig>, probe_options: ProbeOptions) -> Report {
    let mut report = Report(Vec::new());
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            report.add("configuration", Level::Fail, format!("{e:#}"));
            return report;
        }
    };
    let options = config
        .store_options
        .iter()
        .fold(StoreOptions::new(), |o, (k, v)| o.with(k, v));
    let credentials = crate::cli::show_config::credential_variables();
    report.add(
        "configuration",
        Level::Ok,
        format!(
            "home {}, store {}{}{}",
            config.home.display(),
            redact_url(&config.store_url),
            match options.redacted() {
                o if o.is_empty() => String::new(),
                o => format!(", options {o}"),
            },
            if credentials.is_empty() {
                String::new()
            } else {
                format!(", from the environment {}", credentials.join(" "))
            }
        ),
    );
    let store = match open_store_with(&config.store_url, &options) {
        Ok(store) => store,
        Err(e) => {
            report.add("store", Level::Fail, e.to_string());
            return report;
        }
    };
    let started = Instant::now();
    let names = StorePath::parse(crate::NAMES_PREFIX).expect("a valid prefix");
    match store.list(&names, None, 1).await {
        Ok(_) => report.add(
            "store reachable",
            Level::Ok,
            format!("listed names/ in {} ms", started.elapsed().as_millis()),
        ),
        Err(e) => {
            report.add("store reachable", Level::Fail, e.to_string());
            return report;
        }
    }
    if !round_trip(&*store, &mut report).await {
        return report;
    }
    let probe = probe_conditionals(Arc::clone(&store), &probe_options).await;
    for (check, verdict, consequence) in [
        (
            "conditional create",
            probe.create_verdict(),
            "two machines can both win one name, and a name can change content",
        ),
        (
            "compare-and-swap",
            probe.cas_verdict(),
            "concurrent annotation updates can be lost",
        ),
    ] {
        if verdict.is_atomic() {
            let more = if probe_options == ProbeOptions::quick() {
                "; --thorough races longer"
            } else {
                ""
            };
            report.add(check, Level::Ok, format!("{verdict}{more}"));
        } else {
            report.add(check, Level::Fail, format!("{verdict}: {consequence}"));
        }
    }
    incomplete_uploads(&*store, &mut report).await;
    if let Err(e) = probe.cleaned {
        report.add(
            "clean up",
            Level::Warn,
            format!("could not delete {}/: {e}", probe.root),
        );
    }
    report
}

/// Whether the store's incomplete multipart uploads (what writers killed
/// mid-upload leave, billed and unlisted) can be listed for `lake gc` to
/// abort, and how many there are.
async fn incomplete_uploads(store: &dyn Store, report: &mut Report) {
    const CHECK: &str = "incomplete uploads";
    match store.incomplete_uploads().await {
        Ok(uploads) if uploads.is_empty() => report.add(CHECK, Level::Ok, "none"),
        Ok(uploads) => report.add(
            CHECK,
            Level::Ok,
            format!(
                "{} multipart upload(s) never completed; lake gc aborts those older than its \
                 grace period",
                uploads.len()
            ),
        ),
        Err(crate::StoreError::NotSupported { operation, .. }) => report.add(
            CHECK,
            Level::Warn,
            format!(
                "cannot be listed ({operation}): give the bucket a lifecycle rule that aborts \
                 incomplete multipart uploads"
            ),
        ),
        Err(e) => report.add(CHECK, Level::Warn, e.to_string()),
    }
}

/// Writes, reads back and deletes one object, and compares the store's
/// clock with this machine's. False if the store cannot be used at all.
async fn round_trip(store: &dyn Store, report: &mut Report) -> bool {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let path = StorePath::parse(&format!("lake-doctor/{}-{nanos:x}", std::process::id()))
        .expect("a valid key");
    let body = Bytes::from(format!("lake doctor {nanos}"));
    let started = Instant::now();
    let written = async {
        store.put(&path, body.clone(), PutMode::Overwrite).await?;
        let meta = store.head(&path).await?;
        let read = store.read_all(&path).await?;
        store.delete(&path).await?;
        Ok::<_, crate::StoreError>((meta, read))
    };
    let (meta, read) = match written.await {
        Ok(done) => done,
        Err(e) => {
            report.add("write, read, delete", Level::Fail, e.to_string());
            return false;
        }
    };
    if read != body {
        report.add(
            "write, read, delete",
            Level::Fail,
            format!("{path} read back {} bytes other than written", read.len()),
        );
        return false;
    }
    report.add(
        "write, read, delete",
        Level::Ok,
        format!("{} ms", started.elapsed().as_millis()),
    );
    let skew = (chrono::Utc::now() - meta.last_modified)
        .abs()
        .to_std()
        .unwrap_or_default();
    let level = if skew >= CLOCK_FAIL {
        Level::Fail
    } else if skew >= CLOCK_WARN {
        Level::Warn
    } else {
        Level::Ok
    };
    let detail = if level == Level::Ok {
        format!(
            "the store's clock and this machine's agree within {} s",
            CLOCK_WARN.as_secs()
        )
    } else {
        format!(
            "the store's clock is {} s from this machine's: gc's grace period and the blob reuse age compare them",
            skew.as_secs()
        )
    };
    report.add("clock", level, detail);
    true
}
