//! The soak's operations: what each does, its deadline, and what it may end as.

use std::path::PathBuf;
use std::time::Duration;

use tenax::{Client, Version};

/// How far past its deadline an operation may end before it counts as an invariant break:
/// the deadline's timer fires on the runtime's next turn, and the machine may be busy.
pub const TOLERANCE: Duration = Duration::from_millis(500);

/// Everything an operation needs.
pub struct Env {
    /// Plain (HTTP/1.1), HTTP/2 by prior knowledge, TLS (h2 by ALPN), and HTTP/2 by prior
    /// knowledge for the faults that drop a whole connection (and every stream on it).
    pub clients: Vec<Client>,
    /// The plain server's address (HTTP/1.1 and h2c on one port).
    pub plain: String,
    /// The TLS server's address.
    pub tls: String,
    /// Where downloads go.
    pub dir: PathBuf,
    /// The run's seed: with an operation's number, it decides the operation.
    pub seed: u64,
    /// Only operations of this name, if given.
    pub only: Option<String>,
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.plain)
    }
}

/// One kind of operation, with its share of the mix (out of 100).
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// GET of a few KiB over HTTP/1.1.
    Get,
    /// The same over HTTP/2 by prior knowledge.
    GetH2c,
    /// The same over TLS, HTTP/2 by ALPN.
    GetTls,
    /// A POST whose body comes back.
    Post,
    /// A 503 the first time, then 200: retried.
    Flaky,
    /// A 404: a response, not an error.
    NotFound,
    /// A body cut by a TCP reset (HTTP/1.1).
    Reset,
    /// A whole HTTP/2 connection reset under the stream.
    ResetH2,
    /// A body cut by a clean close before its length.
    Truncate,
    /// A server that never answers, under a 30 ms read timeout.
    Stall,
    /// A 200 ms answer under a 20 ms deadline.
    Deadline,
    /// A body over the request's size cap.
    TooLarge,
    /// A download reset after a third of the file the first time, resumed.
    Download,
    /// Ten GETs as a batch.
    Batch,
    /// A WebSocket: five messages echoed, then closed.
    WsEcho,
    /// A port nothing listens on.
    Refused,
}

/// The mix: each operation and its weight.
const MIX: &[(Op, u32)] = &[
    (Op::Get, 24),
    (Op::GetH2c, 12),
    (Op::GetTls, 8),
    (Op::Post, 4),
    (Op::Flaky, 6),
    (Op::NotFound, 3),
    (Op::Reset, 5),
    (Op::ResetH2, 3),
    (Op::Truncate, 4),
    (Op::Stall, 3),
    (Op::Deadline, 3),
    (Op::TooLarge, 3),
    (Op::Download, 4),
    (Op::Batch, 5),
    (Op::WsEcho, 5),
    (Op::Refused, 2),
];

/// What an operation found wrong other than an error of Tenax's.
#[derive(Debug)]
pub enum Failure {
    /// Tenax's error.
    Tenax(tenax::Error),
    /// A check of the result failed (wrong length, version, status...).
    Wrong(String),
    /// A 503 not retried because the host's retry budget was spent.
    Budget,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Tenax(e) => write!(f, "{e}"),
            Failure::Wrong(w) => f.write_str(w),
            Failure::Budget => f.write_str("503, not retried: the retry budget was spent"),
        }
    }
}

impl From<tenax::Error> for Failure {
    fn from(e: tenax::Error) -> Failure {
        Failure::Tenax(e)
    }
}

/// What a failure is called in the tally: `timeout:PHASE`, Tenax's kind name, or `wrong`.
pub fn ended_as(f: &Failure) -> String {
    match f {
        Failure::Tenax(e) => match e.timeout_phase() {
            Some(p) => format!("timeout:{p}"),
            None => e.kind_name().to_string(),
        },
        Failure::Wrong(_) => "wrong".to_string(),
        Failure::Budget => "503:budget spent".to_string(),
    }
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::Wrong(what()))
    }
}

impl Op {
    /// Operation `n` of the run with `seed`: the same pair always draws the same operation
    /// (and the operation's own sizes).
    pub fn draw(seed: u64, n: u64, only: Option<&str>) -> Op {
        if let Some(op) = only.and_then(|name| MIX.iter().find(|(op, _)| op.name() == name)) {
            return op.0;
        }
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        let mut pick = rng(seed, n).u32(0..total);
        for (op, w) in MIX {
            if pick < *w {
                return *op;
            }
            pick -= w;
        }
        unreachable!("the weights add up to the total")
    }

