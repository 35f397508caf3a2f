//! permessage-deflate (RFC 7692): what the client offers, what it accepts of the server's
//! answer, and the compression contexts of each direction — made on first use, so that an idle
//! connection holds none.

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

/// WebSocket compression (permessage-deflate, RFC 7692), offered in the handshake; messages
/// are compressed only if the server agrees. See
/// [`WsBuilder::compression`](crate::ws::WsBuilder::compression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Compression {
    /// Messages shorter than this many bytes are sent as they are. Default is 32: with the
    /// context kept across messages even small ones shrink (1,000 JSON ticks of ~67 bytes:
    /// 5.3 times smaller at level 1), below it there is little left to save.
    pub threshold: usize,
    /// The zlib level, 0 (none) to 9 (smallest). Default is 1 (fastest: most of the gain on
    /// repetitive payloads such as JSON, for a fraction of the CPU of higher levels).
    pub level: u32,
    /// Reset our compression context after each message: less memory kept per connection
    /// (about 300 KiB at a 32 KiB window), less compression. Default is false.
    pub client_no_context_takeover: bool,
    /// Ask the server to reset its context after each message (so ours can be freed between
    /// messages too). Default is false.
    pub server_no_context_takeover: bool,
    /// Ask the server to use a window of at most `2^n` bytes, 8 to 15. Default is `None`
    /// (the server's choice, at most 32 KiB).
    pub server_max_window_bits: Option<u8>,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            threshold: 32,
            level: 1,
            client_no_context_takeover: false,
            server_no_context_takeover: false,
            server_max_window_bits: None,
        }
    }
}

/// What both sides agreed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Agreed {
    pub(crate) threshold: usize,
    pub(crate) level: u32,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_max_window_bits: u8,
}

/// The `Sec-WebSocket-Extensions` value the client offers.
pub(crate) fn offer(c: &Compression) -> String {
    let mut s = String::from("permessage-deflate; client_max_window_bits");
    if c.client_no_context_takeover {
        s.push_str("; client_no_context_takeover");
    }
    if c.server_no_context_takeover {
        s.push_str("; server_no_context_takeover");
    }
    if let Some(bits) = c.server_max_window_bits {
        s.push_str(&format!("; server_max_window_bits={bits}"));
    }
    s
}

/// What the server's answer agrees to, or why it cannot be accepted (an extension or a
/// parameter not offered, a repeated or malformed one).
pub(crate) fn accept(answer: &str, c: &Compression) -> Result<Agreed, String> {
    let mut params = answer.split(';').map(str::trim);
    if params.next() != Some("permessage-deflate") || answer.contains(',') {
        return Err(format!(
            "the server chose an extension that was not offered: {answer}"
        ));
    }
    let mut agreed = Agreed {
        threshold: c.threshold,
        level: c.level.min(9),
        client_no_context_takeover: c.client_no_context_takeover,
        server_no_context_takeover: false,
        client_max_window_bits: 15,
    };
    let mut seen: Vec<&str> = Vec::new();
    for p in params.filter(|p| !p.is_empty()) {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        if seen.contains(&name) {
            return Err(format!("permessage-deflate: {name} given twice"));
        }
        seen.push(name);
        let bits = || -> Result<u8, String> {
            value
                .and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
                .ok_or_else(|| format!("permessage-deflate: {p} is not 8 to 15"))
        };
        match (name, value) {
            ("server_no_context_takeover", None) => agreed.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => agreed.client_no_context_takeover = true,
            ("server_max_window_bits", Some(_)) => {
                let b = bits()?;
                if c.server_max_window_bits.is_some_and(|asked| b > asked) {
                    return Err(format!("permessage-deflate: {p} is over what was asked"));
                }
            }
            ("client_max_window_bits", Some(_)) => agreed.client_max_window_bits = bits()?,
            _ => return Err(format!("permessage-deflate: unexpected parameter {p}")),
        }
    }
    Ok(agreed)
}

/// The tail a sync flush ends with, which the sender takes off and the receiver puts back.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Our side: compresses outgoing messages.
pub(crate) struct Deflater {
    ctx: Option<Box<Compress>>,
    level: u32,
    window_bits: u8,
    reset: bool,
}

impl Deflater {
    pub(crate) fn new(a: &Agreed) -> Deflater {
        Deflater {
            ctx: None,
            level: a.level,
            // zlib cannot compress with a 256-byte window; 9 is what every zlib user sends.
            window_bits: a.client_max_window_bits.max(9),
            reset: a.client_no_context_takeover,
        }
    }

