//! Where a download stands across its attempts: bytes in the file, the running hash, the size
//! and validator the server gave, resumptions and restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use super::digest::Hashing;
use super::sink::FileSink;
use super::{Download, content_range, io_error, strong_validator, to_hex};
use crate::error::{Error, Kind};
use crate::{Response, Result};

pub(super) struct Transfer {
    hashing: bool,
    /// The running SHA-256, on a thread of its own.
    hasher: Option<Hashing>,
    /// Bytes in the file.
    pub(super) offset: u64,
    /// The whole file's size, as the server announced it.
    pub(super) total: Option<u64>,
    /// What `If-Range` sends when resuming.
    pub(super) validator: Option<HeaderValue>,
    pub(super) resumes: u32,
    restarts: u32,
    /// Bytes received in this run, for the rate limit.
    pub(super) received: u64,
    pub(super) started: Instant,
}

impl Transfer {
    pub(super) fn new(hashing: bool, started: Instant) -> Transfer {
        Transfer {
            hashing,
            hasher: hashing.then(Hashing::start),
            offset: 0,
            total: None,
            validator: None,
            resumes: 0,
            restarts: 0,
            received: 0,
            started,
        }
    }

    /// Back to byte 0: the file emptied, the hash started over.
    pub(super) async fn restart(&mut self, out: &mut FileSink) -> Result<()> {
        out.truncate()
            .await
            .map_err(|e| io_error(e, "truncating"))?;
        // The old digest's thread ends with its queue.
        self.hasher = self.hashing.then(Hashing::start);
        self.offset = 0;
        self.restarts += 1;
        Ok(())
    }

    /// Checks an attempt's answer before its body is copied: a resumed range must come back
    /// as 206 with a matching `Content-Range`, or as 200 (the whole file again: start over);
    /// an error is final.
    pub(super) async fn accept(&mut self, res: &Response, out: &mut FileSink) -> Result<()> {
        let status = res.status();
        let whole = status == StatusCode::OK;
        if self.offset > 0 {
            let valid = status == StatusCode::PARTIAL_CONTENT
                && content_range(res.headers()).is_some_and(|(start, t)| {
                    start == self.offset && (t.is_none() || self.total.is_none() || t == self.total)
                });
            if !valid && !whole {
                return Err(Error::new(Kind::Status(status)).with_source(
                    "the server answered the resumed range with neither 206 and a matching Content-Range nor 200",
                ));
            }
            if whole {
                // The range was ignored or the file changed: start over.
                self.restart(out).await?;
            }
        } else if !status.is_success() {
            return Err(Error::new(Kind::Status(status)));
        }
        if whole {
            self.total = res.content_length();
            self.validator = strong_validator(res.headers());
        }
        Ok(())
    }

    /// Counts (and hashes) a chunk on its way to the file; returns its length.
    pub(super) async fn record(&mut self, b: &Bytes) -> u64 {
        let n = b.len() as u64;
        if let Some(h) = &mut self.hasher {
            h.update(b).await;
        }
        self.offset += n;
        self.received += n;
        n
    }

    /// The body ended before the announced size: a failure to resume after.
    pub(super) fn truncation(&self) -> Option<Error> {
        match self.total {
            Some(t) if self.offset != t => Some(Error::new(Kind::Recv).with_source(format!(
                "the body ended after {} of {t} bytes (truncated)",
                self.offset
            ))),
            _ => None,
        }
    }

    /// The file synced and its digest checked: the download's report.
    pub(super) async fn finish(
        self,
        out: &mut FileSink,
        expected: Option<[u8; 32]>,
        part: &Path,
    ) -> Result<Download> {
        out.sync()
            .await
            .map_err(|e| io_error(e, "writing and syncing the file"))?;
        let digest: Option<[u8; 32]> = match self.hasher {
            Some(h) => Some(h.finish().await.map_err(|e| io_error(e, "hashing"))?),
            None => None,
        };
        if let (Some(want), Some(digest)) = (expected, digest)
            && want != digest
        {
            return Err(Error::new(Kind::Digest).with_source(format!(
                "SHA-256 mismatch: expected {}, got {}",
                to_hex(&want),
                to_hex(&digest)
            )));
        }
        Ok(Download {
            path: part.to_path_buf(),
            bytes: self.offset,
            sha256: digest.as_ref().map(|d| to_hex(d)),
            resumes: self.resumes,
            restarts: self.restarts,
            elapsed: Duration::ZERO,
        })
    }
}
