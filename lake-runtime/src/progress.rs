//! Progress bars for large transfers.
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
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
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

#[cfg(not(feature = "progress"))]
impl Progress {
    pub(crate) fn new(_enabled: bool, _total: u64, _message: &str) -> Self {
        Self()
    }

    pub(crate) fn inc(&self, _n: u64) {}

    pub(crate) fn finish(&self) {}
}
