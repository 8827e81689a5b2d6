//! What a batch stores for its workers: `batches/<id>/calls.json`, the
//! calls to make, and `batches/<id>/failures/<index>.json`, why a worker
//! could not make one. The store is the only state the driver and its
//! workers share (docs/design/0012-batch-and-slurm.md).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use lake_core::key::{CodeIdentity, RunKey};
use lake_core::{InputRef, Name, ParamRecord, PutMode, StoreError, StoreExt, StorePath};
use serde::{Deserialize, Serialize};

use crate::run::Described;
use crate::{Error, GcItem, GcOptions, GcReport, Lake, Result};

/// Version of the [`BatchSpec`] JSON layout; bump when it changes.
pub(crate) const BATCH_SCHEMA_VERSION: u32 = 1;

/// The calls of one submission, in array-index order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BatchSpec {
    pub(crate) schema_version: u32,
    pub(crate) calls: Vec<CallSpec>,
}

/// One call, as a worker needs it: which creator, built from which code,
/// with which arguments and inputs, and the key the driver computed (the
/// worker refuses to run under any other).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CallSpec {
    /// The creator's path, `module::name`, as the inventory knows it.
    pub(crate) creator: String,
    /// The code identity the driver was built with.
    pub(crate) code: CodeIdentity,
    pub(crate) key: RunKey,
    /// Each argument's JSON (decoded by the worker) and canonical hash.
    pub(crate) args: Vec<ParamRecord>,
    /// Each input file's parameter, name and digest.
    pub(crate) inputs: Vec<InputRef>,
    pub(crate) explicit_outputs: Option<Vec<Name>>,
}

impl CallSpec {
    pub(crate) fn of(described: &Described) -> Self {
        Self {
            creator: described.info().path(),
            code: described.code_identity(),
            key: described.key(),
            args: described.params(),
            inputs: described.inputs(),
            explicit_outputs: described.explicit_outputs().map(<[Name]>::to_vec),
        }
    }
}

/// A worker's account of a call it could not make.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerFailure {
    pub(crate) message: String,
    /// False when running again cannot help (another build's code).
    pub(crate) retryable: bool,
    pub(crate) host: String,
}

/// Where batches live in the store.
const BATCHES_PREFIX: &str = "batches";

fn path(id: &str, leaf: &str) -> Result<StorePath> {
    Ok(StorePath::parse(&format!("{BATCHES_PREFIX}/{id}/{leaf}"))?)
}

