//! How a batch runs: [`BatchOptions`], from the environment or built in code.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// Where a batch's calls run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Executor {
    /// A bounded pool of threads in this process (the default).
    #[default]
    Local,
    /// One `sbatch --array` job per batch; each task re-runs this program
    /// as a worker (see [`worker_main`](crate::worker_main)).
    Slurm,
}

impl std::str::FromStr for Executor {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "slurm" => Ok(Self::Slurm),
            other => Err(Error::Config {
                key: "LAKE_EXECUTOR".into(),
                value: other.into(),
                message: "expected `local` or `slurm`".into(),
            }),
        }
    }
}

/// The `sbatch` side of [`Executor::Slurm`].
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, e.g. `10:00`.
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--mem`, e.g. `2G`.
    pub mem: Option<String>,
    /// More `sbatch` flags, passed as given.
    pub extra_args: Vec<String>,
    /// The most tasks in one array job; larger batches are split.
    pub max_array_size: usize,
    /// How many times a failed task is submitted again (not when its
    /// worker refused the call: another submission cannot help).
    pub retries: u32,
    /// How often `squeue` is asked for progress.
    pub poll_interval: Duration,
    /// The program each task runs; by default this one.
    pub worker_program: Option<PathBuf>,
    /// Where task logs go (`<job>_<task>.log`); by default
    /// `<home>/batches/<id>/`, which the driver can read back only if it is
    /// on a file system the nodes share.
    pub log_dir: Option<PathBuf>,
}

impl Default for SlurmOptions {
    fn default() -> Self {
        Self {
            partition: None,
            time: None,
            cpus_per_task: None,
            mem: None,
            extra_args: Vec::new(),
            max_array_size: 1000,
            retries: 1,
            poll_interval: Duration::from_millis(500),
            worker_program: None,
            log_dir: None,
        }
    }
}

/// How [`batch_with`](crate::batch_with) runs a batch.
///
/// # Example
/// ```
/// use lake_runtime::{BatchOptions, Executor};
/// let options = BatchOptions::new().with_executor(Executor::Local).with_jobs(4);
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Where the calls run.
    pub executor: Executor,
    /// Threads of the local pool; 0 means one per CPU.
    pub jobs: usize,
    /// Used when `executor` is [`Executor::Slurm`].
    pub slurm: SlurmOptions,
}

impl BatchOptions {
    /// The local executor, one thread per CPU.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options from the environment: `LAKE_EXECUTOR` (`local`, `slurm`),
    /// `LAKE_JOBS`, and for Slurm `LAKE_SLURM_PARTITION`, `LAKE_SLURM_TIME`,
    /// `LAKE_SLURM_CPUS`, `LAKE_SLURM_MEM`, `LAKE_SLURM_EXTRA` (flags split
    /// on whitespace), `LAKE_SLURM_MAX_ARRAY`, `LAKE_SLURM_RETRIES`.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let number = |k: &str| -> Result<Option<u64>> {
            var(k)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|e| Error::Config {
                        key: k.into(),
                        value: v.clone(),
                        message: e.to_string(),
                    })
                })
                .transpose()
        };
        let mut options = Self::new();
        if let Some(kind) = var("LAKE_EXECUTOR") {
            options.executor = kind.parse()?;
        }
        if let Some(jobs) = number("LAKE_JOBS")? {
            options.jobs = jobs as usize;
        }
        let slurm = &mut options.slurm;
        slurm.partition = var("LAKE_SLURM_PARTITION");
        slurm.time = var("LAKE_SLURM_TIME");
        slurm.cpus_per_task = number("LAKE_SLURM_CPUS")?.map(|n| n as u32);
        slurm.mem = var("LAKE_SLURM_MEM");
        slurm.extra_args = var("LAKE_SLURM_EXTRA")
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some(max) = number("LAKE_SLURM_MAX_ARRAY")? {
            slurm.max_array_size = (max as usize).max(1);
        }
        if let Some(retries) = number("LAKE_SLURM_RETRIES")? {
            slurm.retries = retries as u32;
        }
        Ok(options)
    }

    /// Sets the executor.
    pub fn with_executor(mut self, executor: Executor) -> Self {
        self.executor = executor;
        self
    }

    /// Sets the size of the local pool (0: one thread per CPU).
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs;
        self
    }

    /// Sets the Slurm options (and nothing else).
    pub fn with_slurm(mut self, slurm: SlurmOptions) -> Self {
        self.slurm = slurm;
        self
    }
}
