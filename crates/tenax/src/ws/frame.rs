//! The WebSocket frame layer (RFC 6455 §5), client side, with permessage-deflate (RFC 7692):
//! frames read and checked (masking, reserved bits, opcodes, control frames, fragments, UTF-8,
//! close codes, sizes), messages written masked and, when agreed, compressed. Pings are
//! answered and a peer's close is echoed here; the session sees every frame.
//!
//! Our own (decision 0010's successor, `docs/decisions/0011-websocket-compression.md`): the
//! codec before it could not set or accept RSV1, so compression could not be agreed.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deflate::{Agreed, Deflater, Inflater};

/// A message or control frame read from the peer, as the session sees it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// Checked UTF-8, once.
    Text(String),
    Binary(Bytes),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// The peer's close: its code and reason, if it gave one.
    Close(Option<(u16, String)>),
}

/// Why the codec failed.
#[derive(Debug)]
pub(crate) enum CodecError {
    Io(io::Error),
    /// The peer broke the protocol; a close frame with `code` is queued to tell it.
    Protocol {
        code: u16,
        why: String,
    },
    /// A message over the limit (counted on inflated bytes for compressed ones).
    TooLong {
        len: usize,
        max: usize,
    },
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "{e}"),
            CodecError::Protocol { code, why } => write!(f, "{why} (closed with {code})"),
            CodecError::TooLong { len, max } => {
                write!(
                    f,
                    "a message of {len} bytes or more is over the limit of {max}"
                )
            }
        }
    }
}

impl std::error::Error for CodecError {}

const PROTOCOL_ERROR: u16 = 1002;
const INVALID_DATA: u16 = 1007;
const TOO_BIG: u16 = 1009;

/// Limits and sizes of a codec.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The largest message, counted after inflating.
    pub(crate) max_message: usize,
    /// Outgoing messages larger than this are sent in fragments of it.
    pub(crate) frame_size: usize,
    /// `poll_ready` flushes first once this much waits to be written.
    pub(crate) flush_threshold: usize,
}

/// A message being reassembled from fragments.
struct Partial {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
}

/// The agreed compression, both directions.
struct Deflate {
    agreed: Agreed,
    out: Deflater,
    inn: Inflater,
}

pub(crate) struct Codec<S> {
    io: S,
    /// Bytes read: `rbuf[rpos..rend]` are not parsed yet; the rest of `rbuf` is room to read
    /// into (zeroed once, when it grows: no `unsafe`, and no zeroing per read).
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    /// How much the next read asks for: small while the connection is quiet (an idle
    /// connection touches a few hundred bytes), doubled each time a read fills it.
    read_chunk: usize,
    wbuf: BytesMut,
    limits: Limits,
    partial: Option<Partial>,
    deflate: Option<Box<Deflate>>,
    close_sent: bool,
    /// The peer's close was read (and answered): once flushed, the stream ends.
    close_received: bool,
    ended: bool,
}

impl<S> Codec<S> {
    pub(crate) fn new(io: S, limits: Limits, agreed: Option<Agreed>) -> Codec<S> {
        Codec {
            io,
            rbuf: Vec::new(),
            rpos: 0,
            rend: 0,
            read_chunk: MIN_READ,
            wbuf: BytesMut::new(),
            limits,
            partial: None,
            deflate: agreed.map(|a| {
                Box::new(Deflate {
                    agreed: a,
                    out: Deflater::new(&a),
                    inn: Inflater::new(&a),
                })
            }),
            close_sent: false,
            close_received: false,
            ended: false,
        }
    }

    /// Whether compression was agreed.
    pub(crate) fn compressed(&self) -> bool {
        self.deflate.is_some()
    }

    // ===== writing =====

    /// Queues a data message for the next flush (masked, compressed if agreed and large
    /// enough): one copy, into the write buffer.
    pub(crate) fn queue_data(&mut self, text: bool, payload: &[u8]) {
        self.encode_data(if text { 0x1 } else { 0x2 }, payload);
    }

    /// Queues a ping.
    pub(crate) fn queue_ping(&mut self, payload: &[u8]) {
        self.encode_frame(0x9, false, true, payload);
    }

    /// Queues a close frame (`None`: no code); nothing may be sent after it.
    pub(crate) fn queue_close(&mut self, close: Option<(u16, &str)>) {
        let mut payload = Vec::new();
        if let Some((code, reason)) = close {
            payload.extend_from_slice(&code.to_be_bytes());
            // A reason longer than a control frame allows is cut on a char boundary.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            payload.extend_from_slice(&reason.as_bytes()[..end]);
        }
        self.encode_frame(0x8, false, true, &payload);
        self.close_sent = true;
    }