    /// Its name in the tally.
    pub fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::GetH2c => "get h2c",
            Op::GetTls => "get tls h2",
            Op::Post => "post",
            Op::Flaky => "flaky 503",
            Op::NotFound => "404",
            Op::Reset => "reset",
            Op::ResetH2 => "reset h2",
            Op::Truncate => "truncate",
            Op::Stall => "stall",
            Op::Deadline => "deadline",
            Op::TooLarge => "too large",
            Op::Download => "download",
            Op::Batch => "batch",
            Op::WsEcho => "websocket",
            Op::Refused => "refused",
        }
    }

    /// Its operation deadline.
    pub fn deadline(self) -> Duration {
        match self {
            Op::Deadline => Duration::from_millis(20),
            _ => Duration::from_secs(2),
        }
    }

    /// Whether ending as `ended` is what this operation's fault must produce.
    pub fn expects(self, ended: &str) -> bool {
        let want: &[&str] = match self {
            Op::Reset | Op::ResetH2 | Op::Truncate => &["recv"],
            Op::Stall => &["timeout:read"],
            Op::Deadline => &["timeout:deadline"],
            Op::TooLarge => &["body_too_large"],
            Op::Refused => &["connect"],
            Op::Flaky => &["ok", "503:budget spent"],
            _ => &["ok"],
        };
        want.contains(&ended)
    }

    /// Runs it (operation `n` of `env`'s run).
    pub async fn run(self, env: &Env, n: u64) -> Result<(), Failure> {
        let mut rng = rng(env.seed, n ^ 0x5eed);
        let small = rng.u64(1..16 * 1024);
        let [plain, h2c, tls, h2c_cut] = [0, 1, 2, 3].map(|i| &env.clients[i]);
        let d = self.deadline();
        match self {
            Op::Get => {
                let url = env.url(&format!("/bytes/{small}"));
                get(plain, url, small, Version::HTTP_11).await
            }
            Op::GetH2c => {
                let url = env.url(&format!("/bytes/{small}"));
                get(h2c, url, small, Version::HTTP_2).await
            }
            Op::GetTls => {
                let url = format!("https://{}/bytes/{small}", env.tls);
                get(tls, url, small, Version::HTTP_2).await
            }
            Op::Post => {
                let r = plain
                    .post(env.url("/echo?raw=1"))
                    .body(vec![7u8; small as usize])
                    .deadline(d)
                    .send()
                    .await?;
                let got = r.bytes().await?.len() as u64;
                check(got == small, || format!("{got} bytes echoed of {small}"))
            }
            Op::Flaky => {
                let url = format!("/flaky/soak-{}-{n}?fail=1&status=503", env.seed);
                let r = plain.get(env.url(&url)).deadline(d).send().await?;
                let (status, attempts) = (r.status(), r.attempts());
                if status == 503 && attempts == 1 {
                    // Not retried: the host's retry budget was spent (a run of only these).
                    return Err(Failure::Budget);
                }
                check(status == 200, || {
                    format!("status {status} after {attempts} attempts")
                })
            }
            Op::NotFound => {
                let r = plain.get(env.url("/status/404")).deadline(d).send().await?;
                let status = r.status();
                r.bytes().await?;
                check(status == 404, || format!("status {status}"))
            }
            Op::Reset | Op::ResetH2 | Op::Truncate => {
                let client = if matches!(self, Op::ResetH2) {
                    h2c_cut
                } else {
                    plain
                };
                let route = if matches!(self, Op::Truncate) {
                    "truncate"
                } else {
                    "reset"
                };
                let url = env.url(&format!("/{route}/{small}?total={}", small + 1000));
                let r = client.get(url).deadline(d).send().await?;
                let got = r.bytes().await?.len();
                Err(Failure::Wrong(format!(
                    "a cut body read whole ({got} bytes)"
                )))
            }
            Op::Stall => {
                let r = plain
                    .get(env.url("/stall"))
                    .read_timeout(Duration::from_millis(30))
                    .deadline(d)
                    .send()
                    .await?;
                Err(Failure::Wrong(format!("/stall answered {}", r.status())))
            }
            Op::Deadline => {
                let r = plain.get(env.url("/delay/200")).deadline(d).send().await?;
                Err(Failure::Wrong(format!(
                    "answered {} past the deadline",
                    r.status()
                )))
            }
            Op::TooLarge => {
                let r = plain
                    .get(env.url("/bytes/200000"))
                    .max_body_bytes(100_000)
                    .deadline(d)
                    .send()
                    .await?;
                let got = r.bytes().await?.len();
                Err(Failure::Wrong(format!("{got} bytes past a cap of 100,000")))
            }
            Op::Download => download(env, plain, n, rng.u64(10_000..300_000)).await,
            Op::Batch => batch(env, plain, small).await,
            Op::WsEcho => websocket(env, plain).await,
            Op::Refused => {
                let r = plain
                    .get(format!("http://127.0.0.1:{}/", refused_port()))
                    .deadline(d)
                    .send()
                    .await?;
                Err(Failure::Wrong(format!(
                    "a closed port answered {}",
                    r.status()
                )))
            }
        }
    }
}

