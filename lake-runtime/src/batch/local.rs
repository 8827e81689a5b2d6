//! The local executor: a bounded pool of threads in this process, each
//! making calls as a call outside a batch would (key, hit check, body,
//! commit), so two racing calls agree as any two processes do.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Entry, Outcome};
use crate::run::{CreatorReturn, Described, Outputs};

/// Makes each call on up to `jobs` threads (0: one per CPU); each result
/// is the call's files or why it failed, in the order given.
pub(super) fn run<R>(jobs: usize, calls: &[(&Entry<'_, R>, &Described)]) -> Vec<Outcome>
where
    R: CreatorReturn + Send + fmt::Debug,
{
    let threads = match jobs {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .min(calls.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..calls.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((entry, described)) = calls.get(i) else {
                        break;
                    };
                    // A creator without input files runs on the lake the
                    // driver planned it on, not on this thread's default.
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        described.lake().scope(|| (entry.run)())
                    }));
                    let result = match outcome {
                        Ok(r) => match r.into_outputs() {
                            Ok(outputs) => Ok(outputs.into_files()),
                            Err(error) => Err(format!("{error:?}")),
                        },
                        Err(panic) => Err(panic_message(panic.as_ref())),
                    };
                    results.lock().expect("batch results poisoned")[i] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .expect("batch results poisoned")
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("panicked: {text}")
}