    fn encode_data(&mut self, opcode: u8, payload: &[u8]) {
        let packed;
        let (body, rsv1) = match &mut self.deflate {
            Some(d) if payload.len() >= d.agreed.threshold => {
                packed = d.out.compress(payload);
                (&packed[..], true)
            }
            _ => (payload, false),
        };
        let size = self.limits.frame_size.max(1);
        if body.len() <= size {
            return self.encode_frame(opcode, rsv1, true, body);
        }
        let mut chunks = body.chunks(size).peekable();
        let mut first = true;
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let (op, r) = if first { (opcode, rsv1) } else { (0x0, false) };
            self.encode_frame(op, r, last, chunk);
            first = false;
        }
    }

    /// One frame, masked as a client's must be.
    fn encode_frame(&mut self, opcode: u8, rsv1: bool, fin: bool, payload: &[u8]) {
        let len = payload.len();
        self.wbuf.reserve(len + 14);
        let b0 = (u8::from(fin) << 7) | (u8::from(rsv1) << 6) | opcode;
        self.wbuf.put_u8(b0);
        if len < 126 {
            self.wbuf.put_u8(0x80 | len as u8);
        } else if len <= 0xFFFF {
            self.wbuf.put_u8(0x80 | 126);
            self.wbuf.put_u16(len as u16);
        } else {
            self.wbuf.put_u8(0x80 | 127);
            self.wbuf.put_u64(len as u64);
        }
        let key = fastrand::u32(..).to_ne_bytes();
        self.wbuf.put_slice(&key);
        let start = self.wbuf.len();
        self.wbuf.put_slice(payload);
        mask(&mut self.wbuf[start..], key);
    }
}

/// XORs `data` with the masking key, eight bytes at a time.
fn mask(data: &mut [u8], key: [u8; 4]) {
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("8 bytes")) ^ wide;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

// ===== reading =====

/// What a frame's header says.
struct Header {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    /// Header bytes, payload bytes.
    len: (usize, usize),
}

impl<S> Codec<S> {
    /// Fails the connection: a close frame with `code` is queued (one try to send it).
    fn fail(&mut self, code: u16, why: impl Into<String>) -> CodecError {
        if !self.close_sent {
            self.queue_close(Some((code, "")));
        }
        CodecError::Protocol {
            code,
            why: why.into(),
        }
    }

    fn header(&mut self) -> Result<Option<Header>, CodecError> {
        let b = &self.rbuf[self.rpos..self.rend];
        if b.len() < 2 {
            return Ok(None);
        }
        let (b0, b1) = (b[0], b[1]);
        let (fin, rsv1, opcode) = (b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x0F);
        if b1 & 0x80 != 0 {
            return Err(self.fail(PROTOCOL_ERROR, "a masked frame from the server"));
        }
        if b0 & 0x30 != 0 {
            return Err(self.fail(PROTOCOL_ERROR, "reserved bits RSV2/RSV3 set"));
        }
        let (head, len) = match b1 & 0x7F {
            126 if b.len() < 4 => return Ok(None),
            126 => (4, u16::from_be_bytes([b[2], b[3]]) as u64),
            127 if b.len() < 10 => return Ok(None),
            127 => (
                10,
                u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")),
            ),
            n => (2, u64::from(n)),
        };
        let control = opcode & 0x8 != 0;
        if control && (!fin || len > 125 || rsv1) {
            return Err(self.fail(
                PROTOCOL_ERROR,
                "a fragmented, long or compressed control frame",
            ));
        }
        if !matches!(opcode, 0x0..=0x2 | 0x8..=0xA) {
            return Err(self.fail(PROTOCOL_ERROR, format!("reserved opcode {opcode}")));
        }
        // Compressed payloads may be a little larger than their message; never unbounded.
        let so_far = self.partial.as_ref().map_or(0, |p| p.data.len() as u64);
        let max = self.limits.max_message as u64 + 1024;
        // Saturating: a continuation's 64-bit length from a hostile server must not wrap
        // past the limit (it once did, and the frame's range then panicked).
        if !control && so_far.saturating_add(len) > max {
            let len = so_far.saturating_add(len).min(usize::MAX as u64) as usize;
            self.fail(TOO_BIG, "");
            return Err(CodecError::TooLong {
                len,
                max: self.limits.max_message,
            });
        }
        Ok(Some(Header {
            fin,
            rsv1,
            opcode,
            len: (head, len as usize),
        }))
    }

