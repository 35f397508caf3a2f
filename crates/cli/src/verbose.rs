//! What the HTTP commands say on stderr as a request goes: with `-v`, curl's `*` connection
//! lines, `>` request and `<` response header lines; unless `-s`, each retry and redirect
//! announced. Told by the client's events (`on_event`), in the order things happen.

use std::sync::atomic::{AtomicU32, Ordering};

use tenax::events::{Event, EventKind};

/// Requests started in this process, redirects included (each hop is a request of its own):
/// `-w '%{num_redirects}'` of the one request `get` makes is this, less one.
static STARTED: AtomicU32 = AtomicU32::new(0);

/// The redirects followed so far by the process's request.
pub fn redirects() -> u32 {
    STARTED.load(Ordering::Relaxed).saturating_sub(1)
}

/// The heads received so far, as `-i` writes them, when `-i` asked to keep them (curl shows
/// every response it received: each redirect's and each retried one's before the last).
static HEADS: std::sync::Mutex<Option<Vec<String>>> = std::sync::Mutex::new(None);

/// Keep every response head from now on (`-i`).
pub fn keep_heads() {
    *HEADS.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
}

/// The heads kept, oldest first (the last one is the final response's).
pub fn kept_heads() -> Vec<String> {
    HEADS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_default()
}

/// A head as `-i` writes it: the status line and the headers, CRLF-ended, and a blank line.
pub fn head_text(
    version: tenax::Version,
    status: tenax::StatusCode,
    headers: &tenax::HeaderMap,
) -> String {
    let mut head = format!(
        "{} {} {}\r\n",
        crate::report::version_str(version),
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for (name, value) in headers {
        head.push_str(&format!(
            "{name}: {}\r\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    head.push_str("\r\n");
    head
}

/// Says what happens, as the flags ask.
#[derive(Clone, Copy)]
pub struct Narrator {
    headers: bool,
    announce: bool,
    max_attempts: u32,
}

impl Narrator {
    pub fn new(headers: bool, announce: bool, max_attempts: u32) -> Narrator {
        Narrator {
            headers,
            announce,
            max_attempts,
        }
    }

    /// Listens to the client being built.
    pub fn attach(self, b: tenax::ClientBuilder) -> tenax::ClientBuilder {
        b.on_event(move |e| self.tell(e))
    }

    fn tell(&self, e: &Event) {
        if let EventKind::ResponseHead {
            status,
            version,
            headers,
            ..
        } = &e.kind
            && let Some(heads) = HEADS.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
        {
            heads.push(head_text(*version, *status, headers));
        }
        if let EventKind::RequestStart { url, .. } = &e.kind {
            let before = STARTED.fetch_add(1, Ordering::Relaxed);
            if before > 0 && self.announce {
                eprintln!("tenax: following the redirect to {url}");
            }
            return;
        }
        match &e.kind {
            EventKind::RetryScheduled {
                attempt,
                reason,
                delay,
            } if self.announce => eprintln!(
                "tenax: retrying in {} ms after {reason} (attempt {}/{})",
                delay.as_millis(),
                attempt + 1,
                self.max_attempts
            ),
            _ if self.headers => print_head(&e.kind),
            _ => {}
        }
    }
}

/// curl's `-v` lines for connections and heads.
fn print_head(kind: &EventKind) {
    let mut out = String::new();
    match kind {
        EventKind::ConnectionOpened {
            host,
            remote,
            version,
            tls,
            ..
        } => {
            let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
            out.push_str(&format!(
                "* Connected to {name} ({}) port {}\n",
                remote.ip(),
                remote.port()
            ));
            if let Some(tls) = tls {
                let alpn = if *version == tenax::Version::HTTP_2 {
                    "h2"
                } else {
                    "http/1.1"
                };
                let tls = match tls {
                    tenax::tls::Version::Tls13 => "TLS 1.3",
                    _ => "TLS 1.2",
                };
                out.push_str(&format!("* {tls}, ALPN {alpn}\n"));
            }
            out.push_str(&format!(
                "* using {}\n",
                crate::report::version_str(*version)
            ));
        }
        EventKind::RequestHead {
            method,
            target,
            version,
            headers,
        } => {
            let target = target.path_and_query().map_or("/", |p| p.as_str());
            let version = crate::report::version_str(*version);
            out.push_str(&format!("> {method} {target} {version}\n"));
            header_lines('>', headers, &mut out);
        }
        EventKind::ResponseHead {
            status,
            version,
            headers,
            ..
        } => {
            let reason = status.canonical_reason().unwrap_or("");
            let version = crate::report::version_str(*version);
            out.push_str(&format!("< {version} {} {reason}\n", status.as_u16()));
            header_lines('<', headers, &mut out);
        }
        EventKind::AttemptFailed {
            attempt, message, ..
        } => out.push_str(&format!("* attempt {attempt} failed: {message}\n")),
        _ => {}
    }
    eprint!("{out}");
}

/// A head's header lines after `mark`, and the blank line that ends it, as curl prints them.
fn header_lines(mark: char, headers: &tenax::HeaderMap, out: &mut String) {
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.push_str(&format!("{mark} {name}: {value}\n"));
    }
    out.push_str(&format!("{mark} \n"));
}
