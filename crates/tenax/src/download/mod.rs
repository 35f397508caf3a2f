//! Downloads to a file: streamed with bounded memory into a temporary file beside the
//! destination, verified (length, SHA-256), synced, then renamed into place; resumed with
//! `Range` + `If-Range` after a failure mid-body; nothing left at the destination on failure.
//!
//! Start one with [`Client::download`](crate::Client::download) (see
//! [`DownloadBuilder`](crate::DownloadBuilder) for an example). Runnable:
//! `cargo run -p tenax --example 07_download`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, Kind};
use crate::request::IntoUrl;
use crate::{Client, Result, TimeoutPhase};

mod digest;
mod sink;
mod transfer;

use sink::FileSink;
use transfer::Transfer;

/// How long a failed download waits for what it received to reach the temporary file.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// How far a download has come, for [`DownloadBuilder::on_progress`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes in the file so far.
    pub downloaded: u64,
    /// The whole size, when the server announced it.
    pub total: Option<u64>,
    /// Resumptions so far.
    pub resumes: u32,
}

/// A finished download.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Download {
    /// Where the file is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lowercase hex, when one was asked for ([`DownloadBuilder::sha256`],
    /// verified, or [`DownloadBuilder::compute_sha256`]).
    pub sha256: Option<String>,
    /// How many times the transfer was resumed with `Range` after a failure.
    pub resumes: u32,
    /// How many times it started over (the server answered a range with the whole file, or
    /// the file changed).
    pub restarts: u32,
    /// How long it took.
    pub elapsed: Duration,
}

type OnProgress = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A download being configured; from [`Client::download`].
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let url = server.url("/file/100000");
/// # let dir = std::env::temp_dir().join(format!("tenax-doc-dl-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let client = tenax::Client::new();
/// let done = client
///     .download(&url, dir.join("data.bin"))
///     .resume(true) // after a failure mid-body, go on with Range
///     .min_speed(10_000, Duration::from_secs(30))
///     .send()
///     .await?;
/// assert_eq!(done.bytes, 100_000);
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[must_use = "a download does nothing until it is sent"]
pub struct DownloadBuilder {
    client: Client,
    url: Result<crate::url::Target>,
    dest: PathBuf,
    sha256: Option<Result<[u8; 32]>>,
    compute_sha256: bool,
    resume: bool,
    max_resumes: u32,
    keep_partial: bool,
    min_speed: Option<(u64, Duration)>,
    max_rate: Option<u64>,
    progress: Option<OnProgress>,
    headers: HeaderMap,
    deadline: Option<Duration>,
    backoff: (Duration, Duration),
}

impl std::fmt::Debug for DownloadBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadBuilder")
            .field("dest", &self.dest)
            .finish_non_exhaustive()
    }
}

