//! What `tenax get` sends, as curl's flags say: the body (`-d`, `--data-binary`, `--data-raw`,
//! `--data-urlencode`, `-F`, `--json`, `-T`), data moved to the query (`-G`), credentials
//! (`-u`, `--oauth2-bearer`) and cookies (`-b`, `-c`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tenax::multipart::{Form, Part};

use crate::report::exit;

/// The request-content flags of `tenax get`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// Request body: TEXT, @FILE to send a file's contents without its line breaks (as
    /// curl), or @- for standard input (repeatable: joined with '&')
    #[arg(short = 'd', long = "data", value_name = "TEXT|@FILE")]
    data: Vec<String>,
    /// Like -d, a file's contents exactly as they are
    #[arg(long = "data-binary", value_name = "TEXT|@FILE")]
    data_binary: Vec<String>,
    /// Like -d, with no @ meaning: the text as given
    #[arg(long = "data-raw", value_name = "TEXT")]
    data_raw: Vec<String>,
    /// Send JSON, as curl 7.82+: TEXT or @FILE as the body, with 'Content-Type:
    /// application/json' and 'Accept: application/json' (repeatable: concatenated)
    #[arg(long = "json", value_name = "TEXT|@FILE", conflicts_with_all = ["data", "form"])]
    json: Vec<String>,
    /// Upload FILE with PUT (unless -X says another method), streamed from disk
    #[arg(short = 'T', long = "upload-file", value_name = "FILE", conflicts_with_all = ["data", "form", "json"])]
    upload: Option<PathBuf>,
    /// Like -d, percent-encoded as curl does: 'content', '=content', 'name=content',
    /// '@file', 'name@file' (repeatable)
    #[arg(long = "data-urlencode", value_name = "DATA")]
    data_urlencode: Vec<String>,
    /// Send the -d data in the URL's query with GET, not as a body
    #[arg(short = 'G', long = "get")]
    get: bool,
    /// A multipart form field: 'name=value', 'name=@FILE' (a file, streamed),
    /// 'name=<FILE' (a file's text as the value); ';type=MIME' and ';filename=NAME' after
    /// the value (repeatable)
    #[arg(short = 'F', long = "form", value_name = "NAME=VALUE", conflicts_with_all = ["data", "data_urlencode"])]
    form: Vec<String>,
    /// Basic credentials, USER:PASSWORD (USER alone: an empty password); dropped when a
    /// redirect leaves the origin
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    user: Option<String>,
    /// Bearer token credentials; dropped when a redirect leaves the origin
    #[arg(long = "oauth2-bearer", value_name = "TOKEN", conflicts_with = "user")]
    bearer: Option<String>,
    /// Cookies to send: 'NAME=VALUE; NAME2=VALUE2', or a cookie-jar FILE (curl's format) to
    /// read (a missing file is ignored, as curl does)
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE")]
    cookie: Vec<String>,
    /// After the request, write every cookie to FILE in curl's cookie-jar format ('-':
    /// standard output)
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    cookie_jar: Option<PathBuf>,
}

/// A failure to build the request from the flags: the message and its exit code.
pub type Refusal = (u8, String);

fn usage(msg: impl Into<String>) -> Refusal {
    (exit::USAGE, msg.into())
}

/// curl's exit code for a local file it could not read.
const READ_ERROR: u8 = 26;

impl SendArgs {
    /// Whether the request has data (a POST unless `-G` or `-X` says otherwise).
    pub fn has_body(&self) -> bool {
        !self.get && (self.has_data() || !self.form.is_empty() || !self.json.is_empty())
    }

    /// Whether the request uploads a file (a PUT unless `-X` says otherwise).
    pub fn uploads(&self) -> bool {
        self.upload.is_some()
    }

    fn has_data(&self) -> bool {
        !self.data.is_empty()
            || !self.data_binary.is_empty()
            || !self.data_raw.is_empty()
            || !self.data_urlencode.is_empty()
    }