/// Stores `spec` under its content's digest, which is the batch id: the
/// same calls submitted again reuse the same object.
pub(crate) fn store_spec(lake: &Lake, spec: &BatchSpec) -> Result<String> {
    let bytes = serde_json::to_vec_pretty(spec).map_err(|e| Error::BatchSpec {
        batch: "(new)".into(),
        message: format!("cannot encode it: {e}"),
    })?;
    let id = blake3::hash(&bytes).to_hex()[..32].to_owned();
    let path = path(&id, "calls.json")?;
    crate::blocking::block_on(async {
        match lake
            .store()
            .put(&path, bytes.clone().into(), PutMode::Create)
            .await
        {
            Ok(_) => Ok(id),
            // The same bytes, stored by an earlier submission: written again
            // so that its age, which `lake gc` goes by, starts now.
            Err(StoreError::AlreadyExists { .. }) => {
                lake.store()
                    .put(&path, bytes.into(), PutMode::Overwrite)
                    .await?;
                Ok(id)
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// The least age at which `lake gc` removes a batch's objects (its calls
/// and its workers' failure records), unless the grace period is zero:
/// array tasks can wait in a queue for days, and a task whose calls are
/// gone cannot make its call.
pub const BATCH_GC_MIN_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Removes (or, in a dry run, counts) the objects below `batches/` older
/// than the grace period, and at least [`BATCH_GC_MIN_AGE`] unless the
/// grace is zero, and the task logs below `<home>/batches/` by the same
/// age; counts the younger ones as kept. Called by `Lake::gc`.
///
/// A batch whose calls go while a task still waits fails that task, with
/// nothing partial left (a run is done only when its manifest exists); the
/// next run of the batch plans and submits it again.
pub(crate) async fn gc_batches(
    lake: &Lake,
    options: &GcOptions,
    now: DateTime<Utc>,
    report: &mut GcReport,
) -> Result<()> {
    let min_age = match options.grace {
        Duration::ZERO => Duration::ZERO,
        grace => grace.max(BATCH_GC_MIN_AGE),
    };
    let in_store = if options.scope.store() {
        lake.list_all(BATCHES_PREFIX).await?
    } else {
        Vec::new()
    };
    for object in in_store {
        let age = now.signed_duration_since(object.last_modified).to_std();
        let tally = if age.is_ok_and(|age| age >= min_age) {
            if !options.dry_run {
                match lake.store().delete(&object.path).await {
                    Ok(()) | Err(StoreError::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            report.removed.push(GcItem {
                kind: "store-batch",
                path: object.path.to_string(),
                bytes: object.size,
            });
            &mut report.batches
        } else {
            &mut report.kept_young
        };
        tally.count += 1;
        tally.bytes += object.size;
    }
    // The task logs the Slurm executor writes by default, in the driver's
    // home (`<home>/batches/<id>/<job>_<task>.log`), by the same age.
    if !options.scope.local() {
        return Ok(());
    }
    let dir = lake.home_dir().join(BATCHES_PREFIX);
    let dry_run = options.dry_run;
    let logs = tokio::task::spawn_blocking(move || sweep_logs(&dir, min_age, dry_run, now))
        .await
        .expect("gc task panicked")?;
    for (path, bytes, old) in logs {
        let tally = if old {
            report.removed.push(GcItem {
                kind: "home-batch-log",
                path: path.display().to_string(),
                bytes,
            });
            &mut report.batches
        } else {
            &mut report.kept_young
        };
        tally.count += 1;
        tally.bytes += bytes;
    }
    Ok(())
}

/// The files one level below `dir` (`<id>/<file>`), each with its size and
/// whether it is at least `min_age` old; the old ones are removed (unless
/// `dry_run`), and so is a batch directory they leave empty.
fn sweep_logs(
    dir: &Path,
    min_age: Duration,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<Vec<(PathBuf, u64, bool)>> {
    let read = |dir: &Path| match std::fs::read_dir(dir) {
        Ok(entries) => Ok(Some(entries)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read directory", dir, e)),
    };
    let mut found = Vec::new();
    let Some(batches) = read(dir)? else {
        return Ok(found);
    };
    for batch in batches.flatten() {
        let batch = batch.path();
        if !batch.is_dir() {
            continue;
        }
        let Some(files) = read(&batch)? else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            // Gone meanwhile, or not a file: not ours to count.
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or(now);
            let old = now
                .signed_duration_since(modified)
                .to_std()
                .is_ok_and(|age| age >= min_age);
            if old && !dry_run {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("remove", &path, e)),
                }
            }
            found.push((path, meta.len(), old));
        }
        if !dry_run {
            // Fails, as it should, while the directory still holds a file.
            let _ = std::fs::remove_dir(&batch);
        }
    }
    found.sort();
    Ok(found)
}

pub(crate) fn load_spec(lake: &Lake, id: &str) -> Result<BatchSpec> {
    let path = path(id, "calls.json")?;
    let bytes = crate::blocking::block_on(lake.store().read_all(&path))?;
    let spec: BatchSpec = serde_json::from_slice(&bytes).map_err(|e| Error::BatchSpec {
        batch: id.into(),
        message: format!("cannot decode {}: {e}", path.as_str()),
    })?;
    if spec.schema_version != BATCH_SCHEMA_VERSION {
        return Err(Error::BatchSpec {
            batch: id.into(),
            message: format!(
                "schema version {}, this program reads {BATCH_SCHEMA_VERSION}",
                spec.schema_version
            ),
        });
    }
    Ok(spec)
}

pub(crate) fn store_failure(lake: &Lake, id: &str, index: usize, failure: &WorkerFailure) {
    let write = || -> Result<()> {
        let path = path(id, &format!("failures/{index}.json"))?;
        let bytes = serde_json::to_vec(failure).unwrap_or_default();
        crate::blocking::block_on(lake.store().put(&path, bytes.into(), PutMode::Overwrite))?;
        Ok(())
    };
    // Best effort: the worker's exit status and log still tell the driver.
    if let Err(e) = write() {
        eprintln!("lake worker: cannot record the failure in the store: {e}");
    }
}

pub(crate) fn load_failure(lake: &Lake, id: &str, index: usize) -> Option<WorkerFailure> {
    let path = path(id, &format!("failures/{index}.json")).ok()?;
    let bytes = crate::blocking::block_on(lake.store().read_all(&path)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub(crate) fn clear_failure(lake: &Lake, id: &str, index: usize) {
    if let Ok(path) = path(id, &format!("failures/{index}.json")) {
        let _ = crate::blocking::block_on(lake.store().delete(&path));
    }
}
