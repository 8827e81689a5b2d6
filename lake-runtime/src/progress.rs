//! Progress bars for large transfers, and for the tasks of a batch on a
//! cluster.
//!
//! The bars are indicatif's, behind the `progress` feature (which `cli`
//! turns on), so that a library user who turns default features off does
//! not compile indicatif. Without the feature, [`Progress`] keeps its
//! interface and draws nothing.

/// Transfers smaller than this finish before a bar would be readable.
#[cfg_attr(not(feature = "progress"), allow(dead_code))]
const MIN_BYTES_FOR_BAR: u64 = 4 << 20;

/// A progress bar on stderr, or nothing when disabled, small, or when stderr
/// is not a terminal (indicatif hides bars there by itself).
#[derive(Debug)]
pub(crate) struct Progress(#[cfg(feature = "progress")] Option<indicatif::ProgressBar>);

#[cfg(feature = "progress")]
impl Progress {
    pub(crate) fn new(enabled: bool, total: u64, message: &str) -> Self {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

        if !enabled || total < MIN_BYTES_FOR_BAR {
            return Self(None);
        }
        let bar = multi().add(ProgressBar::with_draw_target(
            Some(total),
            ProgressDrawTarget::hidden(),
        ));
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        Self(Some(bar))
    }

    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Every bar of this process, drawn together on stderr: the overall bar of
/// a command and the bars of the large files under way, each on its own
/// line, so that they neither overwrite each other nor leave stale lines.
#[cfg(feature = "progress")]
fn multi() -> &'static indicatif::MultiProgress {
    static MULTI: std::sync::OnceLock<indicatif::MultiProgress> = std::sync::OnceLock::new();
    MULTI.get_or_init(|| {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
    })
}

/// Clears every bar from the terminal and draws none after, for a process
/// about to exit on Ctrl-C: its last words then start on a clean line
/// instead of after a half-drawn bar, and no bar is left behind.
#[cfg(feature = "progress")]
pub(crate) fn clear_for_exit() {
    let bars = multi();
    // A failed clear leaves a line of bar behind; nothing worse.
    let _ = bars.clear();
    bars.set_draw_target(indicatif::ProgressDrawTarget::hidden());
}

#[cfg(not(feature = "progress"))]
pub(crate) fn clear_for_exit() {}

/// The overall bar of a command over many files (`add -r`, `pull`,
/// `verify`): files done of the total, above the bars of the large files in
/// flight. Like every bar, drawn only on a terminal.
#[derive(Debug)]
pub(crate) struct Overall(#[cfg(feature = "progress")] Option<indicatif::ProgressBar>);

#[cfg(feature = "progress")]
impl Overall {
    /// A bar over `files` files; none for fewer than 2.
    pub(crate) fn new(enabled: bool, files: usize, message: &str) -> Self {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

        if !enabled || files < 2 {
            return Self(None);
        }
        let bar = multi().insert(
            0,
            ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::hidden()),
        );
        bar.set_style(
            ProgressStyle::with_template("{msg} [{wide_bar}] {pos}/{len} files ({elapsed})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        // Drawn at once: a quick command still shows what it does.
        bar.tick();
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self(Some(bar))
    }

    pub(crate) fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

#[cfg(feature = "progress")]
impl Drop for Overall {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(not(feature = "progress"))]
impl Overall {
    pub(crate) fn new(_enabled: bool, _files: usize, _message: &str) -> Self {
        Self()
    }

    pub(crate) fn inc(&self) {}
}

#[cfg(not(feature = "progress"))]
impl Progress {
    pub(crate) fn new(_enabled: bool, _total: u64, _message: &str) -> Self {
        Self()
    }

    pub(crate) fn inc(&self, _n: u64) {}

    pub(crate) fn finish(&self) {}
}

/// How the tasks of one cluster job stand, as the scheduler reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TaskCounts {
    /// Finished, and not in a failed state.
    pub(crate) done: usize,
    pub(crate) running: usize,
    pub(crate) pending: usize,
    /// Finished in a failed state (failed, cancelled, out of time or memory).
    pub(crate) failed: usize,
}

/// A bar of a cluster job's tasks on stderr: finished of total, with the
/// counts of done, running, pending and failed tasks. Drawn only on a
/// terminal (a log file would get one line per redraw), so a driver whose
/// stderr is a file or a pipe stays quiet.
#[derive(Debug)]
pub(crate) struct TaskProgress(#[cfg(feature = "progress")] Option<indicatif::ProgressBar>);

#[cfg(feature = "progress")]
impl TaskProgress {
    pub(crate) fn new(enabled: bool, tasks: usize, prefix: &str) -> Self {
        use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

        if !enabled || ProgressDrawTarget::stderr().is_hidden() {
            return Self(None);
        }
        // `wide_bar` takes what the text leaves of the terminal's width: a
        // line wider than the terminal would wrap, and each redraw would
        // leave a line behind.
        let style = ProgressStyle::with_template(
            "{prefix}: {pos}/{len} done, {msg} ({elapsed}) [{wide_bar}]",
        )
        .expect("static template")
        .progress_chars("=> ");
        // In the process's MultiProgress, so that Ctrl-C can clear it.
        let bar = multi()
            .add(ProgressBar::with_draw_target(
                Some(tasks as u64),
                ProgressDrawTarget::hidden(),
            ))
            .with_style(style)
            .with_prefix(prefix.to_owned())
            .with_message(running_pending_failed(TaskCounts {
                pending: tasks,
                ..TaskCounts::default()
            }));
        // The elapsed time moves while the counts do not.
        bar.enable_steady_tick(std::time::Duration::from_secs(1));
        Self(Some(bar))
    }

    pub(crate) fn update(&self, counts: TaskCounts) {
        if let Some(bar) = &self.0 {
            bar.set_position(counts.done as u64);
            bar.set_message(running_pending_failed(counts));
        }
    }

    /// Prints a line above the bar (or on stderr when there is no bar).
    pub(crate) fn println(&self, line: &str) {
        match &self.0 {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(feature = "progress")]
fn running_pending_failed(counts: TaskCounts) -> String {
    format!(
        "{} running, {} pending, {} failed",
        counts.running, counts.pending, counts.failed
    )
}

#[cfg(not(feature = "progress"))]
impl TaskProgress {
    pub(crate) fn new(_enabled: bool, _tasks: usize, _prefix: &str) -> Self {
        Self()
    }

    pub(crate) fn update(&self, _counts: TaskCounts) {}

    pub(crate) fn println(&self, line: &str) {
        eprintln!("{line}");
    }

    pub(crate) fn finish(&self) {}
}
