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
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Where the calls run.
    pub executor: Executor,
    /// Threads of the local pool; 0 means one per CPU.
    pub jobs: usize,
    /// Used when `executor` is [`Executor::Slurm`].
    pub slurm: SlurmOptions,
    /// Draw a bar of a Slurm job's done, running, pending and failed tasks
    /// while waiting for it (default: on). The bar is drawn only when
    /// stderr is a terminal, whatever this says.
    pub progress: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self {
            executor: Executor::default(),
            jobs: 0,
            slurm: SlurmOptions::default(),
            // Unlike transfers' bars (off unless the program asks, see
            // `LakeConfig::progress`), a batch on a cluster runs for minutes
            // and is the program's main work: the bar is what users expect.
            progress: true,
        }
    }
}

impl BatchOptions {
    /// The local executor, one thread per CPU.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options from the environment, then the `[executor]` table of
    /// `lake.toml` (found upward from the current directory), then the
    /// defaults.
    ///
    /// | `lake.toml` `[executor]` | environment |
    /// |---|---|
    /// | `kind = "slurm"` (or `"local"`) | `LAKE_EXECUTOR` |
    /// | `jobs = 8` | `LAKE_JOBS` |
    /// | `partition = "short"` | `LAKE_SLURM_PARTITION` |
    /// | `time = "10:00"` | `LAKE_SLURM_TIME` |
    /// | `cpus_per_task = 2` | `LAKE_SLURM_CPUS` |
    /// | `mem = "2G"` | `LAKE_SLURM_MEM` |
    /// | `extra_args = ["--qos=low"]` | `LAKE_SLURM_EXTRA` (split on whitespace) |
    /// | `max_array_size = 1000` | `LAKE_SLURM_MAX_ARRAY` |
    /// | `retries = 1` | `LAKE_SLURM_RETRIES` |
    pub fn from_env() -> Result<Self> {
        let start = std::env::current_dir().map_err(|e| Error::io("read", ".", e))?;
        let mut options = match crate::config::find_config_file(&start) {
            Some(path) => Self::from_file(&path)?,
            None => Self::new(),
        };
        options.apply_env()?;
        Ok(options)
    }

    /// The `[executor]` table of the `lake.toml` at `path`, over the defaults.
    fn from_file(path: &std::path::Path) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            executor: Option<ExecutorTable>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ExecutorTable {
            kind: Option<String>,
            jobs: Option<usize>,
            partition: Option<String>,
            time: Option<String>,
            cpus_per_task: Option<u32>,
            mem: Option<String>,
            extra_args: Option<Vec<String>>,
            max_array_size: Option<usize>,
            retries: Option<u32>,
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let file: File = toml::from_str(&text).map_err(|e| Error::Config {
            key: format!("{}: [executor]", path.display()),
            value: String::new(),
            message: e.message().to_owned(),
        })?;
        let mut options = Self::new();
        let Some(table) = file.executor else {
            return Ok(options);
        };
        if let Some(kind) = table.kind {
            options.executor = kind.parse()?;
        }
        options.jobs = table.jobs.unwrap_or(0);
        let slurm = &mut options.slurm;
        slurm.partition = table.partition;
        slurm.time = table.time;
        slurm.cpus_per_task = table.cpus_per_task;
        slurm.mem = table.mem;
        slurm.extra_args = table.extra_args.unwrap_or_default();
        if let Some(max) = table.max_array_size {
            slurm.max_array_size = max.max(1);
        }
        if let Some(retries) = table.retries {
            slurm.retries = retries;
        }
        Ok(options)
    }

    /// Overrides with whatever `LAKE_EXECUTOR`, `LAKE_JOBS` and
    /// `LAKE_SLURM_*` set.
    fn apply_env(&mut self) -> Result<()> {
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
        if let Some(kind) = var("LAKE_EXECUTOR") {
            self.executor = kind.parse()?;
        }
        if let Some(jobs) = number("LAKE_JOBS")? {
            self.jobs = jobs as usize;
        }
        let slurm = &mut self.slurm;
        if let Some(v) = var("LAKE_SLURM_PARTITION") {
            slurm.partition = Some(v);
        }
        if let Some(v) = var("LAKE_SLURM_TIME") {
            slurm.time = Some(v);
        }
        if let Some(n) = number("LAKE_SLURM_CPUS")? {
            slurm.cpus_per_task = Some(n as u32);
        }
        if let Some(v) = var("LAKE_SLURM_MEM") {
            slurm.mem = Some(v);
        }
        if let Some(v) = var("LAKE_SLURM_EXTRA") {
            slurm.extra_args = v.split_whitespace().map(str::to_owned).collect();
        }
        if let Some(max) = number("LAKE_SLURM_MAX_ARRAY")? {
            slurm.max_array_size = (max as usize).max(1);
        }
        if let Some(retries) = number("LAKE_SLURM_RETRIES")? {
            slurm.retries = retries as u32;
        }
        Ok(())
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

    /// Turns the bar of a Slurm job's tasks on or off.
    pub fn with_progress(mut self, progress: bool) -> Self {
        self.progress = progress;
        self
    }

    /// Sets the Slurm options (and nothing else).
    pub fn with_slurm(mut self, slurm: SlurmOptions) -> Self {
        self.slurm = slurm;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executor_table_is_read_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lake.toml");
        std::fs::write(
            &path,
            "store = \"s\"\n[executor]\nkind = \"slurm\"\npartition = \"short\"\n\
             cpus_per_task = 2\nmem = \"2G\"\nextra_args = [\"--qos=low\"]\n\
             max_array_size = 50\nretries = 3\n",
        )
        .unwrap();
        let options = BatchOptions::from_file(&path).unwrap();
        assert_eq!(options.executor, Executor::Slurm);
        assert_eq!(options.slurm.partition.as_deref(), Some("short"));
        assert_eq!(options.slurm.cpus_per_task, Some(2));
        assert_eq!(options.slurm.mem.as_deref(), Some("2G"));
        assert_eq!(options.slurm.extra_args, ["--qos=low"]);
        assert_eq!(options.slurm.max_array_size, 50);
        assert_eq!(options.slurm.retries, 3);

        std::fs::write(&path, "[executor]\npartiton = \"x\"\n").unwrap();
        let err = BatchOptions::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `partiton`"), "{err}");
        std::fs::write(&path, "[executor]\nkind = \"pbs\"\n").unwrap();
        let err = BatchOptions::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("expected `local` or `slurm`"), "{err}");
    }
}