    /// `data` compressed, the sync flush's tail taken off.
    pub(crate) fn compress(&mut self, data: &[u8]) -> Vec<u8> {
        let (level, bits) = (self.level, self.window_bits);
        let ctx = self.ctx.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                flate2::Compression::new(level),
                false,
                bits,
            ))
        });
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let start = ctx.total_in();
        loop {
            let consumed = (ctx.total_in() - start) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            ctx.compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate takes any input");
            let done = (ctx.total_in() - start) as usize == data.len();
            if done && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset {
            // Freed rather than reset: the next message may be far away.
            self.ctx = None;
        }
        out
    }
}

/// The server's side: inflates incoming messages, at most `max` bytes each.
pub(crate) struct Inflater {
    ctx: Option<Box<Decompress>>,
    reset: bool,
}

impl Inflater {
    pub(crate) fn new(a: &Agreed) -> Inflater {
        Inflater {
            ctx: None,
            reset: a.server_no_context_takeover,
        }
    }

    /// The message `data` inflates to; `Err(n)` when it is longer than `max` (at least `n`
    /// bytes: inflating stops there, a deflate bomb never grows past the cap), `Err(0)` when it
    /// is not a deflate stream.
    pub(crate) fn inflate(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, usize> {
        let ctx = self
            .ctx
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, 15)));
        let mut out = Vec::with_capacity((data.len() * 3).clamp(64, max.max(64)));
        for input in [data, &TAIL[..]] {
            let start = ctx.total_in();
            loop {
                let consumed = (ctx.total_in() - start) as usize;
                if out.len() == out.capacity() {
                    out.reserve(out.len().clamp(64, 1 << 20));
                }
                let before = out.len();
                let status = ctx
                    .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync)
                    .map_err(|_| 0usize)?;
                if out.len() > max {
                    return Err(out.len());
                }
                let used = (ctx.total_in() - start) as usize;
                let room_left = out.len() < out.capacity();
                if matches!(status, Status::StreamEnd) || (used == input.len() && room_left) {
                    break;
                }
                if used == consumed && out.len() == before && room_left {
                    // No progress with room to spare: the stream is stuck.
                    return Err(0);
                }
            }
        }
        if self.reset {
            self.ctx = None;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed() -> Agreed {
        accept("permessage-deflate", &Compression::default()).unwrap()
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        for reset in [false, true] {
            let mut a = agreed();
            a.client_no_context_takeover = reset;
            a.server_no_context_takeover = reset;
            let (mut d, mut i) = (Deflater::new(&a), Inflater::new(&a));
            for n in [0usize, 1, 100, 70_000] {
                let msg: Vec<u8> = (0..n).map(|k| b"{\"tick\":1234}"[k % 13]).collect();
                let packed = d.compress(&msg);
                assert!(!packed.ends_with(&TAIL));
                if n > 1000 {
                    assert!(packed.len() * 10 < n, "{} of {n}", packed.len());
                }
                assert_eq!(i.inflate(&packed, 1 << 20).unwrap(), msg);
            }
        }
    }

    #[test]
    fn a_deflate_bomb_stops_at_the_cap() {
        let mut strong = agreed();
        strong.level = 9;
        let mut d = Deflater::new(&strong);
        let bomb = d.compress(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000, "{}", bomb.len());
        let over = Inflater::new(&agreed())
            .inflate(&bomb, 1 << 20)
            .unwrap_err();
        assert!((1 << 20) < over && over <= 4 << 20, "{over}");
        assert_eq!(
            Inflater::new(&agreed()).inflate(b"\xff\xfe garbage", 1 << 20),
            Err(0)
        );
    }

    #[test]
    fn the_servers_answer_is_checked() {
        let c = Compression {
            server_max_window_bits: Some(10),
            ..Compression::default()
        };
        assert_eq!(
            offer(&c),
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
        let a = accept(
            "permessage-deflate; server_no_context_takeover; client_max_window_bits=9",
            &c,
        )
        .unwrap();
        assert!(a.server_no_context_takeover && a.client_max_window_bits == 9);
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; foo",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=12",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate, permessage-deflate",
        ] {
            assert!(accept(bad, &c).is_err(), "{bad}");
        }
        // A window of 8 is compressed with 9, as zlib must.
        let a = accept("permessage-deflate; client_max_window_bits=8", &c).unwrap();
        let mut d = Deflater::new(&a);
        let msg = vec![7u8; 5000];
        assert_eq!(
            Inflater::new(&a)
                .inflate(&d.compress(&msg), 1 << 20)
                .unwrap(),
            msg
        );
    }
}
