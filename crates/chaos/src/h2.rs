//! HTTP/2 frames as bytes, for [`RawServer`](crate::RawServer) scripts: a server that speaks
//! HTTP/2 exactly as scripted — a stream limit of 0, a flow-control window that never opens,
//! a GOAWAY in the middle of a response — which no real server would do on request.
//!
//! A raw server reads the client's connection preface as the "request head"; a script then
//! usually starts with [`settings`], waits for the request with
//! [`RawStep::AwaitH2Frame`](crate::RawStep::AwaitH2Frame)`(`[`HEADERS`]`)`, and answers on
//! stream 1 (the client's first stream; its next ones are 3, 5, ...).
//!
//! ```
//! use tenax_chaos::{RawStep, h2};
//! // A server that allows no stream at all, ever.
//! let script = vec![RawStep::write(h2::settings(&[(h2::MAX_CONCURRENT_STREAMS, 0)]))];
//! # let _ = script;
//! ```

use bytes::{BufMut, Bytes, BytesMut};

/// Frame type DATA.
pub const DATA: u8 = 0x0;
/// Frame type HEADERS.
pub const HEADERS: u8 = 0x1;
/// Frame type RST_STREAM.
pub const RST_STREAM: u8 = 0x3;
/// Frame type SETTINGS.
pub const SETTINGS: u8 = 0x4;
/// Frame type PING.
pub const PING: u8 = 0x6;
/// Frame type GOAWAY.
pub const GOAWAY: u8 = 0x7;
/// Frame type WINDOW_UPDATE.
pub const WINDOW_UPDATE: u8 = 0x8;

/// Setting SETTINGS_MAX_CONCURRENT_STREAMS.
pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// Setting SETTINGS_INITIAL_WINDOW_SIZE.
pub const INITIAL_WINDOW_SIZE: u16 = 0x4;

/// Error code NO_ERROR.
pub const NO_ERROR: u32 = 0x0;
/// Error code PROTOCOL_ERROR.
pub const PROTOCOL_ERROR: u32 = 0x1;
/// Error code INTERNAL_ERROR.
pub const INTERNAL_ERROR: u32 = 0x2;
/// Error code REFUSED_STREAM: the stream was not processed (safe to send again).
pub const REFUSED_STREAM: u32 = 0x7;
/// Error code CANCEL.
pub const CANCEL: u32 = 0x8;
/// Error code ENHANCE_YOUR_CALM.
pub const ENHANCE_YOUR_CALM: u32 = 0xb;
/// The error codes of RFC 9113 §7, NO_ERROR (0x0) to HTTP_1_1_REQUIRED (0xd).
pub const ERROR_CODES: std::ops::RangeInclusive<u32> = 0x0..=0xd;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// One frame: its 9-byte header and payload.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(9 + payload.len());
    let len = payload.len() as u32;
    b.put_slice(&len.to_be_bytes()[1..]);
    b.put_u8(kind);
    b.put_u8(flags);
    b.put_u32(stream & 0x7fff_ffff);
    b.put_slice(payload);
    b.freeze()
}

/// A SETTINGS frame with these (id, value) pairs.
pub fn settings(pairs: &[(u16, u32)]) -> Bytes {
    let mut p = BytesMut::new();
    for (id, v) in pairs {
        p.put_u16(*id);
        p.put_u32(*v);
    }
    frame(SETTINGS, 0, 0, &p)
}

/// A response head on `stream`: the status, encoded with HPACK's literal form (never
/// indexed), and `Content-Length` if given; `end` ends the stream (no body).
pub fn headers(stream: u32, status: u16, content_length: Option<u64>, end: bool) -> Bytes {
    let mut p = BytesMut::new();
    literal(&mut p, 8, status.to_string().as_bytes());
    if let Some(n) = content_length {
        literal(&mut p, 28, n.to_string().as_bytes());
    }
    let flags = END_HEADERS | if end { END_STREAM } else { 0 };
    frame(HEADERS, flags, stream, &p)
}

