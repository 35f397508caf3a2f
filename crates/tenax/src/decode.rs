//! `Content-Encoding`: the codings this build decodes (features `gzip`, `deflate`, `brotli`,
//! `zstd`), and a decoder fed with the body's chunks as they arrive, producing bounded ones.

// Without a decoding feature the decoder is never made; its code stays compiled and checked.
#![cfg_attr(
    not(any(
        feature = "gzip",
        feature = "deflate",
        feature = "brotli",
        feature = "zstd"
    )),
    allow(dead_code, unused_imports)
)]

use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;

use crate::body::RecvBody;
use crate::error::{Error, Kind};

/// The largest decoded chunk produced at once: memory stays bounded by it, whatever the ratio.
const OUT_CHUNK: usize = 64 * 1024;

/// The `Accept-Encoding` this build sends, `None` without any decoding feature.
/// Made once: it goes on every request.
pub(crate) fn accept_encoding() -> Option<&'static http::HeaderValue> {
    static ACCEPT: std::sync::OnceLock<Option<http::HeaderValue>> = std::sync::OnceLock::new();
    ACCEPT
        .get_or_init(|| {
            let codings = [
                (cfg!(feature = "gzip"), "gzip"),
                (cfg!(feature = "deflate"), "deflate"),
                (cfg!(feature = "brotli"), "br"),
                (cfg!(feature = "zstd"), "zstd"),
            ];
            let on: Vec<&str> = codings.iter().filter(|c| c.0).map(|c| c.1).collect();
            (!on.is_empty()).then(|| {
                http::HeaderValue::from_str(&on.join(", ")).expect("coding names are ASCII")
            })
        })
        .as_ref()
}

#[cfg(any(
    feature = "gzip",
    feature = "deflate",
    feature = "brotli",
    feature = "zstd"
))]
type Inner = Box<dyn compression_codecs::DecodeV2 + Send + Sync>;

/// The most codings one body may list: each is a decoder with its own window in memory.
const MAX_CODINGS: usize = 4;

/// A decoder for one response body: one stage per listed coding, the last coding applied
/// decoded first.
pub(crate) struct Decoder {
    stages: Vec<Stage>,
    done: bool,
}

/// One coding's decoder, fed by the raw body or by the stage before it.
struct Stage {
    #[cfg(any(
        feature = "gzip",
        feature = "deflate",
        feature = "brotli",
        feature = "zstd"
    ))]
    inner: Inner,
    coding: &'static str,
    input: Bytes,
    got_input: bool,
    /// Its input has ended.
    raw_ended: bool,
    stream_ended: bool,
    /// The decoder flushed everything after the raw body ended.
    finished: bool,
}

/// Every coding `Content-Encoding` lists, over all its header lines, in the order they were
/// applied (`identity` left out).
fn listed_codings(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty() && c != "identity")
        .collect()
}

impl Decoder {
    /// A decoder for the response's `Content-Encoding`: every listed coding (over all its
    /// header lines, at most four) decoded in turn, the last applied first. `None` when
    /// nothing is listed, or when one of the codings is not one this build decodes: the body
    /// is then left as it came, its `Content-Encoding` intact.
    pub(crate) fn for_headers(headers: &HeaderMap) -> Option<Decoder> {
        let codings = listed_codings(headers);
        if codings.is_empty() || codings.len() > MAX_CODINGS {
            return None;
        }
        let stages = codings
            .iter()
            .rev()
            .map(|c| Stage::for_coding(c))
            .collect::<Option<Vec<Stage>>>()?;
        Some(Decoder {
            stages,
            done: false,
        })
    }

    /// The next decoded chunk, reading `raw` as needed.
    pub(crate) fn poll_decoded(
        &mut self,
        raw: &mut RecvBody,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let res = poll_stage(&mut self.stages, raw, cx);
        if matches!(res, Poll::Ready(None | Some(Err(_)))) {
            self.done = true;
        }
        res
    }
}

