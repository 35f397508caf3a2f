//! `multipart/form-data` bodies: a [`Form`] of named [`Part`]s — text, bytes, streams and files
//! read from disk as they are sent (never whole into memory).
//!
//! ```
//! # async fn demo() -> std::io::Result<()> {
//! use tenax::multipart::{Form, Part};
//!
//! # let dir = std::env::temp_dir().join(format!("tenax-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("report.csv");
//! # std::fs::write(&path, "a,b\n1,2\n")?;
//! let form = Form::new()
//!     .text("title", "Q3")
//!     .part("logo", Part::bytes(vec![0x89, b'P', b'N', b'G']).file_name("logo.png"))
//!     .file("report", &path)
//!     .await?;
//! // Every part's length is known, so the body is sent with a Content-Length.
//! assert!(form.content_length().is_some());
//! let client = tenax::Client::new();
//! let request = client.post("http://127.0.0.1:8080/upload").multipart(form);
//! # let _ = request; std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo())
//! # .unwrap();
//! ```

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::header::HeaderValue;

use crate::body::Body;
use crate::error::{BoxError, Error};

/// A `multipart/form-data` form: named parts in the order given, sent by
/// [`RequestBuilder::multipart`](crate::RequestBuilder::multipart).
pub struct Form {
    boundary: String,
    parts: Vec<(Cow<'static, str>, Part)>,
}

/// One part of a [`Form`]: its content, and optionally a file name and a MIME type.
pub struct Part {
    body: Body,
    file_name: Option<Cow<'static, str>>,
    mime: Option<HeaderValue>,
}

// ===== impl Form =====

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    /// An empty form with a random boundary.
    pub fn new() -> Form {
        Form {
            boundary: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            parts: Vec::new(),
        }
    }

    /// The boundary between parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Adds a text part.
    pub fn text(
        self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<Cow<'static, str>>,
    ) -> Form {
        self.part(name, Part::text(value))
    }

    /// Adds a part.
    pub fn part(mut self, name: impl Into<Cow<'static, str>>, part: Part) -> Form {
        self.parts.push((name.into(), part));
        self
    }

    /// Adds a file part read from `path` as it is sent ([`Part::file`]: its file name, and a
    /// MIME type from its extension).
    pub async fn file(
        self,
        name: impl Into<Cow<'static, str>>,
        path: impl AsRef<Path>,
    ) -> std::io::Result<Form> {
        Ok(self.part(name, Part::file(path).await?))
    }

    /// The body's length, when every part's length is known.
    pub fn content_length(&self) -> Option<u64> {
        let mut total = self.closing().len() as u64;
        for (name, part) in &self.parts {
            total += part_head(&self.boundary, name, part).len() as u64 + part.body.len()? + 2;
        }
        Some(total)
    }

    /// `multipart/form-data; boundary=…`.
    pub(crate) fn content_type(&self) -> HeaderValue {
        HeaderValue::try_from(format!("multipart/form-data; boundary={}", self.boundary))
            .expect("the boundary is hex")
    }

    /// The body: bytes when every part is bytes (so it can be retried and redirected),
    /// otherwise a stream (with its length when every part's is known).
    pub(crate) fn into_body(self) -> Body {
        let closing = Body::from(self.closing());
        let Form { boundary, parts } = self;
        let mut all = Vec::with_capacity(parts.len() * 3 + 1);
        for (name, part) in parts {
            all.push(Body::from(part_head(&boundary, &name, &part)));
            all.push(part.body);
            all.push(Body::from(&b"\r\n"[..]));
        }
        all.push(closing);
        if let Some(whole) = concat(&all) {
            return whole.into();
        }
        // Known when every piece's is (the heads' always are).
        let len: Option<u64> = all.iter().map(Body::len).sum();
        let chain = Box::pin(Chain { pieces: all.into() });
        match len {
            Some(len) => Body::sized_stream(chain, len),
            None => Body::from_stream(chain),
        }
    }

    fn closing(&self) -> Bytes {
        format!("--{}--\r\n", self.boundary).into()
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

/// A part's head: its boundary line, `Content-Disposition` and `Content-Type`.
fn part_head(boundary: &str, name: &str, part: &Part) -> Bytes {
    let mut head = format!(
        "--{}\r\nContent-Disposition: form-data; name=\"{}\"",
        boundary,
        escape(name)
    );
    if let Some(file_name) = &part.file_name {
        head.push_str(&format!("; filename=\"{}\"", escape(file_name)));
    }
    head.push_str("\r\n");
    if let Some(mime) = &part.mime {
        head.push_str("Content-Type: ");
        head.push_str(mime.to_str().expect("checked as visible ASCII"));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into()
}

/// Names and file names as browsers send them (WHATWG): `"`, CR and LF percent-encoded, the
/// rest as UTF-8.
fn escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['"', '\r', '\n']) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.replace('"', "%22")
            .replace('\r', "%0D")
            .replace('\n', "%0A"),
    )
}

