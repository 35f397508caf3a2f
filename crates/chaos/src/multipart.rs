//! A streaming `multipart/form-data` reader for `/echo`: each part's name, file name, type,
//! size and SHA-256, read as the body arrives (a 200 MiB upload never sits in memory).

use sha2::{Digest, Sha256};

/// One part, as read.
pub(crate) struct PartSummary {
    pub(crate) name: String,
    pub(crate) file_name: Option<String>,
    pub(crate) content_type: Option<String>,
    pub(crate) size: u64,
    pub(crate) sha256: String,
}

enum State {
    /// Before the first delimiter.
    Preamble,
    /// After a delimiter: `--` (the end) or CRLF (a part follows).
    AfterDelimiter,
    Headers,
    Body,
    Done,
}

/// Reads a multipart body fed chunk by chunk.
pub(crate) struct Reader {
    /// `CRLF--boundary`: what ends a part's body.
    delimiter: Vec<u8>,
    buf: Vec<u8>,
    state: State,
    part: Option<(PartSummary, Sha256)>,
    pub(crate) parts: Vec<PartSummary>,
}

impl Reader {
    pub(crate) fn new(boundary: &str) -> Reader {
        Reader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The body's first delimiter has no CRLF before it: one is supplied.
            buf: b"\r\n".to_vec(),
            state: State::Preamble,
            part: None,
            parts: Vec::new(),
        }
    }

    /// Reads `chunk`; an error when the body is not multipart.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        while self.step()? {}
        Ok(())
    }

    /// The parts, once the closing delimiter was read.
    pub(crate) fn finish(self) -> Result<Vec<PartSummary>, String> {
        match self.state {
            State::Done => Ok(self.parts),
            _ => Err("the multipart body ended before its closing delimiter".into()),
        }
    }

    /// One step of reading; false when more bytes are needed.
    fn step(&mut self) -> Result<bool, String> {
        match self.state {
            State::Preamble => match find(&self.buf, &self.delimiter) {
                Some(i) => {
                    self.buf.drain(..i + self.delimiter.len());
                    self.state = State::AfterDelimiter;
                    Ok(true)
                }
                None => Ok(false),
            },
            State::AfterDelimiter => {
                if self.buf.len() < 2 {
                    return Ok(false);
                }
                let next: Vec<u8> = self.buf.drain(..2).collect();
                self.state = match &next[..] {
                    b"--" => State::Done,
                    b"\r\n" => State::Headers,
                    _ => return Err("a delimiter followed by neither CRLF nor --".into()),
                };
                Ok(true)
            }
            State::Headers => match find(&self.buf, b"\r\n\r\n") {
                Some(i) => {
                    let head = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                    self.buf.drain(..i + 4);
                    self.part = Some((summary_of(&head)?, Sha256::new()));
                    self.state = State::Body;
                    Ok(true)
                }
                None if self.buf.len() > 16 * 1024 => Err("a part's headers are too long".into()),
                None => Ok(false),
            },
            State::Body => Ok(self.body_step()),
            State::Done => {
                self.buf.clear();
                Ok(false)
            }
        }
    }

    fn body_step(&mut self) -> bool {
        let (part, hasher) = self.part.as_mut().expect("a part is open");
        match find(&self.buf, &self.delimiter) {
            Some(i) => {
                hasher.update(&self.buf[..i]);
                part.size += i as u64;
                self.buf.drain(..i + self.delimiter.len());
                let (mut part, hasher) = self.part.take().expect("a part is open");
                part.sha256 = hex(&hasher.finalize());
                self.parts.push(part);
                self.state = State::AfterDelimiter;
                true
            }
            None => {
                // Keep what could be the start of a delimiter.
                let keep = self.delimiter.len() - 1;
                if self.buf.len() > keep {
                    let n = self.buf.len() - keep;
                    hasher.update(&self.buf[..n]);
                    part.size += n as u64;
                    self.buf.drain(..n);
                }
                false
            }
        }
    }
}

/// A part's name, file name and type from its headers.
fn summary_of(head: &str) -> Result<PartSummary, String> {
    let mut summary = PartSummary {
        name: String::new(),
        file_name: None,
        content_type: None,
        size: 0,
        sha256: String::new(),
    };
    let mut named = false;
    for line in head.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-type") {
            summary.content_type = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                let Some((k, v)) = param.trim().split_once('=') else {
                    continue;
                };
                let v = v.trim_matches('"').to_owned();
                match k.trim() {
                    "name" => {
                        summary.name = v;
                        named = true;
                    }
                    "filename" => summary.file_name = Some(v),
                    _ => {}
                }
            }
        }
    }
    if !named {
        return Err("a part without a name".into());
    }
    Ok(summary)
}

/// The first place `needle` is in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if hay.len() - at < needle.len() {
            return None;
        }
        if &hay[at..at + needle.len()] == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_read_whatever_the_chunking() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
            --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"n.bin\"\r\n\
            Content-Type: image/png\r\n\r\nab\r\n--X\r\n--XyZ--\r\n";
        for size in [1, 2, 3, 7, body.len()] {
            let mut r = Reader::new("XyZ");
            for chunk in body.chunks(size) {
                r.feed(chunk).unwrap();
            }
            let parts = r.finish().unwrap();
            assert_eq!(parts.len(), 2, "chunks of {size}");
            assert_eq!((parts[0].name.as_str(), parts[0].size), ("a", 1));
            assert_eq!(parts[1].file_name.as_deref(), Some("n.bin"));
            assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
            assert_eq!(parts[1].size, 7, "chunks of {size}");
        }
        let mut r = Reader::new("XyZ");
        r.feed(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1")
            .unwrap();
        assert!(r.finish().is_err());
    }
}
