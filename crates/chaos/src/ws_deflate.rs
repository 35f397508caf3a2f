//! `/ws/echo` with permessage-deflate (RFC 7692), when the client offers it: a server-side
//! frame loop of its own (tokio-tungstenite has no compression) that echoes every data message
//! compressed (context kept across messages, 32 KiB windows), answers pings and closes, and
//! counts the bytes on the wire against the messages' own. `?bomb=N` instead sends one
//! compressed message that inflates to N zero bytes, for clients' caps.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of data messages (as sent) and bytes their frames took on the wire, both ways.
#[derive(Default)]
pub(crate) struct WireCount {
    pub(crate) message_bytes: AtomicU64,
    pub(crate) wire_bytes: AtomicU64,
}

/// The `Sec-WebSocket-Extensions` answer to an offer, when it offers permessage-deflate.
pub(crate) fn answer(offer: &str) -> Option<&'static str> {
    offer
        .split(',')
        .any(|o| o.trim().starts_with("permessage-deflate"))
        .then_some("permessage-deflate")
}

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];

/// One frame read from the client.
struct Frame {
    fin: bool,
    rsv1: bool,
    opcode: u8,
    payload: Vec<u8>,
}

async fn read_frame<R: AsyncReadExt + Unpin>(io: &mut R, buf: &mut BytesMut) -> Option<Frame> {
    loop {
        if buf.len() >= 2 {
            let (b0, b1) = (buf[0], buf[1]);
            let (mut at, len) = match b1 & 0x7F {
                126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
                127 if buf.len() >= 10 => {
                    (10, u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize)
                }
                126 | 127 => (usize::MAX, 0),
                n => (2, n as usize),
            };
            if at != usize::MAX && buf.len() >= at + 4 + len {
                let key = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
                at += 4;
                let payload: Vec<u8> = buf[at..at + len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[i & 3])
                    .collect();
                buf.advance(at + len);
                return Some(Frame {
                    fin: b0 & 0x80 != 0,
                    rsv1: b0 & 0x40 != 0,
                    opcode: b0 & 0x0F,
                    payload,
                });
            }
        }
        if io.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

fn frame(opcode: u8, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | (u8::from(rsv1) << 6) | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xFFFF => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

fn deflate(ctx: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let start = ctx.total_in();
    loop {
        let used = (ctx.total_in() - start) as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(256));
        }
        if ctx
            .compress_vec(&data[used..], &mut out, FlushCompress::Sync)
            .is_err()
        {
            break;
        }
        if (ctx.total_in() - start) as usize == data.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - 4);
    }
    out
}

fn inflate(ctx: &mut Decompress, data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 4 + 64);
    for input in [data, &TAIL[..]] {
        let start = ctx.total_in();
        loop {
            let used = (ctx.total_in() - start) as usize;
            if out.len() == out.capacity() {
                out.reserve(out.len().max(256));
            }
            let before = out.len();
            ctx.decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .ok()?;
            let done = (ctx.total_in() - start) as usize == input.len();
            if done && out.len() < out.capacity() {
                break;
            }
            if out.len() == before && (ctx.total_in() - start) as usize == used && !done {
                return None;
            }
        }
    }
    Some(out)
}

/// Serves one upgraded connection.
pub(crate) async fn serve(
    upgraded: hyper::upgrade::Upgraded,
    count: &WireCount,
    bomb: Option<usize>,
) {
    let mut io = TokioIo::new(upgraded);
    let mut out_ctx = Compress::new(Compression::new(6), false);
    let mut in_ctx = Decompress::new(false);
    if let Some(n) = bomb {
        let packed = deflate(&mut out_ctx, &vec![0u8; n]);
        let _ = io.write_all(&frame(0x2, true, &packed)).await;
        let _ = io.flush().await;
    }
    let mut buf = BytesMut::with_capacity(16 * 1024);
    // A message being reassembled: opcode, compressed, bytes.
    let mut partial: Option<(u8, bool, Vec<u8>)> = None;
    while let Some(f) = read_frame(&mut io, &mut buf).await {
        let wire = f.payload.len() as u64 + 6;
        let reply = match f.opcode {
            0x8 => {
                let _ = io.write_all(&frame(0x8, false, &f.payload)).await;
                break;
            }
            0x9 => frame(0xA, false, &f.payload),
            0xA => continue,
            op => {
                count.wire_bytes.fetch_add(wire, Ordering::Relaxed);
                let (opcode, rsv1, mut data) = match (op, partial.take()) {
                    (0x0, Some(p)) => p,
                    (0x0, None) => break,
                    (op, _) => (op, f.rsv1, Vec::new()),
                };
                data.extend_from_slice(&f.payload);
                if !f.fin {
                    partial = Some((opcode, rsv1, data));
                    continue;
                }
                let message = if rsv1 {
                    match inflate(&mut in_ctx, &data) {
                        Some(m) => m,
                        None => break,
                    }
                } else {
                    data
                };
                let packed = deflate(&mut out_ctx, &message);
                count
                    .message_bytes
                    .fetch_add(2 * message.len() as u64, Ordering::Relaxed);
                let reply = frame(opcode, true, &packed);
                count
                    .wire_bytes
                    .fetch_add(reply.len() as u64, Ordering::Relaxed);
                reply
            }
        };
        if io.write_all(&reply).await.is_err() {
            break;
        }
        if buf.is_empty() && io.flush().await.is_err() {
            break;
        }
    }
    let _ = io.shutdown().await;
}
