//! A request body read from a file as it is sent: 64 KiB at a time, with the file's length.

use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use tokio::io::{AsyncRead, ReadBuf};

use super::Body;
use crate::error::BoxError;

/// How much of a file is read at a time.
const FILE_CHUNK: usize = 64 * 1024;

impl Body {
    /// The file at `path`, read as it is sent (64 KiB at a time, never whole into memory) and
    /// sent with its length as `Content-Length`. A file that grows or shrinks while it is sent
    /// fails the request. It is sent once: a request with it is not retried.
    pub async fn file(path: impl AsRef<Path>) -> std::io::Result<Body> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        Ok(Body::sized_stream(Box::pin(FileChunks { file }), len))
    }
}

/// A file read a chunk at a time.
struct FileChunks {
    file: tokio::fs::File,
}

impl Stream for FileChunks {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Zeroed rather than uninitialised: no `unsafe`, and small beside the read itself.
        let mut chunk = BytesMut::zeroed(FILE_CHUNK);
        let mut read = ReadBuf::new(&mut chunk);
        match std::task::ready!(Pin::new(&mut self.file).poll_read(cx, &mut read)) {
            Err(e) => Poll::Ready(Some(Err(e.into()))),
            Ok(()) => {
                let n = read.filled().len();
                if n == 0 {
                    return Poll::Ready(None);
                }
                chunk.truncate(n);
                Poll::Ready(Some(Ok(chunk.freeze())))
            }
        }
    }
}
