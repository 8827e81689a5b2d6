//! What a batch stores for its workers: `batches/<id>/calls.json`, the
//! calls to make, and `batches/<id>/failures/<index>.json`, why a worker
//! could not make one. The store is the only state the driver and its
//! workers share (docs/design/0012-batch-and-slurm.md).

use lake_core::key::{CodeIdentity, RunKey};
use lake_core::{InputRef, Name, ParamRecord, PutMode, StoreError, StoreExt, StorePath};
use serde::{Deserialize, Serialize};

use crate::run::Described;
use crate::{Error, Lake, Result};

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

fn path(id: &str, leaf: &str) -> Result<StorePath> {
    Ok(StorePath::parse(&format!("batches/{id}/{leaf}"))?)
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
        match lake.store().put(&path, bytes.into(), PutMode::Create).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(id),
            Err(e) => Err(e.into()),
        }
    })
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
