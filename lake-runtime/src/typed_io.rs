//! Typed reads and writes on [`File`] and [`FileWriter`] (issue 13 item 5):
//! bytes, text, JSON, bincode and lines, blocking and async.
//!
//! Reads download (verified) on first use, as [`File::open`] does; writes go
//! through the writer's hashed staging file, so a typed write commits the
//! same bytes as the equivalent `write_all`.

use std::io::{BufRead, BufReader, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, File, FileWriter, Result};

/// An I/O error for a value that does not (de)code.
fn data_error(op: &'static str, path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    Error::io(
        op,
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
    )
}

impl File {
    /// The whole content (same as [`File::read`]).
    pub fn read_bytes(&self) -> Result<Vec<u8>> {
        self.read()
    }

    /// Async [`File::read_bytes`].
    pub async fn read_bytes_async(&self) -> Result<Vec<u8>> {
        Ok(self.bytes_async().await?.1)
    }

    /// The whole content as UTF-8 text.
    pub fn read_text(&self) -> Result<String> {
        self.read_to_string()
    }

    /// Async [`File::read_text`].
    pub async fn read_text_async(&self) -> Result<String> {
        let path = self.local_path_async().await?;
        tokio::fs::read_to_string(&path)
            .await
            .map_err(|e| Error::io("read", path, e))
    }

    /// The local copy's path and a buffered reader over it.
    fn reader(&self) -> Result<(std::path::PathBuf, BufReader<std::fs::File>)> {
        let path = self.local_path()?;
        let file = std::fs::File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        Ok((path, BufReader::new(file)))
    }

    /// The local copy's path and its bytes.
    async fn bytes_async(&self) -> Result<(std::path::PathBuf, Vec<u8>)> {
        let path = self.local_path_async().await?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| Error::io("read", &path, e))?;
        Ok((path, bytes))
    }

    /// The content decoded by `decode` from a buffered reader; its error
    /// becomes "cannot `op` `path`".
    fn decode<T, E: std::fmt::Display>(
        &self,
        op: &'static str,
        decode: impl FnOnce(BufReader<std::fs::File>) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let (path, reader) = self.reader()?;
        decode(reader).map_err(|e| data_error(op, &path, e))
    }

    /// Async [`File::decode`], from the whole content.
    async fn decode_async<T, E: std::fmt::Display>(
        &self,
        op: &'static str,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, E>,
    ) -> Result<T> {
        let (path, bytes) = self.bytes_async().await?;
        decode(&bytes).map_err(|e| data_error(op, &path, e))
    }

    /// The content decoded as JSON into `T`.
    pub fn read_json<T: DeserializeOwned>(&self) -> Result<T> {
        self.decode("decode JSON from", serde_json::from_reader)
    }

    /// Async [`File::read_json`].
    pub async fn read_json_async<T: DeserializeOwned>(&self) -> Result<T> {
        self.decode_async("decode JSON from", |b: &[u8]| {
            serde_json::from_slice::<T>(b)
        })
        .await
    }

    /// The content decoded with bincode 1 into `T`.
    pub fn read_bincode<T: DeserializeOwned>(&self) -> Result<T> {
        self.decode("decode bincode from", bincode::deserialize_from)
    }

    /// Async [`File::read_bincode`].
    pub async fn read_bincode_async<T: DeserializeOwned>(&self) -> Result<T> {
        self.decode_async("decode bincode from", |b: &[u8]| {
            bincode::deserialize::<T>(b)
        })
        .await
    }

    /// The content's lines (without their `\n` or `\r\n`), read as they
    /// are iterated.
    pub fn lines(&self) -> Result<impl Iterator<Item = Result<String>> + use<>> {
        let (path, reader) = self.reader()?;
        Ok(reader
            .lines()
            .map(move |line| line.map_err(|e| Error::io("read", &path, e))))
    }

    /// Async [`File::lines`]: call `next_line().await` until `None`.
    pub async fn lines_async(
        &self,
    ) -> Result<tokio::io::Lines<tokio::io::BufReader<tokio::fs::File>>> {
        use tokio::io::AsyncBufReadExt;
        let file = self.open_async().await?;
        Ok(tokio::io::BufReader::new(file).lines())
    }
}

impl FileWriter {
    fn write_or_err(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        self.write_all(bytes)
            .map_err(|e| Error::io("write", self.name().as_str(), e))?;
        Ok(self)
    }

    /// Appends `bytes`.
    pub fn write_bytes(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        self.write_or_err(bytes)
    }

    /// Async [`FileWriter::write_bytes`]. The bytes go to a local staging
    /// file, so this does not wait on the network.
    pub async fn write_bytes_async(&mut self, bytes: &[u8]) -> Result<&mut Self> {
        self.write_or_err(bytes)
    }

    /// Appends `text` as UTF-8.
    pub fn write_text(&mut self, text: &str) -> Result<&mut Self> {
        self.write_or_err(text.as_bytes())
    }

    /// Async [`FileWriter::write_text`].
    pub async fn write_text_async(&mut self, text: &str) -> Result<&mut Self> {
        self.write_or_err(text.as_bytes())
    }