fn parse_hex32(hex: &str) -> std::result::Result<[u8; 32], String> {
    let hex = hex.trim();
    // Checked before any slicing: a multi-byte character would split mid-character.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{hex:?} is not hexadecimal"));
    }
    if hex.len() != 64 {
        return Err(format!("a SHA-256 is 64 hex digits, got {}", hex.len()));
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
        *byte = digit(pair[0]) << 4 | digit(pair[1]);
    }
    Ok(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `Content-Range: bytes a-b/total` → (a, total).
pub(crate) fn content_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    if b < a {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((a, total))
}

/// Failures worth resuming after: the connection broke or stalled (the transient rule of
/// retries, a write stall included: resuming only reads).
fn resumable(e: &Error) -> bool {
    crate::retry::is_transient(e, crate::retry::WriteStall::Transient)
}

impl DownloadBuilder {
    pub(crate) fn new(client: Client, url: impl IntoUrl, dest: &Path) -> DownloadBuilder {
        DownloadBuilder {
            client,
            url: url.into_target(),
            dest: dest.to_path_buf(),
            sha256: None,
            compute_sha256: false,
            resume: true,
            max_resumes: 5,
            keep_partial: false,
            min_speed: None,
            max_rate: None,
            progress: None,
            headers: HeaderMap::new(),
            deadline: None,
            backoff: (Duration::from_millis(100), Duration::from_secs(5)),
        }
    }

    /// Verifies the file's SHA-256 (64 hex digits) before it is put in place; a mismatch fails
    /// and leaves nothing at the destination. Default is none (the digest is still computed
    /// and reported).
    pub fn sha256(mut self, hex: &str) -> Self {
        self.sha256 = Some(parse_hex32(hex).map_err(Error::builder));
        self
    }

    /// Computes the file's SHA-256 while it downloads, and reports it
    /// ([`Download::sha256`]), without an expected value. Default is off: hashing costs about
    /// as much CPU as the transfer itself on loopback. It runs on a thread of the runtime's
    /// blocking pool, overlapping the transfer.
    pub fn compute_sha256(mut self, on: bool) -> Self {
        self.compute_sha256 = on;
        self
    }

    /// Whether a failure in the middle of the body (reset, truncation, read timeout) resumes
    /// with `Range` and `If-Range` (the server's strong `ETag`, else its `Last-Modified`),
    /// starting over when the server answers with the whole file. Default is on.
    pub fn resume(mut self, on: bool) -> Self {
        self.resume = on;
        self
    }

    /// The most resumptions, each after a full-jitter wait (see [`backoff`](Self::backoff)).
    /// Default is 5.
    pub fn max_resumes(mut self, n: u32) -> Self {
        self.max_resumes = n;
        self
    }

    /// The wait before each resumption: full jitter, `random(0, min(max, base · 2^n))` before
    /// resumption `n + 1` (the same backoff as retries and WebSocket reconnects). Default is
    /// 100 ms and 5 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.backoff = (base, max.max(base));
        self
    }

    /// Keeps the temporary file (`.NAME.tenax-part` beside the destination) when the download
    /// fails, instead of removing it. Default is off.
    pub fn keep_partial(mut self, on: bool) -> Self {
        self.keep_partial = on;
        self
    }

    /// Fails (timeout phase `min-speed`) when fewer than `bytes` arrive in any `window`.
    /// Default is none.
    pub fn min_speed(mut self, bytes: u64, window: Duration) -> Self {
        self.min_speed = Some((bytes, window.max(Duration::from_millis(1))));
        self
    }

    /// Reads at most this many bytes per second (like curl's `--limit-rate`). Default is no
    /// limit.
    pub fn max_rate(mut self, bytes_per_sec: u64) -> Self {
        self.max_rate = Some(bytes_per_sec.max(1));
        self
    }

    /// Called after every chunk written. It runs on the download's task: keep it cheap.
    pub fn on_progress<F>(mut self, f: F) -> Self
    where
        F: Fn(&Progress) + Send + Sync + 'static,
    {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Adds a request header (authentication, for instance).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// A deadline for the whole download, resumptions and waits included. Default is none.
    pub fn deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some(limit);
        self
    }

    /// Runs the download.
    pub async fn send(self) -> Result<Download> {
        let target = self.url.as_ref().map_err(Error::duplicate)?;
        let url = target.uri.clone();
        let expected = match &self.sha256 {
            Some(Err(e)) => return Err(e.duplicate()),
            Some(Ok(d)) => Some(*d),
            None => None,
        };
        let name = self
            .dest
            .file_name()
            .ok_or_else(|| {
                Error::builder(format!(
                    "the destination {} has no file name",
                    self.dest.display()
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let dir = match self.dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let part = dir.join(format!(".{name}.tenax-part"));
        let started = Instant::now();
        let res = match FileSink::create(&part).await {
            Err(e) => Err(io_error(e, "creating the temporary file")),
            Ok(mut out) => {
                let work = self.run(target, &part, expected, started, &mut out);
                let res = match self.deadline {
                    None => work.await,
                    Some(limit) => match tokio::time::timeout(limit, work).await {
                        Ok(r) => r,
                        Err(_) => Err(Error::timeout(
                            TimeoutPhase::Deadline,
                            limit,
                            "for the whole download",
                        )),
                    },
                };
                if res.is_err() {
                    // What arrived stays in the temporary file, for a caller that keeps it:
                    // a write the deadline interrupted lands before this returns (within a
                    // short grace: a stuck disk does not hold the caller past it).
                    let _ = tokio::time::timeout(FLUSH_GRACE, out.flush()).await;
                }
                res
            }
        };
        match res {
            Ok(mut d) => {
                tokio::fs::rename(&part, &self.dest)
                    .await
                    .map_err(|e| io_error(e, "moving the download into place"))?;
                // The rename itself is durable once the directory is synced (best effort).
                if let Ok(d) = std::fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                d.path = self.dest.clone();
                d.elapsed = started.elapsed();
                Ok(d)
            }
            Err(e) => {
                if !self.keep_partial {
                    let _ = tokio::fs::remove_file(&part).await;
                }
                Err(e.with_url(&http::Method::GET, &url))
            }
        }
    }

    async fn run(
        &self,
        url: &crate::url::Target,
        part: &Path,
        expected: Option<[u8; 32]>,
        started: Instant,
        out: &mut FileSink,
    ) -> Result<Download> {
        let mut t = Transfer::new(expected.is_some() || self.compute_sha256, started);
        let mut rng = fastrand::Rng::new();
        let outcome: Result<()> = loop {
            let failure = match self.request(url, &t).send().await {
                Err(e) => e,
                Ok(mut res) => {
                    if let Err(e) = t.accept(&res, out).await {
                        break Err(e);
                    }
                    match self.copy_body(&mut res, out, &mut t).await {
                        Ok(()) => match t.truncation() {
                            Some(e) => e,
                            None => break Ok(()),
                        },
                        Err(e) => e,
                    }
                }
            };
            let can_resume = self.resume && resumable(&failure) && t.resumes < self.max_resumes;
            if !can_resume {
                break Err(failure);
            }
            if t.offset > 0 && t.validator.is_none() {
                // Without a validator a range could splice two versions: start over instead.
                t.restart(out).await?;
            }
            t.resumes += 1;
            let (base, max) = self.backoff;
            let wait = crate::retry::full_jitter(base, max, t.resumes - 1, &mut rng);
            tokio::time::sleep(wait).await;
        };
        outcome?;
        t.finish(out, expected, part).await
    }

    /// The request of the next attempt: identity encoding, the caller's headers, and a range
    /// from where the file stands (guarded by the validator) when resuming.
    fn request(&self, url: &crate::url::Target, t: &Transfer) -> crate::RequestBuilder {
        let get = http::Method::GET;
        let mut req = crate::RequestBuilder::to_target(self.client.clone(), get, Ok(url.clone()))
            .header(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            );
        for (k, v) in &self.headers {
            req = req.header(k.clone(), v.clone());
        }
        if t.offset > 0 {
            req = req.header(header::RANGE, format!("bytes={}-", t.offset));
            if let Some(v) = &t.validator {
                req = req.header(header::IF_RANGE, v.clone());
            }
        }
        req
    }

    /// Copies the body to the file, enforcing the minimum speed and the rate limit.
    async fn copy_body(
        &self,
        res: &mut crate::Response,
        out: &mut FileSink,
        t: &mut Transfer,
    ) -> Result<()> {
        let mut window = self
            .min_speed
            .map(|(_, w)| (tokio::time::Instant::now() + w, 0u64));
        loop {
            let chunk = match &mut window {
                None => res.chunk().await?,
                Some((end, got)) => {
                    let (min, w) = self.min_speed.expect("set with the window");
                    match tokio::time::timeout_at(*end, res.chunk()).await {
                        Ok(c) => c?,
                        Err(_) => {
                            if *got < min {
                                return Err(Error::timeout(
                                    TimeoutPhase::MinSpeed,
                                    w,
                                    "below the minimum speed",
                                )
                                .with_source(format!(
                                    "{got} bytes arrived in {w:?}, fewer than {min}"
                                )));
                            }
                            *end += w;
                            *got = 0;
                            continue;
                        }
                    }
                }
            };
            let Some(b) = chunk else {
                return Ok(());
            };
            let n = t.record(&b).await;
            out.write(b).await.map_err(|e| io_error(e, "writing"))?;
            if let Some((_, got)) = &mut window {
                *got += n;
            }
            if let Some(p) = &self.progress {
                p(&Progress {
                    downloaded: t.offset,
                    total: t.total,
                    resumes: t.resumes,
                });
            }
            if let Some(rate) = self.max_rate {
                let due = Duration::from_secs_f64(t.received as f64 / rate as f64);
                let spent = t.started.elapsed();
                if due > spent {
                    tokio::time::sleep(due - spent).await;
                }
            }
        }
    }
}

/// The server's strong `ETag`, else its `Last-Modified` (what `If-Range` accepts).
fn strong_validator(h: &HeaderMap) -> Option<HeaderValue> {
    h.get(header::ETAG)
        .filter(|v| !v.as_bytes().starts_with(b"W/"))
        .or_else(|| h.get(header::LAST_MODIFIED))
        .cloned()
}

fn io_error(e: std::io::Error, what: &'static str) -> Error {
    Error::new(Kind::Write).with_what(what).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_content_range_parsing_never_panics_on_non_ascii() {
        let d = parse_hex32(&"ab".repeat(32)).unwrap();
        assert_eq!(d, [0xab; 32]);
        assert_eq!(to_hex(&d), "ab".repeat(32));
        for bad in ["", "xy", &"zz".repeat(32), &"a".repeat(63)] {
            assert!(parse_hex32(bad).is_err(), "{bad:?}");
        }
        // 64 bytes with a two-byte character at an odd offset: slicing by bytes panicked.
        let split = format!("a\u{e9}{}", "0".repeat(61));
        assert_eq!(split.len(), 64);
        assert!(parse_hex32(&split).is_err());
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_RANGE, "bytes 100-199/1000".parse().unwrap());
        assert_eq!(content_range(&h), Some((100, Some(1000))));
        h.insert(header::CONTENT_RANGE, "bytes 5-9/*".parse().unwrap());
        assert_eq!(content_range(&h), Some((5, None)));
        for bad in ["bytes 9-5/10", "items 1-2/3", "bytes x-1/2", "bytes 1-2"] {
            h.insert(header::CONTENT_RANGE, bad.parse().unwrap());
            assert_eq!(content_range(&h), None, "{bad}");
        }
    }

    #[test]
    fn arbitrary_content_ranges_and_digests_never_panic() {
        let alphabet: Vec<char> = "bytes 0123456789-/*xaf".chars().collect();
        let mut rng = fastrand::Rng::with_seed(5);
        let mut h = HeaderMap::new();
        for _ in 0..50_000 {
            let len = rng.usize(0..30);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            if let Ok(v) = HeaderValue::from_str(&s) {
                h.insert(header::CONTENT_RANGE, v);
                if content_range(&h).is_some() {
                    assert!(s.trim().starts_with("bytes "), "{s:?}");
                }
            }
            if let Ok(d) = parse_hex32(&s) {
                assert_eq!(parse_hex32(&to_hex(&d)), Ok(d));
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(v) {
            h.insert(header::CONTENT_RANGE, v);
        }
        h
    }

    proptest! {
        #[test]
        fn any_value_parses_or_not_without_panicking(v in "\\PC{0,40}") {
            let _ = content_range(&with(&v));
        }

        #[test]
        fn any_sha256_argument_is_refused_or_parsed_without_panicking(v in "[0-9a-f\u{e9}\u{1F600}x ]{60,70}") {
            if let Ok(d) = parse_hex32(&v) {
                prop_assert_eq!(to_hex(&d), v.trim());
            }
        }

        #[test]
        fn ranges_round_trip(a in any::<u64>(), len in any::<u64>(), total in proptest::option::of(any::<u64>())) {
            let b = a.saturating_add(len);
            let t = total.map_or("*".to_string(), |t| t.to_string());
            let v = format!("bytes {a}-{b}/{t}");
            prop_assert_eq!(content_range(&with(&v)), Some((a, total)));
        }

        #[test]
        fn backwards_ranges_are_refused(a in 1u64.., back in 1u64..) {
            let b = a.saturating_sub(back);
            prop_assume!(b < a);
            prop_assert_eq!(content_range(&with(&format!("bytes {a}-{b}/*"))), None);
        }
    }
}