    /// The next message or control frame from the bytes read, if they hold a whole one.
    fn parse(&mut self) -> Result<Option<Wire>, CodecError> {
        loop {
            let Some(h) = self.header()? else {
                return Ok(None);
            };
            let (head, len) = h.len;
            if self.rend - self.rpos < head + len {
                // The frame's room, for the reads that bring the rest.
                self.make_room(head + len);
                return Ok(None);
            }
            let start = self.rpos + head;
            self.rpos = start + len;
            if let Some(msg) = self.frame(h, start..start + len)? {
                return Ok(Some(msg));
            }
        }
    }

    /// One whole frame (its payload at `at` in the read buffer): a message or control frame to
    /// hand over, or `None` for a fragment.
    fn frame(&mut self, h: Header, at: std::ops::Range<usize>) -> Result<Option<Wire>, CodecError> {
        match h.opcode {
            0x8 => {
                let payload = self.rbuf[at].to_vec();
                self.close(&payload).map(Some)
            }
            0x9 => {
                let payload = self.rbuf[at].to_vec();
                self.encode_frame(0xA, false, true, &payload);
                Ok(Some(Wire::Ping(payload)))
            }
            0xA => Ok(Some(Wire::Pong(self.rbuf[at].to_vec()))),
            0x0 => {
                if h.rsv1 {
                    return Err(self.fail(PROTOCOL_ERROR, "RSV1 on a continuation frame"));
                }
                let Some(p) = self.partial.as_mut() else {
                    return Err(self.fail(PROTOCOL_ERROR, "a continuation with no message"));
                };
                p.data.extend_from_slice(&self.rbuf[at]);
                if !h.fin {
                    return Ok(None);
                }
                let p = self.partial.take().expect("checked");
                self.message(p).map(Some)
            }
            op => {
                if self.partial.is_some() {
                    return Err(self.fail(PROTOCOL_ERROR, "a new message before the last ended"));
                }
                if h.rsv1 && self.deflate.is_none() {
                    return Err(self.fail(PROTOCOL_ERROR, "RSV1 set without compression agreed"));
                }
                let p = Partial {
                    text: op == 0x1,
                    compressed: h.rsv1,
                    data: self.rbuf[at].to_vec(),
                };
                if !h.fin {
                    self.partial = Some(p);
                    return Ok(None);
                }
                self.message(p).map(Some)
            }
        }
    }

    /// A whole data message: inflated (bounded), text checked (once: it becomes the `String`).
    fn message(&mut self, p: Partial) -> Result<Wire, CodecError> {
        let max = self.limits.max_message;
        let data = if p.compressed {
            let d = self
                .deflate
                .as_mut()
                .expect("checked when the message began");
            match d.inn.inflate(&p.data, max) {
                Ok(v) => v,
                Err(0) => {
                    return Err(
                        self.fail(INVALID_DATA, "a compressed message that does not inflate")
                    );
                }
                Err(len) => {
                    self.fail(TOO_BIG, "");
                    return Err(CodecError::TooLong { len, max });
                }
            }
        } else {
            if p.data.len() > max {
                self.fail(TOO_BIG, "");
                return Err(CodecError::TooLong {
                    len: p.data.len(),
                    max,
                });
            }
            p.data
        };
        if !p.text {
            return Ok(Wire::Binary(Bytes::from(data)));
        }
        match String::from_utf8(data) {
            Ok(text) => Ok(Wire::Text(text)),
            Err(_) => Err(self.fail(INVALID_DATA, "a text message that is not UTF-8")),
        }
    }

