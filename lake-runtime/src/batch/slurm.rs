//! The Slurm executor: one `sbatch --array` job per batch (split at
//! [`SlurmOptions::max_array_size`]), each task running this program as a
//! worker on one call. The driver polls `squeue` for progress and then
//! asks the store, not Slurm, which calls are done: a run is done when its
//! manifest exists, whatever Slurm says about the task.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};
use std::time::Instant;

use super::spec::{BATCH_SCHEMA_VERSION, BatchSpec, CallSpec, load_failure, store_spec};
use super::worker::WORKER_FLAG;
use super::{Outcome, SlurmOptions};
use crate::progress::{TaskCounts, TaskProgress};
use crate::run::Described;
use crate::{Error, Result};

/// What the Slurm executor did.
pub(super) struct SlurmRun {
    pub(super) jobs: Vec<String>,
    pub(super) retried: usize,
    /// Each call's files, or why it failed, in the order given.
    pub(super) outcomes: Vec<Outcome>,
}

/// Job ids to cancel on Ctrl-C.
static ACTIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub(super) fn run(
    options: &SlurmOptions,
    progress: bool,
    calls: &[&Described],
) -> Result<SlurmRun> {
    let lake = calls[0].lake();
    if let Some(other) = calls
        .iter()
        .find(|d| d.lake().store_id() != lake.store_id())
    {
        return Err(Error::Executor {
            command: "slurm",
            message: format!(
                "a Slurm batch runs on one store, but {} and {} use different ones",
                calls[0].info().path(),
                other.info().path()
            ),
        });
    }
    // A worker can only make the calls of creators it can find: refuse
    // before submitting rather than have every task refuse.
    if let Some(local) = calls.iter().find(|d| !super::worker::is_remote(d.info())) {
        return Err(Error::Executor {
            command: "slurm",
            message: format!(
                "{} is not #[file_creator(remote)]: Slurm workers make only remote creators' \
                 calls; add `remote` to its attribute, or use the local executor",
                local.info().path()
            ),
        });
    }
    let program = match &options.worker_program {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| Error::io("find", "the current program", e))?,
    };
    cancel_on_ctrl_c();
    let mut run = SlurmRun {
        jobs: Vec::new(),
        retried: 0,
        outcomes: Vec::with_capacity(calls.len()),
    };
    for chunk in calls.chunks(options.max_array_size.max(1)) {
        let spec = BatchSpec {
            schema_version: BATCH_SCHEMA_VERSION,
            calls: chunk.iter().map(|d| CallSpec::of(d)).collect(),
        };
        let id = store_spec(lake, &spec)?;
        let log_dir = match &options.log_dir {
            Some(dir) => dir.clone(),
            None => lake.home_dir().join("batches").join(&id),
        };
        std::fs::create_dir_all(&log_dir).map_err(|e| Error::io("create", &log_dir, e))?;
        let mut outcomes: Vec<Option<Outcome>> = chunk.iter().map(|_| None).collect();
        let mut todo: Vec<usize> = (0..chunk.len()).collect();
        let mut attempt = 0;
        while !todo.is_empty() {
            // Submitted and recorded under the lock that the Ctrl-C handler
            // takes first: a job whose sbatch is under way when Ctrl-C comes
            // is recorded, then cancelled, never left to run.
            let job = {
                let mut active = ACTIVE.lock().expect("poisoned");
                let job = submit(options, &program, &id, &todo, &log_dir)?;
                active.push(job.clone());
                job
            };
            run.jobs.push(job.clone());
            let waited = wait(options, progress, &job, todo.len());
            ACTIVE.lock().expect("poisoned").retain(|j| j != &job);
            waited?;
            let mut again = Vec::new();
            for &t in &todo {
                match chunk[t].lookup() {
                    Ok(Some(files)) => outcomes[t] = Some(Ok(files)),
                    other => {
                        let failure = load_failure(lake, &id, t);
                        let retryable = failure.as_ref().is_none_or(|f| f.retryable);
                        let mut message = match (&failure, other) {
                            (_, Err(e)) => format!("cannot read its result: {e}"),
                            (Some(f), _) => format!("{} (on {})", f.message, f.host),
                            (None, _) => "the task left no result (killed, out of time or \
                                          memory, or never started)"
                                .to_owned(),
                        };
                        message.push_str(&format!("; slurm job {job}_{t}"));
                        message.push_str(&log_tail(&log_dir.join(format!("{job}_{t}.log"))));
                        if retryable && attempt < options.retries {
                            again.push(t);
                        }
                        outcomes[t] = Some(Err(message));
                    }
                }
            }
            if !again.is_empty() {
                attempt += 1;
                run.retried += again.len();
                eprintln!(
                    "lake: {} task(s) of slurm job {job} failed; submitting them again \
                     (attempt {} of {})",
                    again.len(),
                    attempt + 1,
                    options.retries + 1
                );
            }
            todo = again;
        }
        run.outcomes.extend(
            outcomes
                .into_iter()
                .map(|o| o.unwrap_or_else(|| Err("not run".into()))),
        );
    }
    Ok(run)
}