/// HPACK "literal header field without indexing", name from the static table (RFC 7541
/// §6.2.2: a 4-bit prefix for the index, then the value's length with a 7-bit prefix).
fn literal(p: &mut BytesMut, name_index: u8, value: &[u8]) {
    debug_assert!(value.len() < 127);
    if name_index < 15 {
        p.put_u8(name_index);
    } else {
        p.put_u8(0x0f);
        p.put_u8(name_index - 15);
    }
    p.put_u8(value.len() as u8);
    p.put_slice(value);
}

/// A DATA frame on `stream`; `end` ends the stream.
pub fn data(stream: u32, bytes: &[u8], end: bool) -> Bytes {
    frame(DATA, if end { END_STREAM } else { 0 }, stream, bytes)
}

/// A GOAWAY: streams above `last_stream` were not processed.
pub fn goaway(last_stream: u32, code: u32) -> Bytes {
    let mut p = BytesMut::new();
    p.put_u32(last_stream & 0x7fff_ffff);
    p.put_u32(code);
    frame(GOAWAY, 0, 0, &p)
}

/// A PING (not an ACK): the client must answer it.
pub fn ping(payload: [u8; 8]) -> Bytes {
    frame(PING, 0, 0, &payload)
}

/// A WINDOW_UPDATE for `stream` (0: the connection).
pub fn window_update(stream: u32, increment: u32) -> Bytes {
    frame(WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// An RST_STREAM for `stream`.
pub fn rst_stream(stream: u32, code: u32) -> Bytes {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// Reads frames as they arrive, for [`RawStep::AwaitH2Frame`](crate::RawStep::AwaitH2Frame):
/// skips the rest of the client preface and returns the frame types seen.
pub(crate) struct FrameReader {
    buf: BytesMut,
    preface_left: usize,
}

/// What follows `PRI * HTTP/2.0\r\n\r\n` in the client preface.
const PREFACE_TAIL: &[u8] = b"SM\r\n\r\n";

impl FrameReader {
    /// A reader of what followed the head, `after_head`; `h2` when the head was HTTP/2's
    /// preface.
    pub(crate) fn new(after_head: &[u8], h2: bool) -> FrameReader {
        FrameReader {
            buf: BytesMut::from(after_head),
            preface_left: if h2 { PREFACE_TAIL.len() } else { 0 },
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The type and stream of the next whole frame, consumed; `None` until one has arrived.
    pub(crate) fn next_frame(&mut self) -> Option<(u8, u32)> {
        if self.preface_left > 0 {
            let skip = self.preface_left.min(self.buf.len());
            let _ = self.buf.split_to(skip);
            self.preface_left -= skip;
            if self.preface_left > 0 {
                return None;
            }
        }
        if self.buf.len() < 9 {
            return None;
        }
        let len = (usize::from(self.buf[0]) << 16)
            | (usize::from(self.buf[1]) << 8)
            | usize::from(self.buf[2]);
        if self.buf.len() < 9 + len {
            return None;
        }
        let kind = self.buf[3];
        let stream = u32::from_be_bytes([self.buf[5], self.buf[6], self.buf[7], self.buf[8]]);
        let _ = self.buf.split_to(9 + len);
        Some((kind, stream & 0x7fff_ffff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_laid_out_as_rfc_9113_says() {
        assert_eq!(
            &settings(&[(MAX_CONCURRENT_STREAMS, 0)])[..],
            &[0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]
        );
        let h = headers(1, 200, None, true);
        assert_eq!(&h[..9], &[0, 0, 5, HEADERS, 5, 0, 0, 0, 1]);
        assert_eq!(&h[9..], &[8, 3, b'2', b'0', b'0']);
        assert_eq!(&goaway(1, INTERNAL_ERROR)[9..], &[0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[test]
    fn the_reader_skips_the_preface_and_splits_frames() {
        let mut r = FrameReader::new(b"SM\r\n", true);
        assert_eq!(r.next_frame(), None);
        let mut more = b"\r\n".to_vec();
        more.extend_from_slice(&settings(&[]));
        more.extend_from_slice(&headers(1, 200, None, true)[..5]);
        r.feed(&more);
        assert_eq!(r.next_frame(), Some((SETTINGS, 0)));
        assert_eq!(r.next_frame(), None);
        r.feed(&headers(1, 200, None, true)[5..]);
        assert_eq!(r.next_frame(), Some((HEADERS, 1)));
    }
}