    /// The peer's close frame, checked, and echoed unless ours went first.
    fn close(&mut self, payload: &[u8]) -> Result<Wire, CodecError> {
        let close = match payload.len() {
            0 => None,
            1 => return Err(self.fail(PROTOCOL_ERROR, "a close frame of one byte")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                    return Err(self.fail(PROTOCOL_ERROR, format!("close code {code}")));
                }
                let Ok(reason) = std::str::from_utf8(&payload[2..]) else {
                    return Err(self.fail(INVALID_DATA, "a close reason that is not UTF-8"));
                };
                Some((code, reason.to_owned()))
            }
        };
        if !self.close_sent {
            self.queue_close(close.as_ref().map(|(c, _)| (*c, "")));
        }
        self.close_received = true;
        Ok(Wire::Close(close))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Codec<S> {
    /// Writes what is queued, then flushes the socket.
    fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        while !self.wbuf.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.wbuf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wbuf.advance(n);
        }
        if self.wbuf.capacity() > 4 * self.limits.flush_threshold.max(64 * 1024) {
            // Written out: a buffer grown for a burst goes.
            self.wbuf = BytesMut::new();
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Reads more bytes; `Ready(Ok(false))` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, io::Error>> {
        self.make_room(self.rend - self.rpos + self.read_chunk);
        let room = self.rbuf.len() - self.rend;
        let mut buf = ReadBuf::new(&mut self.rbuf[self.rend..]);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        self.rend += n;
        if n == room {
            // More is likely waiting: ask for more next time.
            self.read_chunk = (self.read_chunk * 2).min(MAX_READ);
        } else {
            self.read_chunk = (self.read_chunk / 2).max(MIN_READ);
        }
        Poll::Ready(Ok(n > 0))
    }
}

impl<S> Codec<S> {
    /// Makes room for `want` bytes from the first unparsed one: what is parsed goes, the rest
    /// moves to the front, and the buffer grows (zeroed once) only when that is not enough.
    fn make_room(&mut self, want: usize) {
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
            // Nothing unparsed: a buffer grown for a large message goes (it was resident).
            if self.rbuf.len() > 2 * want.max(MAX_READ) {
                self.rbuf = Vec::new();
            }
        }
        if self.rbuf.len() - self.rpos >= want {
            return;
        }
        self.rbuf.copy_within(self.rpos..self.rend, 0);
        self.rend -= self.rpos;
        self.rpos = 0;
        if self.rbuf.len() < want {
            self.rbuf.resize(want, 0);
        }
    }
}

