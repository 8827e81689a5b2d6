//! `lake config`: every setting that applies here, and where it came from
//! (a flag, the environment, `lake.toml`, or the default). Secrets show as
//! `***`; the `AWS_*`, `AZURE_*` and `GOOGLE_*` variables the store client
//! reads are named, never shown.

use std::io::Write;
use std::process::ExitCode;

use crate::LakeConfig;
use crate::store::{StoreOptions, redact_url};
use anyhow::Result;
use serde_json::json;

use crate::cli::output;

/// `key=value`, or `key=***` for a secret.
fn option_text(key: &str, value: &str) -> String {
    StoreOptions::new().with(key, value).redacted()
}

/// The names of the `AWS_*`, `AZURE_*` and `GOOGLE_*` variables set here,
/// which the store client reads; never their values.
pub(crate) fn credential_variables() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| {
            ["AWS_", "AZURE_", "GOOGLE_"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .collect();
    names.sort();
    names
}

pub(crate) fn run(config: &LakeConfig, json: bool) -> Result<ExitCode> {
    let origins = &config.origins;
    let mut out = output::stdout();
    let options: Vec<(String, &str)> = config
        .store_options
        .iter()
        .map(|(k, v)| {
            let origin = origins.store_options.get(k).map_or("", String::as_str);
            (option_text(k, v), origin)
        })
        .collect();
    if json {
        let value = json!({
            "file": origins.file,
            "home": {"value": config.home, "from": origins.home},
            "store": {"value": redact_url(&config.store_url), "name": config.default_store, "from": origins.store},
            "refresh_secs": {"value": config.refresh_interval.as_secs(), "from": origins.refresh},
            "read_order": {"value": config.read_order, "from": origins.read_order},
            "replicas": config.replicas.iter().map(|(name, r)| json!({
                "name": name,
                "url": redact_url(&r.url),
                "options": r.options.iter().map(|(k, v)| option_text(k, v)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "store_options": options.iter().map(|(text, from)| json!({"option": text, "from": from})).collect::<Vec<_>>(),
            "environment": credential_variables(),
        });
        serde_json::to_writer_pretty(&mut out, &value)?;
        writeln!(out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let row = |out: &mut dyn Write, key: &str, value: &str, from: &str| {
        let line = format!("{key:<13} {value:<44} {from}");
        writeln!(out, "{}", line.trim_end())
    };
    match &origins.file {
        Some(file) => row(&mut out, "config file", &file.display().to_string(), "")?,
        None => row(&mut out, "config file", "(none found)", "")?,
    }
    row(
        &mut out,
        "home",
        &config.home.display().to_string(),
        &origins.home,
    )?;
    row(
        &mut out,
        "store",
        &format!(
            "{} ({})",
            redact_url(&config.store_url),
            config.default_store
        ),
        &origins.store,
    )?;
    row(
        &mut out,
        "refresh_secs",
        &config.refresh_interval.as_secs().to_string(),
        &origins.refresh,
    )?;
    row(
        &mut out,
        "read_order",
        &config.read_order.join(", "),
        &origins.read_order,
    )?;
    for (name, replica) in &config.replicas {
        row(
            &mut out,
            "replica",
            &format!("{name}: {}", redact_url(&replica.url)),
            &format!("lake.toml: stores.{name}"),
        )?;
    }
    for (text, from) in &options {
        row(&mut out, "store option", text, from)?;
    }
    let variables = credential_variables();
    if !variables.is_empty() {
        row(
            &mut out,
            "environment",
            &variables.join(" "),
            "read by the store client; values not shown",
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
