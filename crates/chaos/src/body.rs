//! Response bodies: fixed, generated from a deterministic pattern, paced, or ending in a fault.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};

use crate::conn::ConnCtx;

/// Boxed error type of generated bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type of every chaos response.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

/// The period of the byte pattern: a prime, so chunk boundaries never line up with it.
const PERIOD: usize = 251;
/// The largest chunk a generated body yields.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// The byte at offset `i` of every generated body (`/bytes`, `/stream`, `/file`, ...).
///
/// Bodies are `i % 251` for byte `i`, so a test can check any range without storing the body.
pub fn pattern_byte(i: u64) -> u8 {
    (i % PERIOD as u64) as u8
}

/// `len` bytes of the pattern starting at `offset`: what `/file/{n}` with
/// `Range: bytes=offset-(offset+len-1)` returns.
pub fn pattern(offset: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern_byte(offset + i)).collect()
}

fn pattern_buf() -> &'static Bytes {
    static BUF: OnceLock<Bytes> = OnceLock::new();
    BUF.get_or_init(|| Bytes::from(pattern(0, MAX_CHUNK + PERIOD)))
}

/// A cheap slice of the pattern: `len <= MAX_CHUNK` bytes starting at `offset`.
pub(crate) fn pattern_chunk(offset: u64, len: usize) -> Bytes {
    debug_assert!(len <= MAX_CHUNK);
    let start = (offset % PERIOD as u64) as usize;
    pattern_buf().slice(start..start + len)
}

pub(crate) fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// How a generated body ends after its last byte.
#[derive(Clone)]
pub(crate) enum Ending {
    /// Normally.
    Finish,
    /// With an error, which makes hyper abort the connection (HTTP/1) or reset the stream
    /// (HTTP/2). The connection's `reset_on_close` flag decides between FIN and RST.
    Abort,
    /// The whole connection dropped (HTTP/2: every stream on it, no GOAWAY, no RST_STREAM),
    /// with RST or FIN as the connection's `reset_on_close` flag says.
    DropConnection(Arc<ConnCtx>),
}

impl Ending {
    /// How a body that must not finish ends on a request of `version`: HTTP/2's whole
    /// connection dropped (a stream reset would leave the others running), HTTP/1's aborted.
    pub(crate) fn cut(version: http::Version, conn: &Arc<ConnCtx>) -> Ending {
        if version == http::Version::HTTP_2 {
            Ending::DropConnection(conn.clone())
        } else {
            Ending::Abort
        }
    }
}

/// A body of the pattern bytes `[start, end)`, `chunk` bytes at a time with `delay` between
/// chunks, ending as `ending` says.
pub(crate) fn pattern_body(
    start: u64,
    end: u64,
    chunk: usize,
    delay: Duration,
    ending: Ending,
) -> Body {
    let chunk = chunk.clamp(1, MAX_CHUNK);
    // State: (next offset, whether a chunk was already sent, whether we are done).
    let s = stream::unfold((start, false, false), move |(pos, sent_any, done)| {
        let ending = ending.clone();
        async move {
            if done {
                return None;
            }
            if pos >= end {
                // Give the connection a moment to flush what was sent before cutting it.
                return match ending {
                    Ending::Finish => None,
                    Ending::Abort => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let err: BoxError = "tenax-chaos: body aborted on purpose".into();
                        Some((Err(err), (pos, sent_any, true)))
                    }
                    Ending::DropConnection(conn) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        conn.abort();
                        // The connection's driver drops this body with the connection.
                        std::future::pending().await
                    }
                };
            }
            if sent_any && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let len = (end - pos).min(chunk as u64) as usize;
            let data = pattern_chunk(pos, len);
            Some((Ok(Frame::data(data)), (pos + len as u64, true, false)))
        }
    });
    StreamBody::new(s).boxed_unsync()
}

/// A gzip stream that decodes to `n` zero bytes, produced lazily one MiB of input at a time.
pub(crate) fn gzip_bomb(n: u64) -> Body {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    static ZEROS: [u8; 1 << 20] = [0; 1 << 20];
    let enc = GzEncoder::new(Vec::new(), Compression::default());
    let s = stream::unfold(Some((enc, n)), |state| async move {
        let (mut enc, remaining) = state?;
        let step = remaining.min(ZEROS.len() as u64) as usize;
        let res: Result<Option<Vec<u8>>, std::io::Error> = (|| {
            enc.write_all(&ZEROS[..step])?;
            if remaining == step as u64 {
                return Ok(None);
            }
            Ok(Some(std::mem::take(enc.get_mut())))
        })();
        match res {
            Ok(Some(out)) => Some((
                Ok(Frame::data(Bytes::from(out))),
                Some((enc, remaining - step as u64)),
            )),
            Ok(None) => match enc.finish() {
                Ok(out) => Some((Ok(Frame::data(Bytes::from(out))), None)),
                Err(e) => Some((Err(Box::new(e) as BoxError), None)),
            },
            Err(e) => Some((Err(Box::new(e) as BoxError), None)),
        }
    });
    StreamBody::new(s).boxed_unsync()
}

/// `data` compressed with an HTTP content coding: `gzip`, `deflate` (zlib), `br` or `zstd`.
pub fn encode(coding: &str, data: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).ok()?;
            e.finish().ok()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).ok()?;
            e.finish().ok()
        }
        "br" => encode_with(
            compression_codecs::BrotliEncoder::new(Default::default()),
            data,
        ),
        "zstd" => encode_with(compression_codecs::ZstdEncoder::new(3), data),
        _ => None,
    }
}

fn encode_with(mut enc: impl compression_codecs::EncodeV2, data: &[u8]) -> Option<Vec<u8>> {
    use compression_codecs::core::util::{PartialBuffer, WriteBuffer};
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut input = PartialBuffer::new(data);
    while !input.unwritten().is_empty() {
        let mut wb = WriteBuffer::new_initialized(&mut buf);
        enc.encode(&mut input, &mut wb).ok()?;
        out.extend_from_slice(wb.written());
    }
    loop {
        let mut wb = WriteBuffer::new_initialized(&mut buf);
        let done = enc.finish(&mut wb).ok()?;
        out.extend_from_slice(wb.written());
        if done {
            return Some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_match_the_pattern_at_any_offset() {
        for offset in [0u64, 1, 250, 251, 252, 1_000_003] {
            let c = pattern_chunk(offset, 1000);
            assert_eq!(&c[..], &pattern(offset, 1000)[..], "offset {offset}");
        }
        assert_eq!(pattern_chunk(7, MAX_CHUNK).len(), MAX_CHUNK);
    }
}