/// The first reads' size, and the most one read asks for (the socket under reads ahead in
/// larger bursts: `io.rs`). Zeroed room is resident memory: an idle connection keeps only the
/// small one.
const MIN_READ: usize = 512;
const MAX_READ: usize = 8 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Codec<S> {
    type Item = Result<Wire, CodecError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            if this.close_received {
                // The close (and its answer) exchanged: the answer goes out, then it ends.
                let _ = ready!(this.poll_write_all(cx));
                this.ended = true;
                return Poll::Ready(None);
            }
            match this.parse() {
                Ok(Some(m)) => return Poll::Ready(Some(Ok(m))),
                Ok(None) => {}
                Err(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match ready!(this.poll_fill(cx)) {
                Ok(true) => {}
                Ok(false) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Err(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(CodecError::Io(e))));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Codec<S> {
    /// Ready for more once less than the flush threshold waits to be written.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CodecError>> {
        if self.wbuf.len() >= self.limits.flush_threshold {
            ready!(self.poll_write_all(cx)).map_err(CodecError::Io)?;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes everything queued and flushes the socket.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CodecError>> {
        self.poll_write_all(cx).map_err(CodecError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes as if read from the socket.
    fn put(c: &mut Codec<tokio::io::DuplexStream>, bytes: &[u8]) {
        c.rbuf.truncate(c.rend);
        c.rbuf.extend_from_slice(bytes);
        c.rend = c.rbuf.len();
    }

    fn codec(agreed: Option<Agreed>) -> Codec<tokio::io::DuplexStream> {
        let (a, _b) = tokio::io::duplex(64);
        Codec::new(
            a,
            Limits {
                max_message: 1 << 20,
                frame_size: 1 << 16,
                flush_threshold: 8192,
            },
            agreed,
        )
    }

    /// Unmasks what a codec wrote, as a server would read it.
    fn unmask_frames(wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let mut b = wire;
        while !b.is_empty() {
            let b0 = b[0];
            let (mut at, len) = match b[1] & 0x7F {
                126 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
                127 => (
                    10,
                    u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                ),
                n => (2, n as usize),
            };
            assert!(b[1] & 0x80 != 0, "client frames are masked");
            let key = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            at += 4;
            let payload: Vec<u8> = b[at..at + len]
                .iter()
                .enumerate()
                .map(|(i, x)| x ^ key[i & 3])
                .collect();
            out.push((b0, payload));
            b = &b[at + len..];
        }
        out
    }

    #[test]
    fn messages_are_masked_and_fragmented_by_frame_size() {
        let mut c = codec(None);
        c.limits.frame_size = 4;
        c.queue_data(true, b"hello world");
        let frames = unmask_frames(&c.wbuf);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], (0x01, b"hell".to_vec()));
        assert_eq!(frames[2], (0x80, b"rld".to_vec()));
        let mut m = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        let orig = m;
        mask(&mut m, [9, 8, 7, 6]);
        mask(&mut m, [9, 8, 7, 6]);
        assert_eq!(m, orig);
    }

    #[test]
    fn frames_are_checked_as_rfc_6455_says() {
        let cases: &[(&[u8], u16)] = &[
            (b"\x81\x85abcdhello", PROTOCOL_ERROR), // masked from the server
            (b"\xa1\x00", PROTOCOL_ERROR),          // RSV2
            (b"\xc1\x01x", PROTOCOL_ERROR),         // RSV1 without compression
            (b"\x83\x00", PROTOCOL_ERROR),          // reserved opcode
            (b"\x09\x00", PROTOCOL_ERROR),          // fragmented ping
            (b"\x80\x01x", PROTOCOL_ERROR),         // continuation of nothing
            (b"\x81\x02\xc3\x28", INVALID_DATA),    // bad UTF-8
            (b"\x88\x02\x03\xed", PROTOCOL_ERROR),  // close code 1005
            (b"\x88\x01\x03", PROTOCOL_ERROR),      // close of one byte
        ];
        for (bytes, code) in cases {
            let mut c = codec(None);
            put(&mut c, bytes);
            match c.parse() {
                Err(CodecError::Protocol { code: got, .. }) => assert_eq!(got, *code, "{bytes:?}"),
                other => panic!("{bytes:?}: {other:?}"),
            }
            // The close that says why is queued.
            let frames = unmask_frames(&c.wbuf);
            assert_eq!(frames[0].1[..2], code.to_be_bytes(), "{bytes:?}");
        }
    }

    #[test]
    fn a_continuation_whose_length_overflows_is_too_long_not_a_panic() {
        // Found by fuzzing (fuzz/ws_frames): a fragment of one byte, then a continuation
        // claiming 2^64 - 1 bytes; the limit check wrapped and the frame's range panicked.
        let mut c = codec(None);
        put(&mut c, b"\x01\x01x\x00\x7f\xff\xff\xff\xff\xff\xff\xff\xff");
        match c.parse() {
            Err(CodecError::TooLong { max, .. }) => assert_eq!(max, 1 << 20),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fragments_pings_in_between_and_close_echo() {
        let mut c = codec(None);
        put(&mut c, b"\x01\x02he\x89\x01p\x80\x03llo\x88\x02\x03\xe8");
        assert_eq!(c.parse().unwrap(), Some(Wire::Ping(b"p".to_vec())));
        assert_eq!(c.parse().unwrap(), Some(Wire::Text("hello".into())));
        assert_eq!(
            c.parse().unwrap(),
            Some(Wire::Close(Some((1000, String::new()))))
        );
        let frames = unmask_frames(&c.wbuf);
        assert_eq!(frames[0], (0x8A, b"p".to_vec()), "the pong");
        assert_eq!(frames[1], (0x88, vec![0x03, 0xe8]), "the close echoed");
    }

    #[test]
    fn compressed_messages_round_trip_and_a_bomb_stops_at_the_cap() {
        let agreed =
            super::super::deflate::accept("permessage-deflate", &Default::default()).unwrap();
        let mut writer = codec(Some(agreed));
        let json = "{\"tick\":1,\"price\":100.25}".repeat(40);
        writer.queue_data(true, json.as_bytes());
        let frames = unmask_frames(&writer.wbuf);
        assert_eq!(frames[0].0, 0xC1, "FIN, RSV1, text");
        assert!(frames[0].1.len() * 5 < json.len());
        // The same bytes unmasked, as a server would send them, read back.
        let mut reader = codec(Some(agreed));
        let mut wire = vec![0xC1, 126];
        wire.extend_from_slice(&(frames[0].1.len() as u16).to_be_bytes());
        wire.extend_from_slice(&frames[0].1);
        put(&mut reader, &wire);
        assert_eq!(reader.parse().unwrap(), Some(Wire::Text(json)));
        // 10 MiB of zeros in a few KiB: cut at the 1 MiB cap.
        let mut strong = agreed;
        strong.level = 9;
        let bomb = Deflater::new(&strong).compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 65_536);
        let mut reader = codec(Some(agreed));
        let mut wire = vec![0xC2, 126];
        wire.extend_from_slice(&(bomb.len() as u16).to_be_bytes());
        wire.extend_from_slice(&bomb);
        put(&mut reader, &wire);
        assert!(matches!(reader.parse(), Err(CodecError::TooLong { .. })));
    }
}
