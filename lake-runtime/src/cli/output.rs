//! Standard output as the commands write it: coloured only where colours
//! belong, buffered, and quiet about a reader that went away.
//!
//! `lake ls -r | head -1` closes the pipe after one line. Rust ignores
//! SIGPIPE, so the next write fails with `BrokenPipe`; like ripgrep, lake
//! then stops and exits with success, printing nothing (issue 14). Only a
//! closed *stdout* counts: a broken pipe to a store is an error, so the
//! writer below marks the closing instead of the error kind being trusted.

use std::io::{self, BufWriter, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use anstream::AutoStream;

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// True once a write to stdout failed because its reader went away.
pub(crate) fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Buffered stdout that strips escape codes under `NO_COLOR`, `TERM=dumb`
/// or when stdout is not a terminal (anstream's rules). Call `flush` at
/// the end: dropping it would swallow a write error.
pub(crate) type Out = BufWriter<ClosedPipeGuard<AutoStream<StdoutLock<'static>>>>;

pub(crate) fn stdout() -> Out {
    BufWriter::new(ClosedPipeGuard(AutoStream::auto(io::stdout().lock())))
}

/// Stdout for content (`lake cat`): every byte as it is, escape codes too.
pub(crate) fn raw_stdout() -> BufWriter<ClosedPipeGuard<StdoutLock<'static>>> {
    BufWriter::new(ClosedPipeGuard(io::stdout().lock()))
}

/// True if escape codes written to stderr would reach a terminal.
pub(crate) fn stderr_colored() -> bool {
    AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never
}

/// A writer that records a `BrokenPipe` from the one inside it.
#[derive(Debug)]
pub(crate) struct ClosedPipeGuard<W>(W);

impl<W: Write> ClosedPipeGuard<W> {
    fn note<T>(result: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &result
            && e.kind() == io::ErrorKind::BrokenPipe
        {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
        result
    }
}

impl<W: Write> Write for ClosedPipeGuard<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::note(self.0.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Self::note(self.0.flush())
    }
}