/// The generator for operation `n` of a run with `seed`.
fn rng(seed: u64, n: u64) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n)
}

/// A GET of `len` bytes that must come whole, over `version`.
async fn get(c: &Client, url: String, len: u64, version: Version) -> Result<(), Failure> {
    let r = c.get(url).deadline(Duration::from_secs(2)).send().await?;
    let v = r.version();
    let got = r.bytes().await?.len() as u64;
    check(got == len, || format!("{got} bytes of {len}"))?;
    check(v == version, || format!("{v:?}, not {version:?}"))
}

async fn download(env: &Env, c: &Client, n: u64, size: u64) -> Result<(), Failure> {
    let dest = env.dir.join(format!("dl-{n}.bin"));
    let url = env.url(&format!(
        "/file/{size}?reset_first=1&reset_after={}&key=soak-{}-{n}",
        size / 3,
        env.seed
    ));
    let res = c
        .download(url, &dest)
        .deadline(Duration::from_secs(2))
        .send()
        .await;
    let _ = std::fs::remove_file(&dest);
    let d = res?;
    check(d.bytes == size, || format!("{} bytes of {size}", d.bytes))
}

async fn batch(env: &Env, c: &Client, len: u64) -> Result<(), Failure> {
    use futures_util::StreamExt;
    let url = env.url(&format!("/bytes/{len}"));
    let reqs = (0..10).map(|_| c.get(&url).deadline(Duration::from_secs(2)));
    let mut b = c.batch(reqs).concurrency(4);
    while let Some((_, res)) = b.next().await {
        let got = res?.bytes().await?.len() as u64;
        check(got == len, || format!("{got} bytes of {len} in a batch"))?;
    }
    Ok(())
}

async fn websocket(env: &Env, c: &Client) -> Result<(), Failure> {
    let url = format!("ws://{}/ws/echo", env.plain);
    let work = async {
        let mut ws = c.websocket(url).connect().await?;
        for i in 0..5 {
            ws.send(format!("soak {i}"))
                .await
                .map_err(|e| Failure::Wrong(format!("send: {e}")))?;
            let m = ws.recv().await;
            let text = m.as_ref().and_then(|m| m.as_text()).unwrap_or_default();
            check(text == format!("soak {i}"), || format!("echo {m:?}"))?;
        }
        let unsent = ws.close(Duration::from_secs(1)).await;
        check(unsent.is_empty(), || {
            format!("{} messages unsent", unsent.len())
        })
    };
    match tokio::time::timeout(Duration::from_secs(2), work).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Wrong("the WebSocket outlived 2 s".into())),
    }
}

/// A loopback port nothing listens on (bound once, then closed).
fn refused_port() -> u16 {
    static PORT: std::sync::OnceLock<u16> = std::sync::OnceLock::new();
    *PORT.get_or_init(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("its address").port()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_and_a_number_always_draw_the_same_operation() {
        for n in 0..1000 {
            assert_eq!(
                Op::draw(7, n, None).name(),
                Op::draw(7, n, None).name(),
                "op {n}"
            );
        }
        let differs = (0..1000).any(|n| Op::draw(7, n, None).name() != Op::draw(8, n, None).name());
        assert!(differs, "another seed draws another run");
    }

    #[test]
    fn the_mix_follows_its_weights() {
        let n = 100_000;
        let total: u32 = MIX.iter().map(|(_, w)| w).sum();
        for (op, w) in MIX {
            let seen = (0..n)
                .filter(|&k| Op::draw(3, k, None).name() == op.name())
                .count();
            let want = n as f64 * f64::from(*w) / f64::from(total);
            assert!(
                (seen as f64 - want).abs() < want * 0.1 + 50.0,
                "{}: {seen}, expected about {want:.0}",
                op.name()
            );
        }
        assert_eq!(Op::draw(3, 5, Some("stall")).name(), "stall");
    }

    #[test]
    fn each_fault_expects_its_own_error_and_nothing_else() {
        assert!(Op::Reset.expects("recv") && !Op::Reset.expects("ok"));
        assert!(Op::Stall.expects("timeout:read") && !Op::Stall.expects("timeout:deadline"));
        assert!(Op::Get.expects("ok") && !Op::Get.expects("recv"));
        assert!(Op::Flaky.expects("503:budget spent"));
    }
}