    /// Appends `value` as compact JSON.
    pub fn write_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            data_error(
                "encode JSON for",
                std::path::Path::new(self.name().as_str()),
                e,
            )
        })?;
        self.write_or_err(&bytes)
    }

    /// Async [`FileWriter::write_json`].
    pub async fn write_json_async<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Self> {
        self.write_json(value)
    }

    /// Appends `value` encoded with bincode 1 (its default, fixed-width
    /// little-endian layout). A `HashMap` is written in iteration order:
    /// sort it first (a `BTreeMap`) if equal values must give equal bytes.
    pub fn write_bincode<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self> {
        let bytes = bincode::serialize(value).map_err(|e| {
            data_error(
                "encode bincode for",
                std::path::Path::new(self.name().as_str()),
                e,
            )
        })?;
        self.write_or_err(&bytes)
    }

    /// Async [`FileWriter::write_bincode`].
    pub async fn write_bincode_async<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<&mut Self> {
        self.write_bincode(value)
    }
}

/// An async writer of a new file: `tokio::io::copy(&mut reader, &mut
/// writer)` then [`FileWriter::commit_async`].
///
/// The bytes go to the writer's local staging file (as with
/// [`std::io::Write`], through a buffer), so each poll completes at once;
/// a large write may block the task briefly on the local disk, never on
/// the network. Reading is [`File::open_async`]'s `tokio::fs::File`, an
/// `AsyncRead`.
impl tokio::io::AsyncWrite for FileWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Write::write(self.get_mut(), buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Write::flush(self.get_mut()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use crate::Lake;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        id: u32,
        label: String,
        weights: BTreeMap<String, f64>,
    }

    use super::*;

    fn row() -> Row {
        Row {
            id: 7,
            label: "north".into(),
            weights: [("a".to_owned(), 0.5), ("b".to_owned(), 2.0)].into(),
        }
    }

    #[test]
    fn typed_round_trips_blocking() {
        let lake = Lake::temporary().unwrap();
        let mut w = lake.create("t/bytes").unwrap();
        w.write_bytes(&[0, 1, 2, 255]).unwrap();
        assert_eq!(w.commit().unwrap().read_bytes().unwrap(), [0, 1, 2, 255]);

        let mut w = lake.create("t/text").unwrap();
        w.write_text("héllo\n")
            .unwrap()
            .write_text("second\r\nthird")
            .unwrap();
        let text = w.commit().unwrap();
        assert_eq!(text.read_text().unwrap(), "héllo\nsecond\r\nthird");
        let lines: Vec<String> = text.lines().unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(lines, ["héllo", "second", "third"]);

        let mut w = lake.create("t/json").unwrap();
        w.write_json(&row()).unwrap();
        let json = w.commit().unwrap();
        assert_eq!(json.read_json::<Row>().unwrap(), row());
        // A typed write commits exactly the bytes serde_json produces.
        assert_eq!(
            json.digest().unwrap(),
            lake_core::Digest::of(&serde_json::to_vec(&row()).unwrap())
        );

        let mut w = lake.create("t/bincode").unwrap();
        w.write_bincode(&row()).unwrap();
        let bin = w.commit().unwrap();
        assert_eq!(bin.read_bincode::<Row>().unwrap(), row());

        let err = text.read_json::<Row>().unwrap_err();
        assert!(err.to_string().contains("decode JSON"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_round_trips_async() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open_with(
            crate::LakeConfigBuilder::new()
                .with_home(dir.path())
                .build()
                .unwrap(),
        )
        .unwrap();
        let mut w = lake.create("a/json").unwrap();
        w.write_json_async(&row()).await.unwrap();
        let f = w.commit_async().await.unwrap();
        assert_eq!(f.read_json_async::<Row>().await.unwrap(), row());

        let mut w = lake.create("a/bin").unwrap();
        w.write_bincode_async(&row()).await.unwrap();
        let f = w.commit_async().await.unwrap();
        assert_eq!(f.read_bincode_async::<Row>().await.unwrap(), row());

        let mut w = lake.create("a/text").unwrap();
        w.write_text_async("x\ny\n").await.unwrap();
        w.write_bytes_async(b"z").await.unwrap();
        let f = w.commit_async().await.unwrap();
        assert_eq!(f.read_text_async().await.unwrap(), "x\ny\nz");
        assert_eq!(f.read_bytes_async().await.unwrap(), b"x\ny\nz");
        let mut lines = f.lines_async().await.unwrap();
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().await.unwrap() {
            got.push(line);
        }
        assert_eq!(got, ["x", "y", "z"]);

        // Streaming: AsyncRead of one file into the AsyncWrite of another
        // commits the same bytes and digest.
        let mut reader = f.open_async().await.unwrap();
        let mut w = lake.create("a/copy").unwrap();
        tokio::io::copy(&mut reader, &mut w).await.unwrap();
        let copy = w.commit_async().await.unwrap();
        assert_eq!(
            copy.digest_async().await.unwrap(),
            f.digest_async().await.unwrap()
        );
    }
}