    /// The cookie jar the client keeps, when `-b FILE` or `-c` asks for one.
    pub fn jar(&self) -> Result<Option<Arc<tenax::cookie::Jar>>, Refusal> {
        let files: Vec<&String> = self.cookie.iter().filter(|c| !c.contains('=')).collect();
        if files.is_empty() && self.cookie_jar.is_none() {
            return Ok(None);
        }
        let jar = tenax::cookie::Jar::default();
        for path in files {
            // As curl: a cookie file that is not there is no error.
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            jar.load_netscape(&text)
                .map_err(|e| usage(format!("{path}: {}", crate::report::error_chain(&e))))?;
        }
        Ok(Some(Arc::new(jar)))
    }

    /// Writes the jar to `-c FILE`.
    pub fn save_jar(&self, jar: Option<&tenax::cookie::Jar>) -> Result<(), Refusal> {
        let (Some(path), Some(jar)) = (&self.cookie_jar, jar) else {
            return Ok(());
        };
        let text = jar.to_netscape();
        let written = if path == Path::new("-") {
            std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
        } else {
            std::fs::write(path, text)
        };
        written.map_err(|e| {
            (
                exit::WRITE_OUTPUT,
                format!("writing the cookie jar {}: {e}", path.display()),
            )
        })
    }