/// The pieces as one `Bytes`, when every one is bytes.
fn concat(pieces: &[Body]) -> Option<Bytes> {
    let mut all = BytesMut::new();
    for p in pieces {
        all.extend_from_slice(&p.as_bytes()?);
    }
    Some(all.freeze())
}

/// The pieces of a form, one after another.
struct Chain {
    pieces: std::collections::VecDeque<Body>,
}

impl Stream for Chain {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        while let Some(piece) = self.pieces.front_mut() {
            match std::task::ready!(http_body::Body::poll_frame(Pin::new(piece), cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    self.pieces.pop_front();
                }
            }
        }
        Poll::Ready(None)
    }
}

// ===== impl Part =====

impl Part {
    /// A text part.
    pub fn text(value: impl Into<Cow<'static, str>>) -> Part {
        let body = match value.into() {
            Cow::Borrowed(s) => Body::from(s),
            Cow::Owned(s) => Body::from(s),
        };
        Part::new(body)
    }

    /// A part of bytes (give it a [`file_name`](Self::file_name) to send it as a file).
    pub fn bytes(value: impl Into<Cow<'static, [u8]>>) -> Part {
        let body = match value.into() {
            Cow::Borrowed(b) => Body::from(b),
            Cow::Owned(b) => Body::from(b),
        };
        Part::new(body)
    }

    /// A part streamed from a [`Body`]; its length is known if the body's is
    /// ([`Body::len`]).
    pub fn stream(body: impl Into<Body>) -> Part {
        Part::new(body.into())
    }

    /// A part streamed from a stream of exactly `len` bytes (so that the form's length is
    /// known). A stream that does not give exactly `len` bytes fails the request.
    pub fn stream_with_length<S, E>(stream: S, len: u64) -> Part
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let body = Body::from_stream(stream);
        Part::new(Body::sized_stream(
            Box::pin(Chain {
                pieces: [body].into(),
            }),
            len,
        ))
    }

    /// A part read from the file at `path` as it is sent, 64 KiB at a time: its file name is
    /// the path's last component, its MIME type guessed from the extension
    /// (`application/octet-stream` when unknown). Fails if the file cannot be opened.
    pub async fn file(path: impl AsRef<Path>) -> std::io::Result<Part> {
        let path = path.as_ref();
        let mut part = Part::new(Body::file(path).await?);
        if let Some(name) = path.file_name() {
            part.file_name = Some(Cow::Owned(name.to_string_lossy().into_owned()));
        }
        let mime = mime_of(path.extension().and_then(|e| e.to_str()).unwrap_or(""));
        part.mime = Some(HeaderValue::from_static(mime));
        Ok(part)
    }

    fn new(body: Body) -> Part {
        Part {
            body,
            file_name: None,
            mime: None,
        }
    }

    /// The file name sent with the part (`filename="…"`). Default: none for text, bytes and
    /// streams; the path's last component for files.
    pub fn file_name(mut self, name: impl Into<Cow<'static, str>>) -> Part {
        self.file_name = Some(name.into());
        self
    }

    /// The part's MIME type (`Content-Type`), checked: a type a header cannot carry is an
    /// error. Default: none for text, bytes and streams; guessed for files.
    pub fn mime_str(mut self, mime: &str) -> Result<Part, Error> {
        let ok = mime.contains('/') && mime.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !ok {
            return Err(Error::builder(format!("invalid MIME type {mime:?}")));
        }
        self.mime = Some(HeaderValue::from_str(mime).map_err(Error::builder)?);
        Ok(self)
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("body", &self.body)
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .finish()
    }
}

/// A MIME type for a file extension: the common ones, else `application/octet-stream`.
fn mime_of(ext: &str) -> &'static str {
    match ext.to_ascii_lowercase().as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_of_text_and_bytes_is_bytes_with_its_length() {
        let form = Form::new().text("a", "1").part(
            "f\"x\r\n",
            Part::bytes(&b"xyz"[..])
                .file_name("n.bin")
                .mime_str("image/png")
                .unwrap(),
        );
        let b = form.boundary().to_owned();
        let len = form.content_length().unwrap();
        let body = form.into_body();
        let bytes = body.as_bytes().expect("a form of bytes is bytes");
        assert_eq!(bytes.len() as u64, len);
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"f%22x%0D%0A\"; filename=\"n.bin\"\r\n\
             Content-Type: image/png\r\n\r\nxyz\r\n--{b}--\r\n"
        );
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), expected);
    }

    #[test]
    fn a_form_with_a_stream_of_unknown_length_has_none() {
        let s = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"x"))]);
        let form = Form::new().part("s", Part::stream(Body::from_stream(s)));
        assert_eq!(form.content_length(), None);
        assert_eq!(form.into_body().len(), None);
    }

    #[test]
    fn a_bad_mime_type_is_refused() {
        assert!(Part::text("x").mime_str("text/plain\r\nX: y").is_err());
        assert!(Part::text("x").mime_str("plain").is_err());
        assert_eq!(mime_of("PNG"), "image/png");
        assert_eq!(mime_of(""), "application/octet-stream");
    }
}
