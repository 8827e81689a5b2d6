//! The worker: this same program, started by an executor as
//! `<program> --lake-worker <batch> [<index>]`. It reads its call from the
//! store, finds the creator among those `#[file_creator(remote)]`
//! registered, refuses a call made by other code, decodes the arguments
//! and makes the call, which commits as any run does.

use std::fmt;
use std::future::Future;

use lake_core::InputRef;
use lake_core::key::CodeIdentity;
use serde::de::DeserializeOwned;

use super::ExpectKey;
use super::spec::{CallSpec, WorkerFailure, clear_failure, load_spec, store_failure};
use crate::run::{CreatorInfo, CreatorReturn, Outputs};
use crate::{Error, File, Lake, Result};

/// The first argument that makes [`worker_main`] act as a worker.
pub const WORKER_FLAG: &str = "--lake-worker";

/// A creator that workers can run: registered by `#[file_creator(remote)]`.
#[derive(Debug)]
pub struct RemoteRegistration {
    /// The creator.
    pub info: &'static CreatorInfo,
    /// Decodes a call's arguments and makes the call.
    pub run: fn(&RemoteArgs) -> Result<Vec<File>>,
}

inventory::collect!(RemoteRegistration);

/// True if `#[file_creator(remote)]` registered `info`.
pub(super) fn is_remote(info: &CreatorInfo) -> bool {
    inventory::iter::<RemoteRegistration>
        .into_iter()
        .any(|r| std::ptr::eq(r.info, info))
}

/// A call's arguments and inputs as a worker decodes them, for the code
/// `#[file_creator(remote)]` generates.
#[derive(Debug)]
pub struct RemoteArgs {
    lake: Lake,
    call: CallSpec,
}

impl RemoteArgs {
    /// The input file parameter `param`.
    pub fn input<T: RemoteInput>(&self, param: &str) -> Result<T> {
        T::from_inputs(&self.lake, param, &self.call.inputs)
            .ok_or_else(|| self.error(format!("the call has no input {param}")))
    }

    /// The argument `param`, decoded from the JSON the driver stored.
    pub fn arg<T: DeserializeOwned>(&self, param: &str) -> Result<T> {
        let Some(arg) = self.call.args.iter().find(|a| a.name == param) else {
            return Err(self.error(format!("the call has no argument {param}")));
        };
        serde_json::from_value(arg.json.clone()).map_err(|e| {
            self.error(format!(
                "cannot decode argument {param} from {}: {e}",
                arg.json
            ))
        })
    }

    /// What the creator returned, as files; its error as text.
    pub fn outputs<R: CreatorReturn + fmt::Debug>(&self, returned: R) -> Result<Vec<File>> {
        match returned.into_outputs() {
            Ok(outputs) => Ok(outputs.into_files()),
            Err(error) => Err(self.error(format!("the creator returned {error:?}"))),
        }
    }

    fn error(&self, message: String) -> Error {
        Error::RemoteCall {
            creator: self.call.creator.clone(),
            message,
        }
    }
}

/// Input parameter types a worker rebuilds from a call's input names.
pub trait RemoteInput: Sized {
    /// The value of parameter `param` among `inputs`; `None` if missing.
    fn from_inputs(lake: &Lake, param: &str, inputs: &[InputRef]) -> Option<Self>;
}

impl RemoteInput for File {
    fn from_inputs(lake: &Lake, param: &str, inputs: &[InputRef]) -> Option<Self> {
        Option::<File>::from_inputs(lake, param, inputs)?
    }
}

impl RemoteInput for Option<File> {
    fn from_inputs(lake: &Lake, param: &str, inputs: &[InputRef]) -> Option<Self> {
        Some(
            inputs
                .iter()
                .find(|i| i.param == param)
                .map(|i| File::from_parts(lake.clone(), i.name.clone())),
        )
    }
}

impl RemoteInput for Vec<File> {
    fn from_inputs(lake: &Lake, param: &str, inputs: &[InputRef]) -> Option<Self> {
        // Labelled `param[0]`, `param[1]`, … in order by `Call::input`.
        let prefix = format!("{param}[");
        Some(
            inputs
                .iter()
                .filter(|i| i.param.starts_with(&prefix))
                .map(|i| File::from_parts(lake.clone(), i.name.clone()))
                .collect(),
        )
    }
}