    /// The URL with the data in its query (`-G`).
    pub fn query_url(&self, url: &str) -> Result<String, Refusal> {
        // Read here only with -G (standard input can be read once).
        if !self.get {
            return Ok(url.to_owned());
        }
        let data = self.joined_data()?;
        if data.is_empty() {
            return Ok(url.to_owned());
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{sep}{data}"))
    }

    /// Adds the body, credentials and cookies to `req`.
    pub async fn apply(
        &self,
        mut req: tenax::RequestBuilder,
        has_content_type: bool,
    ) -> Result<tenax::RequestBuilder, Refusal> {
        if let Some(user) = &self.user {
            let (name, password) = user.split_once(':').unwrap_or((user, ""));
            req = req.basic_auth(name, Some(password));
        }
        if let Some(token) = &self.bearer {
            req = req.bearer_auth(token);
        }
        let cookies: Vec<&str> = self
            .cookie
            .iter()
            .filter(|c| c.contains('='))
            .map(String::as_str)
            .collect();
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        if !self.form.is_empty() {
            return Ok(req.multipart(self.multipart().await?));
        }
        if let Some(path) = &self.upload {
            let body = tenax::Body::file(path)
                .await
                .map_err(|e| (READ_ERROR, format!("reading {}: {e}", path.display())))?;
            return Ok(req.body(body));
        }
        if !self.json.is_empty() {
            let mut body = Vec::new();
            for j in &self.json {
                body.extend(data_of(j, false)?);
            }
            if !has_content_type {
                req = req.header("content-type", "application/json");
            }
            return Ok(req.header("accept", "application/json").body(body));
        }
        if self.get || !self.has_data() {
            return Ok(req);
        }
        if !has_content_type {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        Ok(req.body(self.joined_data()?))
    }

    /// Every `-d` and `--data-urlencode`, in order of kind, joined with `&`.
    fn joined_data(&self) -> Result<String, Refusal> {
        let mut parts = Vec::new();
        for d in &self.data {
            parts.push(String::from_utf8_lossy(&data_of(d, true)?).into_owned());
        }
        for d in &self.data_binary {
            parts.push(String::from_utf8_lossy(&data_of(d, false)?).into_owned());
        }
        for d in &self.data_raw {
            parts.push(d.clone());
        }
        for d in &self.data_urlencode {
            parts.push(urlencoded(d)?);
        }
        Ok(parts.join("&"))
    }

    async fn multipart(&self) -> Result<Form, Refusal> {
        let mut form = Form::new();
        for field in &self.form {
            let (name, part) = form_part(field).await?;
            form = form.part(name, part);
        }
        Ok(form)
    }
}

/// Data: text, `@FILE`, or `@-` (standard input); `-d` takes CR and LF out of what it reads
/// (`strip`), as curl does, `--data-binary` and `--json` keep them.
fn data_of(d: &str, strip: bool) -> Result<Vec<u8>, Refusal> {
    let mut bytes = match d.strip_prefix('@') {
        Some("-") => {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .map_err(|e| (READ_ERROR, format!("reading standard input: {e}")))?;
            b
        }
        Some(path) => read(path)?,
        None => return Ok(d.as_bytes().to_vec()),
    };
    if strip {
        bytes.retain(|b| *b != b'\r' && *b != b'\n');
    }
    Ok(bytes)
}

fn read(path: &str) -> Result<Vec<u8>, Refusal> {
    std::fs::read(path).map_err(|e| (READ_ERROR, format!("reading {path}: {e}")))
}

/// `--data-urlencode`, as curl reads it: `content`, `=content`, `name=content`, `@file`,
/// `name@file`; the content percent-encoded (space as `+`), the name as given.
fn urlencoded(d: &str) -> Result<String, Refusal> {
    let eq = d.find('=');
    let at = d.find('@');
    let (name, content) = match (eq, at) {
        (Some(i), Some(j)) if j < i => (
            &d[..j],
            String::from_utf8_lossy(&read(&d[j + 1..])?).into_owned(),
        ),
        (Some(i), _) => (&d[..i], d[i + 1..].to_owned()),
        (None, Some(j)) => (
            &d[..j],
            String::from_utf8_lossy(&read(&d[j + 1..])?).into_owned(),
        ),
        (None, None) => ("", d.to_owned()),
    };
    let encoded = percent_encode(content.as_bytes());
    Ok(if name.is_empty() {
        encoded
    } else {
        format!("{name}={encoded}")
    })
}

/// Every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`) as `%XX`, space as `+`, as
/// curl (8.x) escapes `--data-urlencode`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One `-F` field: `name=value`, `name=@FILE` or `name=<FILE`, then `;type=` / `;filename=`.
async fn form_part(field: &str) -> Result<(String, Part), Refusal> {
    let (name, rest) = field
        .split_once('=')
        .ok_or_else(|| usage(format!("-F {field:?} is not NAME=VALUE")))?;
    let mut pieces = rest.split(';');
    let value = pieces.next().unwrap_or("");
    let mut part = if let Some(path) = value.strip_prefix('@') {
        Part::file(path)
            .await
            .map_err(|e| (READ_ERROR, format!("reading {path}: {e}")))?
    } else if let Some(path) = value.strip_prefix('<') {
        Part::text(String::from_utf8_lossy(&read(path)?).into_owned())
    } else {
        Part::text(value.to_owned())
    };
    for attr in pieces {
        match attr.trim().split_once('=') {
            Some(("type", mime)) => {
                part = part
                    .mime_str(mime)
                    .map_err(|_| usage(format!("-F {field:?}: {mime:?} is not a MIME type")))?;
            }
            Some(("filename", file_name)) => part = part.file_name(file_name.to_owned()),
            _ => return Err(usage(format!("-F {field:?}: unknown attribute {attr:?}"))),
        }
    }
    Ok((name.to_owned(), part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urlencode_reads_its_forms_as_curl_does() {
        assert_eq!(urlencoded("a b&c").unwrap(), "a+b%26c");
        assert_eq!(urlencoded("=x=y").unwrap(), "x%3Dy");
        assert_eq!(
            urlencoded("q=caf\u{e9} au lait").unwrap(),
            "q=caf%C3%A9+au+lait"
        );
        let e = urlencoded("name@/no/such/file").unwrap_err();
        assert_eq!(e.0, READ_ERROR);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Content alone (no name, no file) comes out wholly encoded: printable ASCII only.
        #[test]
        fn data_urlencode_encodes_any_content(d in "[^@=]{0,40}") {
            let out = urlencoded(&d).unwrap();
            prop_assert!(out.bytes().all(|b| b.is_ascii_graphic()), "{out:?}");
        }

        /// Anything at all is encoded or refused (a file that is not there), never a panic;
        /// the name before `=` is kept as given, as curl keeps it.
        #[test]
        fn data_urlencode_never_panics(d in "\\PC{0,40}") {
            if let Ok(out) = urlencoded(&d)
                && let Some((name, _)) = d.split_once('=')
                && !name.contains('@')
            {
                prop_assert!(out.starts_with(name), "{out:?}");
            }
        }
    }
}