/// `sbatch --array=<todo>` of `program --lake-worker <id>`; the job id.
fn submit(
    options: &SlurmOptions,
    program: &Path,
    id: &str,
    todo: &[usize],
    log_dir: &Path,
) -> Result<String> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", "the current directory", e))?;
    let mut cmd = slurm_command("sbatch");
    cmd.arg("--parsable")
        .arg(format!("--array={}", ranges(todo)))
        .arg(format!("--job-name=lake-{}", &id[..8]))
        .arg(format!("--output={}", log_dir.join("%A_%a.log").display()))
        .arg(format!("--chdir={}", cwd.display()));
    if let Some(p) = &options.partition {
        cmd.arg(format!("--partition={p}"));
    }
    if let Some(t) = &options.time {
        cmd.arg(format!("--time={t}"));
    }
    if let Some(c) = options.cpus_per_task {
        cmd.arg(format!("--cpus-per-task={c}"));
    }
    if let Some(m) = &options.mem {
        cmd.arg(format!("--mem={m}"));
    }
    cmd.args(&options.extra_args);
    cmd.arg(format!(
        "--wrap=exec {} {WORKER_FLAG} {id} \"$SLURM_ARRAY_TASK_ID\"",
        shell_quote(program)
    ));
    let output = cmd
        .output()
        .map_err(|e| Error::io("run", PathBuf::from("sbatch"), e))?;
    if !output.status.success() {
        return Err(Error::Executor {
            command: "sbatch",
            message: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `--parsable` prints `<job id>` or `<job id>;<cluster>`.
    let job = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    if job.is_empty() {
        return Err(Error::Executor {
            command: "sbatch",
            message: "it printed no job id".into(),
        });
    }
    eprintln!(
        "lake: submitted slurm job {job}: {} task(s) of batch {id}",
        todo.len()
    );
    Ok(job)
}

/// Waits until no task of `job` is queued or running, showing the counts
/// of done, running, pending and failed tasks on a bar (on a terminal
/// only), then one line with the final counts. A task `squeue` no longer
/// lists has finished; whether it did its call is the store's to say, once
/// the job is over.
fn wait(options: &SlurmOptions, progress: bool, job: &str, tasks: usize) -> Result<()> {
    let started = Instant::now();
    let bar = TaskProgress::new(progress, tasks, &format!("slurm job {job}"));
    let mut counts = TaskCounts {
        pending: tasks,
        ..TaskCounts::default()
    };
    loop {
        // `-t all`: finished tasks stay listed for a while (MinJobAge), with
        // their final state, which is how failures show while others run.
        let output = slurm_command("squeue")
            .args(["-h", "-r", "-t", "all", "-j", job, "-o", "%T"])
            .output()
            .map_err(|e| Error::io("run", PathBuf::from("squeue"), e))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("Invalid job id") {
                // The whole job is gone: every task finished long enough ago.
                counts.done = tasks - counts.failed;
                (counts.running, counts.pending) = (0, 0);
                break;
            }
            bar.finish();
            return Err(Error::Executor {
                command: "squeue",
                message: format!("{}: {}", output.status, stderr.trim()),
            });
        }
        counts = count_states(&String::from_utf8_lossy(&output.stdout), tasks);
        bar.update(counts);
        if counts.running + counts.pending == 0 {
            break;
        }
        std::thread::sleep(options.poll_interval);
    }
    bar.finish();
    bar.println(&format!(
        "lake: slurm job {job}: {tasks} task(s) finished in {:.1?}: {} done, {} failed",
        started.elapsed(),
        counts.done,
        counts.failed
    ));
    Ok(())
}

/// The counts of a job's tasks from `squeue -o %T` lines (one state per
/// listed task); tasks not listed finished and were forgotten, so they
/// count as done.
fn count_states(states: &str, tasks: usize) -> TaskCounts {
    let mut counts = TaskCounts::default();
    let mut listed = 0;
    for state in states.lines().map(str::trim).filter(|l| !l.is_empty()) {
        listed += 1;
        match state {
            "COMPLETED" => counts.done += 1,
            "RUNNING" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT" | "SIGNALING" => {
                counts.running += 1
            }
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESIZING" | "SUSPENDED"
            | "STOPPED" | "RESV_DEL_HOLD" => counts.pending += 1,
            // FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL,
            // BOOT_FAIL, DEADLINE, PREEMPTED, and whatever a later Slurm adds.
            _ => counts.failed += 1,
        }
    }
    counts.done += tasks.saturating_sub(listed);
    counts
}

