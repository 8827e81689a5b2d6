//! [`PartUploader`]: a multipart upload fed in order, with a bounded number
//! of parts in flight, that reports the error that broke it.
//!
//! `object_store`'s `WriteMultipart` does the same feeding, but when a
//! part or the completion fails, its `finish` aborts the upload and, if the
//! abort fails too, returns the abort's error: a run beside a CPU hog
//! showed only the 403 of an abort, never the timeout that caused it. Here
//! the first error is returned, and the abort's own failure is logged.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use object_store::{MultipartUpload, PutPayload, UploadPart};
use tokio::io::AsyncReadExt;

/// Size of one read from disk while feeding a multipart upload.
const READ_CHUNK: usize = 1024 * 1024;

/// Why [`PartUploader::put_file_contents`] failed: reading the file, or
/// sending it.
pub(crate) enum FeedError {
    Io(std::io::Error),
    Store(object_store::Error),
}

/// Feeds one multipart upload: bytes in, parts of `part_size` out, at most
/// `max_in_flight` of them being sent at once.
pub(crate) struct PartUploader {
    upload: Box<dyn MultipartUpload>,
    in_flight: FuturesUnordered<UploadPart>,
    /// The next part, gathered from the bytes put so far.
    pending: Vec<Bytes>,
    pending_len: usize,
    part_size: usize,
    max_in_flight: usize,
    /// Set once the upload is aborted: nothing more is sent.
    aborted: bool,
}

impl PartUploader {
    pub(crate) fn new(
        upload: Box<dyn MultipartUpload>,
        part_size: usize,
        max_in_flight: usize,
    ) -> Self {
        Self {
            upload,
            in_flight: FuturesUnordered::new(),
            pending: Vec::new(),
            pending_len: 0,
            part_size: part_size.max(1),
            max_in_flight: max_in_flight.max(1),
            aborted: false,
        }
    }

    /// Adds `bytes` to the upload, sending each part as it fills, and
    /// waiting while `max_in_flight` parts are being sent: memory stays
    /// near `(max_in_flight + 1) * part_size`. A part that fails aborts
    /// the upload, and its error is returned.
    pub(crate) async fn put(&mut self, mut bytes: Bytes) -> object_store::Result<()> {
        if self.aborted {
            return Err(already_aborted());
        }
        while !bytes.is_empty() {
            let room = self.part_size - self.pending_len;
            let piece = bytes.split_to(room.min(bytes.len()));
            self.pending_len += piece.len();
            self.pending.push(piece);
            if self.pending_len == self.part_size
                && let Err(first) = self.send_pending().await
            {
                self.abort_in_place().await;
                return Err(first);
            }
        }
        Ok(())
    }

    async fn send_pending(&mut self) -> object_store::Result<()> {
        while self.in_flight.len() >= self.max_in_flight {
            if let Some(sent) = self.in_flight.next().await {
                sent?;
            }
        }
        let part: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
        self.pending_len = 0;
        self.in_flight.push(self.upload.put_part(part));
        Ok(())
    }

    /// Streams the whole of `file` into the upload, never holding more
    /// than the parts in flight.
    pub(crate) async fn put_file_contents(&mut self, file: &Path) -> Result<(), FeedError> {
        let mut file = tokio::fs::File::open(file).await.map_err(FeedError::Io)?;
        loop {
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            // `read_buf` may return less than asked; keep filling the chunk
            // so parts are assembled from few, large pieces.
            while buf.len() < READ_CHUNK {
                if file.read_buf(&mut buf).await.map_err(FeedError::Io)? == 0 {
                    break;
                }
            }
            if buf.is_empty() {
                return Ok(());
            }
            let full = buf.len() == READ_CHUNK;
            self.put(buf.freeze()).await.map_err(FeedError::Store)?;
            if !full {
                return Ok(());
            }
        }
    }