/// The next output of the last of `stages`, fed by those before it (the first by `raw`).
fn poll_stage(
    stages: &mut [Stage],
    raw: &mut RecvBody,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, Error>>> {
    let Some((stage, before)) = stages.split_last_mut() else {
        return raw.poll_chunk(cx);
    };
    loop {
        if !stage.input.is_empty() || stage.raw_ended {
            match stage.step() {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(Some(out)) => return Poll::Ready(Some(Ok(out))),
                Ok(None) if stage.raw_ended => return Poll::Ready(None),
                Ok(None) => {}
            }
        }
        match poll_stage(before, raw, cx) {
            Poll::Ready(Some(Ok(b))) => stage.push(b),
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => stage.raw_ended = true,
            Poll::Pending => return Poll::Pending,
        }
    }
}

impl Stage {
    /// The decoder of one coding, if this build decodes it.
    fn for_coding(coding: &str) -> Option<Stage> {
        #[cfg(any(
            feature = "gzip",
            feature = "deflate",
            feature = "brotli",
            feature = "zstd"
        ))]
        {
            let (name, inner): (&'static str, Inner) = match coding {
                #[cfg(feature = "gzip")]
                "gzip" | "x-gzip" => ("gzip", Box::new(compression_codecs::GzipDecoder::new())),
                #[cfg(feature = "deflate")]
                "deflate" => ("deflate", Box::new(compression_codecs::ZlibDecoder::new())),
                #[cfg(feature = "brotli")]
                "br" => ("br", Box::new(compression_codecs::BrotliDecoder::new())),
                #[cfg(feature = "zstd")]
                "zstd" => ("zstd", Box::new(compression_codecs::ZstdDecoder::new())),
                _ => return None,
            };
            Some(Stage {
                inner,
                coding: name,
                input: Bytes::new(),
                got_input: false,
                raw_ended: false,
                stream_ended: false,
                finished: false,
            })
        }
        #[cfg(not(any(
            feature = "gzip",
            feature = "deflate",
            feature = "brotli",
            feature = "zstd"
        )))]
        {
            let _ = coding;
            None
        }
    }

    fn error(&self, msg: impl std::fmt::Display) -> Error {
        Error::new(Kind::Decode).with_source(format!("{} body: {msg}", self.coding))
    }

    /// Adds input after what is left of the last.
    fn push(&mut self, b: Bytes) {
        self.got_input = true;
        if self.input.is_empty() {
            self.input = b;
        } else {
            let mut joined = BytesMut::with_capacity(self.input.len() + b.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&b);
            self.input = joined.freeze();
        }
    }

    /// Decodes what the input allows into one output chunk; `None` when more input is needed
    /// (or, at the end of the raw body, when everything is out).
    #[cfg(any(
        feature = "gzip",
        feature = "deflate",
        feature = "brotli",
        feature = "zstd"
    ))]
    fn step(&mut self) -> Result<Option<Bytes>, Error> {
        use compression_codecs::core::util::{PartialBuffer, WriteBuffer};
        if !self.got_input {
            // An empty body (HEAD, 204, 304) has nothing to decode.
            return Ok(None);
        }
        let mut out = BytesMut::zeroed(OUT_CHUNK);
        let mut wb = WriteBuffer::new_initialized(&mut out[..]);
        loop {
            if self.stream_ended && !self.input.is_empty() {
                // Concatenated members (gzip allows several): start the next one.
                self.inner.reinit().map_err(|e| self.error(e))?;
                self.stream_ended = false;
            }
            if !self.stream_ended && !self.input.is_empty() {
                let mut pb = PartialBuffer::new(&self.input[..]);
                let ended = self
                    .inner
                    .decode(&mut pb, &mut wb)
                    .map_err(|e| self.error(e))?;
                let used = pb.written_len();
                self.input.advance(used);
                self.stream_ended = ended;
                if wb.has_no_spare_space() {
                    break;
                }
                if used == 0 && !ended {
                    // The decoder wants more input than there is.
                    break;
                }
                continue;
            }
            if self.raw_ended && !self.finished {
                // No more input: whatever the decoder still holds. A decoder that has not
                // seen its stream's end marker fails here: the body was truncated.
                let flushed = self.inner.finish(&mut wb).map_err(|e| {
                    Error::new(Kind::Recv).with_source(format!(
                        "the {} body ended before its end (truncated): {e}",
                        self.coding
                    ))
                })?;
                self.finished = flushed;
                if flushed || wb.has_no_spare_space() {
                    break;
                }
                continue;
            }
            break;
        }
        let n = wb.written_len();
        if n == 0 {
            return Ok(None);
        }
        out.truncate(n);
        Ok(Some(out.freeze()))
    }

    #[cfg(not(any(
        feature = "gzip",
        feature = "deflate",
        feature = "brotli",
        feature = "zstd"
    )))]
    fn step(&mut self) -> Result<Option<Bytes>, Error> {
        Ok(None)
    }
}