/// `0-3,7,9-10` for `[0, 1, 2, 3, 7, 9, 10]`.
fn ranges(indices: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// The last lines of a task's log, indented, or nothing if unreadable
/// (the log is on the node's file system unless it is shared).
fn log_tail(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(10)..];
    if tail.is_empty() {
        return String::new();
    }
    format!(
        "\n    last lines of {}:\n      {}",
        path.display(),
        tail.join("\n      ")
    )
}

/// A Slurm client command in a process group of its own. Ctrl-C at a
/// terminal signals the whole foreground group: an `squeue` killed by it
/// would fail the batch before the handler below could cancel its jobs,
/// and an `sbatch` killed by it may or may not have submitted. The handler
/// alone decides what Ctrl-C does.
fn slurm_command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd
}

/// On Ctrl-C, cancels the jobs being waited for, then exits as an
/// interrupted program does (status 130). Installed on the first Slurm
/// batch and kept: once tokio handles SIGINT, the default action is gone.
fn cancel_on_ctrl_c() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("lake-ctrl-c".into())
            .spawn(|| {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    if tokio::signal::ctrl_c().await.is_err() {
                        return;
                    }
                    crate::progress::clear_for_exit();
                    let jobs = ACTIVE.lock().map(|j| j.clone()).unwrap_or_default();
                    if !jobs.is_empty() {
                        eprintln!("lake: interrupted: scancel {}", jobs.join(" "));
                        let _ = slurm_command("scancel").args(&jobs).status();
                    }
                    std::process::exit(130);
                });
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot watch for Ctrl-C, jobs will not be cancelled: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(ranges(&[5]), "5");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn task_states_are_counted_and_forgotten_tasks_are_done() {
        let states = "COMPLETED\nRUNNING\nPENDING\nPENDING\nFAILED\nTIMEOUT\nCOMPLETING\n";
        let counts = count_states(states, 10);
        assert_eq!(
            counts,
            TaskCounts {
                done: 4,
                running: 2,
                pending: 2,
                failed: 2
            }
        );
    }

    #[test]
    fn shell_quote_survives_quotes() {
        assert_eq!(shell_quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