    /// Sends the last part, waits for every part, and completes the
    /// upload. On any failure the upload is aborted and the failure, not
    /// the abort's, is returned.
    pub(crate) async fn finish(mut self) -> object_store::Result<()> {
        if self.aborted {
            return Err(already_aborted());
        }
        let finished = async {
            if self.pending_len > 0 {
                self.send_pending().await?;
            }
            while let Some(sent) = self.in_flight.next().await {
                sent?;
            }
            self.upload.complete().await.map(drop)
        }
        .await;
        if let Err(first) = finished {
            self.abort_in_place().await;
            return Err(first);
        }
        Ok(())
    }

    /// Abandons the upload: parts still in flight are dropped and the
    /// server is asked to delete the ones it has. If that fails too, the
    /// parts are left for `lake gc`, which lists and aborts such uploads;
    /// the caller's own error is the one worth reporting, so this one is
    /// only logged.
    pub(crate) async fn abort(mut self) {
        self.abort_in_place().await;
    }

    async fn abort_in_place(&mut self) {
        if std::mem::replace(&mut self.aborted, true) {
            return;
        }
        self.in_flight.clear();
        if let Err(e) = self.upload.abort().await {
            tracing::warn!(
                error = %e,
                "cannot abort a failed multipart upload; lake gc aborts it after its grace period"
            );
        }
    }
}

/// What a use of an upload aborted after a failure answers.
fn already_aborted() -> object_store::Error {
    object_store::Error::Generic {
        store: "multipart upload",
        source: "the upload was aborted after an earlier failure".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use object_store::{PutResult, Result};

    use super::*;

    /// An upload whose part number `fail_part` is refused, and whose abort
    /// fails too; it records the sizes of the parts it was sent.
    #[derive(Debug, Default)]
    struct Recorder {
        fail_part: Option<usize>,
        sizes: Arc<std::sync::Mutex<Vec<usize>>>,
        sent: Arc<AtomicUsize>,
        aborted: Arc<AtomicBool>,
        completed: Arc<AtomicBool>,
    }

    fn generic(message: &'static str) -> object_store::Error {
        object_store::Error::Generic {
            store: "test",
            source: message.into(),
        }
    }

    #[async_trait::async_trait]
    impl MultipartUpload for Recorder {
        fn put_part(&mut self, data: PutPayload) -> UploadPart {
            let n = self.sent.fetch_add(1, Ordering::SeqCst);
            self.sizes.lock().unwrap().push(data.content_length());
            let fail = self.fail_part == Some(n);
            Box::pin(async move {
                if fail {
                    Err(generic("part refused: the real cause"))
                } else {
                    Ok(())
                }
            })
        }

        async fn complete(&mut self) -> Result<PutResult> {
            self.completed.store(true, Ordering::SeqCst);
            Ok(PutResult {
                e_tag: None,
                version: None,
                extensions: Default::default(),
            })
        }

        async fn abort(&mut self) -> Result<()> {
            self.aborted.store(true, Ordering::SeqCst);
            Err(generic("abort refused too"))
        }
    }

    fn run(recorder: Recorder, chunks: &[usize]) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut parts = PartUploader::new(Box::new(recorder), 10, 2);
            for &len in chunks {
                parts.put(Bytes::from(vec![7u8; len])).await?;
            }
            parts.finish().await
        })
    }

    #[test]
    fn parts_are_cut_to_size_whatever_the_chunks() {
        let recorder = Recorder::default();
        let sizes = recorder.sizes.clone();
        let completed = recorder.completed.clone();
        run(recorder, &[3, 25, 1, 6]).unwrap();
        assert_eq!(*sizes.lock().unwrap(), [10, 10, 10, 5]);
        assert!(completed.load(Ordering::SeqCst));
    }

    #[test]
    fn a_failed_part_is_reported_not_the_failed_abort_that_follows() {
        let recorder = Recorder {
            fail_part: Some(1),
            ..Recorder::default()
        };
        let aborted = recorder.aborted.clone();
        let completed = recorder.completed.clone();
        let err = run(recorder, &[30, 30]).unwrap_err().to_string();
        assert!(err.contains("the real cause"), "{err}");
        assert!(!err.contains("abort refused"), "{err}");
        assert!(aborted.load(Ordering::SeqCst), "the upload was not aborted");
        assert!(!completed.load(Ordering::SeqCst));
    }
}