/// Drives an async remote creator on a runtime of its own.
pub fn remote_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cannot start a runtime for the worker")
        .block_on(future)
}

/// Acts as a worker when the program was started as one, else returns.
///
/// Call it first thing in `main` of a program that submits batches to
/// Slurm: each array task runs `<program> --lake-worker <batch> <index>`,
/// makes its call, and exits (0 on success, 1 on failure, 2 when it
/// refuses the call). The worker opens its lake with [`Lake::open`]
/// (the environment and `lake.toml`, which `sbatch` passes on); use
/// [`worker_main_with`] when the program builds its configuration in code.
pub fn worker_main() {
    worker_main_with(Lake::open);
}

/// [`worker_main`] with the lake opened by `open`.
pub fn worker_main_with(open: impl FnOnce() -> Result<Lake>) {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(WORKER_FLAG) {
        return;
    }
    let batch = args.next().unwrap_or_default();
    let index = args
        .next()
        .or_else(|| std::env::var("SLURM_ARRAY_TASK_ID").ok())
        .and_then(|i| i.parse::<usize>().ok());
    let Some(index) = index.filter(|_| !batch.is_empty()) else {
        eprintln!("lake worker: usage: {WORKER_FLAG} <batch> [<index>] (or SLURM_ARRAY_TASK_ID)");
        std::process::exit(2);
    };
    let code = match open() {
        Ok(lake) => work(&lake, &batch, index),
        Err(e) => {
            eprintln!("lake worker: cannot open the lake: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Makes call `index` of `batch`; the process's exit code.
fn work(lake: &Lake, batch: &str, index: usize) -> i32 {
    let call = load_spec(lake, batch).and_then(|spec| {
        (spec.calls.into_iter().nth(index)).ok_or_else(|| Error::BatchSpec {
            batch: batch.into(),
            message: format!("it has no call {index}"),
        })
    });
    let outcome = match call {
        Ok(call) => run_call(lake, call),
        Err(e) => Err(Refusal::Other(e)),
    };
    let (message, retryable, code) = match outcome {
        Ok(()) => {
            clear_failure(lake, batch, index);
            eprintln!("lake worker: call {index} of batch {batch} done");
            return 0;
        }
        Err(Refusal::Code(e)) => (e.to_string(), false, 2),
        Err(Refusal::Other(e)) => (e.to_string(), true, 1),
    };
    eprintln!("lake worker: call {index} of batch {batch}: {message}");
    let failure = WorkerFailure {
        message,
        retryable,
        host: crate::lineage::host(),
    };
    store_failure(lake, batch, index, &failure);
    code
}

enum Refusal {
    /// This program's code is not the driver's: running again cannot help.
    Code(Error),
    Other(Error),
}

fn run_call(lake: &Lake, call: CallSpec) -> std::result::Result<(), Refusal> {
    let Some(registration) = inventory::iter::<RemoteRegistration>
        .into_iter()
        .find(|r| r.info.path() == call.creator)
    else {
        return Err(Refusal::Code(Error::RemoteCall {
            creator: call.creator,
            message: "this program has no such remote creator: mark it \
                      #[file_creator(remote)] and run the same build on the driver and the \
                      workers"
                .into(),
        }));
    };
    let here = registration.info.code_identity();
    if here != call.code {
        return Err(Refusal::Code(Error::CodeMismatch {
            creator: call.creator,
            here: describe(&here),
            driver: describe(&call.code),
        }));
    }
    let _expect = ExpectKey::set(call.key);
    let args = RemoteArgs {
        lake: lake.clone(),
        call,
    };
    lake.scope(|| (registration.run)(&args))
        .map(drop)
        .map_err(Refusal::Other)
}

fn describe(code: &CodeIdentity) -> String {
    match code {
        CodeIdentity::Hash(hash) => format!("code hash {}…", &hash[..hash.len().min(12)]),
        CodeIdentity::Version(v) => format!("version {v:?}"),
    }
}
