//! Runs async lake code from blocking callers.

use std::future::Future;
use std::sync::OnceLock;

/// The runtime behind the blocking API, started on first use.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .thread_name("lake-io")
            .enable_all()
            .build()
            .expect("cannot start the lake I/O runtime")
    })
}

/// Drives `future` to completion from synchronous code.
///
/// Works from plain threads and from inside any tokio runtime (where a direct
/// `block_on` would panic): there the future runs on lake's own runtime while
/// a scoped helper thread waits for it, so the caller's runtime is never
/// blocked re-entrantly.
pub(crate) fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| {
            scope
                .spawn(|| runtime().block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        runtime().block_on(future)
    }
}

/// Runs `future` on lake's I/O runtime in the background, from sync or
/// async code alike.
pub(crate) fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    runtime().spawn(future)
}
