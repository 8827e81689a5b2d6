//! Each command: resolve settings, call the library, print.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::store::{CountingStore, StoreOptions, open_store_with};
use crate::{
    AddMode, AnnotationFilter, GcOptions, GcScope, Lake, LakeConfigBuilder, LineageDirection, Name,
};
use anyhow::{Context, Result, bail};
use indicatif::HumanBytes;

use crate::cli::annotate::{self, Edit};
use crate::cli::files::{add, copy_out};
use crate::cli::listing::{self, Listing};
use crate::cli::lowargs::{Command, GlobalArgs, LineageFormat, LowArgs};
use crate::cli::{creators, output, remove, render, status, stores};

pub(crate) fn run(args: LowArgs) -> Result<ExitCode> {
    // Completions need no lake: they must work before one is configured.
    if let Command::Completions { shell } = args.command {
        let mut command = <LowArgs as clap::CommandFactory>::command();
        // Into memory first: clap_complete panics on a write error, such
        // as a closed pipe.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, "lake", &mut script);
        let mut out = output::stdout();
        out.write_all(&script)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Man = args.command {
        let mut page = Vec::new();
        clap_mangen::Man::new(<LowArgs as clap::CommandFactory>::command()).render(&mut page)?;
        let mut out = output::stdout();
        out.write_all(&page)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Config { json } = args.command {
        return crate::cli::show_config::run(&lake_config(&args.global)?, json);
    }
    if let Command::Doctor { thorough, json } = args.command {
        // Before the lake is opened: opening asks the store for its id, and
        // an unreachable store is one of the things to diagnose.
        let config = lake_config(&args.global);
        return crate::cli::doctor::run(&args.global, config, thorough, json);
    }
    let lake = open_lake(&args.global)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let quiet = args.global.quiet;
    runtime.block_on(async {
        // Borrowed, not moved, into the select: on Ctrl-C the work must stay
        // alive while its staging files are counted and removed, or dropping
        // it would delete them first and the report would say 0.
        let work = dispatch(&lake, &args.global, args.command);
        tokio::pin!(work);
        tokio::select! {
            done = &mut work => done.map_err(|err| with_suggestion(&lake, err)),
            _ = tokio::signal::ctrl_c() => interrupted(&lake, quiet),
        }
    })
}

/// Ctrl-C: this process's staging files go, which a killed process would
/// leave for `lake gc`, and the exit status is the shell's for SIGINT.
/// Nothing half-done is visible anyway: names appear only when complete.
fn interrupted(lake: &Lake, quiet: bool) -> Result<ExitCode> {
    crate::progress::clear_for_exit();
    let removed = lake.remove_own_staging()?;
    if !quiet {
        eprintln!(
            "lake: interrupted; removed {} staging file(s) ({})",
            removed.count,
            HumanBytes(removed.bytes)
        );
    }
    // Blocking work (a hash, a copy) may still hold a staging file open;
    // waiting for it to notice would delay the exit for nothing.
    std::process::exit(130)
}

/// A name that does not exist gets the closest names this home knows,
/// as `did you mean …?`: from the index, no store request.
fn with_suggestion(lake: &Lake, err: anyhow::Error) -> anyhow::Error {
    let Some(crate::Error::NotFound { name, .. }) = err.downcast_ref() else {
        return err;
    };
    let Ok(known) = lake.list("", false) else {
        return err;
    };
    let wanted = name.as_str();
    let mut close: Vec<(f64, &str)> = known
        .iter()
        .map(|entry| entry.name.as_str())
        .map(|known| (strsim::jaro_winkler(wanted, known), known))
        .filter(|(score, _)| *score >= 0.85)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    let names: Vec<&str> = close.iter().take(3).map(|(_, n)| *n).collect();
    if names.is_empty() {
        return err;
    }
    anyhow::anyhow!("{err:#}; did you mean {}?", names.join(", or "))
}

fn lake_config(global: &GlobalArgs) -> Result<crate::LakeConfig> {
    let mut builder = LakeConfigBuilder::from_env().with_progress(!global.quiet);
    if let Some(home) = &global.home {
        builder = builder.with_home(home);
    }
    if let Some(store) = &global.store_url {
        builder = builder.with_store(store);
    }
    Ok(builder.build()?)
}

/// The requests this process made to the store, for the summaries of
/// `add -r` and `pull` (issue 16).
static REQUESTS: std::sync::OnceLock<std::sync::Arc<CountingStore>> = std::sync::OnceLock::new();

fn open_lake(global: &GlobalArgs) -> Result<Lake> {
    let config = lake_config(global)?;
    let options = config
        .store_options
        .iter()
        .fold(StoreOptions::new(), |o, (k, v)| o.with(k, v));
    let store = std::sync::Arc::new(CountingStore::new(open_store_with(
        &config.store_url,
        &options,
    )?));
    let _ = REQUESTS.set(store.clone());
    Ok(Lake::open_with_store(config, store)?)
}

/// `12 requests (3.0 MiB up, 1.2 KiB down)`: what this process asked of the
/// store so far.
pub(crate) fn requests_so_far() -> String {
    let Some(store) = REQUESTS.get() else {
        return String::new();
    };
    let c = store.counts();
    let requests = c.head + c.get + c.put + c.list + c.delete + c.copy;
    format!(
        "{requests} request(s) ({} up, {} down)",
        HumanBytes(c.put_bytes),
        HumanBytes(c.get_bytes)
    )
}

/// Lays out and draws `dot` with layout-rs, so that no Graphviz install
/// is needed.
fn dot_to_svg(dot: &str) -> Result<String> {
    let graph = layout::gv::DotParser::new(dot)
        .process()
        .map_err(|e| anyhow::anyhow!("cannot lay out the lineage graph: {e}"))?;
    let mut builder = layout::gv::GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    let mut svg = layout::backends::svg::SVGWriter::new();
    visual.do_it(false, false, false, &mut svg);
    Ok(svg.finalize())
}

pub(crate) fn parse_name(name: &str) -> Result<Name> {
    Ok(Name::new(name)?)
}

async fn dispatch(lake: &Lake, global: &GlobalArgs, command: Command) -> Result<ExitCode> {
    let mut out = output::stdout();
    let code = match command {
        Command::Add {
            source,
            name,
            copy: _,
            move_source,
            recursive,
            annotate,
        } => {
            let name = parse_name(&name)?;
            let mode = if move_source {
                AddMode::Move
            } else {
                AddMode::Copy
            };
            let changes = annotate::Changes::from_args(&annotate)?;
            add(
                lake, global, &mut out, &source, &name, mode, recursive, &changes,
            )
            .await?
        }
        Command::Ls {
            prefix,
            json,
            recursive,
            refresh,
            long,
            tags,
            labels,
            since,
            local,
            remote,
            show_where,
        } => {
            let filter = AnnotationFilter {
                tags: tags
                    .iter()
                    .map(|t| annotate::parse_tag_filter(t))
                    .collect::<Result<_>>()?,
                labels,
                since: since.as_deref().map(annotate::parse_date).transpose()?,
                local,
                remote,
            };
            if filter.needs_annotations() || long {
                // One listing of notes/ below the prefix; only changed
                // annotations are read. The filter itself reads the index.
                lake.refresh_annotations_async(&prefix).await?;
            }
            let entries = lake.list_filtered_async(&prefix, refresh, &filter).await?;
            // A filter that keeps nothing is an answer, not an error.
            let filtered = !filter.is_empty();
            let prefix = prefix.trim_end_matches('/');
            if entries.is_empty() && !prefix.is_empty() && !filtered {
                bail!("no name is {prefix:?} or below it");
            }
            let notes = long.then(|| lake.cached_annotations(prefix)).transpose()?;
            let places = if show_where {
                let names: Vec<Name> = entries.iter().map(|e| e.name.clone()).collect();
                let found = lake.locations_below_async(&names).await?;
                Some(
                    found
                        .into_iter()
                        .map(|(name, at)| (name, at.into_iter().map(|s| s.name).collect()))
                        .collect::<std::collections::BTreeMap<Name, Vec<String>>>(),
                )
            } else {
                None
            };
            let listing = Listing::group(prefix, &entries, recursive);
            if json {
                listing::write_json_lines(&mut out, &listing, notes.as_ref(), places.as_ref())?;
            } else {
                render::listing(&mut out, &listing, notes.as_ref(), places.as_ref())?;
            }
            ExitCode::SUCCESS
        }
        Command::Info { name, json } => {
            let name = parse_name(&name)?;
            let record = lake.record_async(&name).await?;
            let annotations = lake.annotations_async(&name).await?;
            if json {
                let mut value = serde_json::to_value(&record)?;
                value["kind"] = "record".into();
                value["local"] = lake.exists_locally(&name)?.into();
                value["annotations"] = serde_json::to_value(&annotations)?;
                value["metadata_digest"] = annotations.metadata_digest().to_string().into();
                serde_json::to_writer_pretty(&mut out, &value)?;
                writeln!(out)?;
            } else {
                render::info(&mut out, &record, lake.exists_locally(&name)?)?;
                render::annotations(&mut out, &annotations)?;
            }
            ExitCode::SUCCESS
        }
        Command::Lineage {
            name,
            up,
            down,
            depth,
            format,
            output,
        } => {
            let direction = match (up, down) {
                (true, _) => LineageDirection::Up,
                (_, true) => LineageDirection::Down,
                _ => LineageDirection::Both,
            };
            let graph = lake
                .lineage_async(&parse_name(&name)?, direction, depth)
                .await?;
            let drawing = match format {
                LineageFormat::Text => graph.to_text(),
                LineageFormat::Dot => graph.to_dot(),
                LineageFormat::Mermaid => graph.to_mermaid(),
                LineageFormat::Json => serde_json::to_string_pretty(&graph)? + "\n",
                LineageFormat::Svg => dot_to_svg(&graph.to_dot())?,
            };
            match output {
                Some(path) => std::fs::write(&path, drawing)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => out.write_all(drawing.as_bytes())?,
            }
            ExitCode::SUCCESS
        }
        Command::Why { name, json } => {
            let why = lake.why_async(&parse_name(&name)?).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &why)?;
                writeln!(out)?;
            } else {
                render::why(&mut out, &why)?;
            }
            ExitCode::SUCCESS
        }
        Command::Cat { name, pointer } => {
            let path = match (name, pointer) {
                (_, Some(pointer)) => {
                    let file = lake.file_from_pointer_async(&pointer).await?;
                    file.local_path_async().await?
                }
                (Some(name), None) => lake.fetch_async(&parse_name(&name)?).await?,
                (None, None) => unreachable!("clap requires NAME or --pointer"),
            };
            let mut file = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            // Content is not text to style: no escape codes stripped. A
            // closed pipe (`lake cat big | head`) ends the run quietly: see
            // `output`.
            let mut raw = output::raw_stdout();
            std::io::copy(&mut file, &mut raw).context("cannot write to stdout")?;
            raw.flush()?;
            ExitCode::SUCCESS
        }
        Command::Get {
            name,
            output,
            force,
        } => {
            let name = parse_name(&name)?;
            let target = output.unwrap_or_else(|| PathBuf::from(name.file_name()));
            let target = if target.is_dir() {
                target.join(name.file_name())
            } else {
                target
            };
            if target.exists() && !force {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    target.display()
                );
            }
            let path = lake.fetch_async(&name).await?;
            copy_out(&path, &target)?;
            ExitCode::SUCCESS
        }
        Command::LocalPath { name } => {
            let path = lake.fetch_async(&parse_name(&name)?).await?;
            writeln!(out, "{}", path.display())?;
            ExitCode::SUCCESS
        }
        Command::Verify {
            names,
            store,
            repair,
            json,
        } => {
            let names = names
                .iter()
                .map(|n| parse_name(n))
                .collect::<Result<Vec<_>>>()?;
            let report = lake.verify_async(&names, store, repair).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else {
                for problem in &report.problems {
                    let fixed = if report.repaired.contains(&problem.name) {
                        " (repaired)"
                    } else {
                        ""
                    };
                    eprintln!(
                        "corrupt: {} [{}]: {}{fixed}",
                        problem.name, problem.place, problem.message
                    );
                }
                // Files, not problems: one file can have a bad local copy
                // and a bad store object.
                let bad: std::collections::BTreeSet<&crate::Name> =
                    report.problems.iter().map(|p| &p.name).collect();
                if !global.quiet {
                    writeln!(
                        out,
                        "verified {} file(s): {} ok, {} with problems ({} problem(s)), {} repaired",
                        report.ok.len() + bad.len(),
                        report.ok.len(),
                        bad.len(),
                        report.problems.len(),
                        report.repaired.len()
                    )?;
                }
                if !report.is_clean() && !repair {
                    eprintln!("hint: `lake verify --repair` re-downloads bad local copies");
                }
            }
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(status::PROBLEMS_FOUND)
            }
        }
        Command::Gc {
            grace,
            store,
            local,
            max_size,
            dry_run,
            json,
        } => {
            let scope = match (store, local) {
                (true, _) => GcScope::Store,
                (_, true) => GcScope::Local,
                _ => GcScope::Everywhere,
            };
            let options = GcOptions {
                grace: std::time::Duration::from_secs(grace),
                dry_run,
                scope,
                local_max_bytes: max_size,
            };
            let report = lake.gc_async(&options).await?;
            if json {
                serde_json::to_writer_pretty(&mut out, &report)?;
                writeln!(out)?;
            } else if !global.quiet {
                render::gc(&mut out, &report)?;
            }
            ExitCode::SUCCESS
        }
        Command::Pull { prefix } => {
            let pulled = lake.pull_async(&prefix).await?;
            let prefix = prefix.trim_end_matches('/');
            if pulled.downloaded + pulled.already_local == 0 && !prefix.is_empty() {
                bail!("no name is {prefix:?} or below it");
            }
            if !global.quiet {
                let shared = if pulled.contents < pulled.downloaded {
                    format!(", {} distinct", pulled.contents)
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "pulled {} file(s) ({} bytes downloaded{shared}); {} already local; {}",
                    pulled.downloaded,
                    pulled.bytes,
                    pulled.already_local,
                    requests_so_far()
                )?;
            }
            ExitCode::SUCCESS
        }
        Command::Evict { targets, all, json } => {
            remove::evict(lake, global, &mut out, &targets, all, json)?
        }
        Command::Rm {
            names,
            from: Some(from),
            force_last,
            json,
            ..
        } => stores::rm_from(lake, global, &mut out, &names, &from, force_last, json).await?,
        Command::Rm {
            names,
            from: None,
            force_last: _,
            recursive,
            cascade,
            yes,
            dry_run,
            message,
            json,
        } => {
            let options = crate::RemoveOptions {
                recursive,
                cascade,
                dry_run,
                message,
            };
            remove::rm(lake, global, &mut out, &names, options, yes, json).await?
        }
        Command::Cp { names, to, json } => {
            stores::cp(lake, global, &mut out, &names, &to, json).await?
        }
        Command::Mv {
            names,
            from,
            to,
            json,
        } => stores::mv(lake, global, &mut out, &names, &from, &to, json).await?,
        Command::History { name, json } => {
            stores::history(lake, &mut out, &parse_name(&name)?, json).await?
        }
        Command::Tag { name, tags } => {
            edit(lake, global, &mut out, &name, annotate::set_tags(&tags)?).await?
        }
        Command::Untag { name, keys } => {
            edit(lake, global, &mut out, &name, Edit::RemoveTags(keys)).await?
        }
        Command::Label { name, labels } => {
            edit(lake, global, &mut out, &name, Edit::AddLabels(labels)).await?
        }
        Command::Unlabel { name, labels } => {
            edit(lake, global, &mut out, &name, Edit::RemoveLabels(labels)).await?
        }
        Command::Touch { name, timestamp } => {
            let at = match timestamp {
                Some(text) => annotate::parse_date(&text)?,
                None => chrono::Utc::now(),
            };
            edit(lake, global, &mut out, &name, Edit::SetTimestamp(at)).await?
        }
        Command::Pointer { name, output } => {
            let pointer = lake.pointer_async(&parse_name(&name)?).await?;
            match output {
                Some(path) => {
                    let file = lake.file(pointer.name.as_str())?;
                    file.write_pointer(&path)?;
                    if !global.quiet {
                        eprintln!("wrote pointer to {} in {}", pointer.name, path.display());
                    }
                }
                None => out.write_all(&pointer.to_json())?,
            }
            ExitCode::SUCCESS
        }
        Command::Url { name, expires } => {
            let url = lake
                .presigned_url_async(&parse_name(&name)?, expires.into())
                .await?;
            writeln!(out, "{url}")?;
            ExitCode::SUCCESS
        }
        Command::Status { json } => creators::status(lake, &mut out, json).await?,
        Command::Creators { json } => creators::creators(&mut out, json)?,
        Command::Completions { .. }
        | Command::Man
        | Command::Doctor { .. }
        | Command::Config { .. } => {
            unreachable!("handled before a lake is opened")
        }
    };
    out.flush()?;
    Ok(code)
}

/// Applies `change` to `name`'s annotations by compare-and-swap, then
/// prints them (unless -q).
async fn edit(
    lake: &Lake,
    global: &GlobalArgs,
    out: &mut impl Write,
    name: &str,
    change: Edit,
) -> Result<ExitCode> {
    let name = parse_name(name)?;
    let annotations = lake.annotate_async(&name, |a| change.apply(a)).await?;
    if !global.quiet {
        render::annotations(out, &annotations)?;
    }
    Ok(ExitCode::SUCCESS)
}
