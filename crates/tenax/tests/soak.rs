//! A soak under random faults: a mixed load against tenax-chaos (resets, stalls, truncations,
//! 503 with Retry-After, slow drips, flaky endpoints, downloads through resets, WebSocket
//! drops) for `TENAX_SOAK_SECS` (default 60). Every operation must end within its deadline in
//! success or a classified error; at the end no file descriptor is leaked, memory is within
//! 10 % of what it was after the warm-up, and no task of the client is left once it is closed.
//!
//! Ignored by `cargo test` (it takes a minute); `.ci/run` runs it:
//! `cargo test --release -p tenax --test soak -- --ignored --nocapture`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

/// Every operation's own deadline; the harness allows this much on top before calling it a
/// hang.
const DEADLINE: Duration = Duration::from_secs(3);
const GRACE: Duration = Duration::from_secs(2);

fn soak_length() -> Duration {
    let secs = std::env::var("TENAX_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(60.0);
    Duration::from_secs_f64(secs)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Outcomes by operation and kind ("ok" or the error's kind name).
type Tally = Arc<Mutex<BTreeMap<(&'static str, String), u64>>>;

/// One random HTTP operation; what it ended as.
async fn http_op(
    client: &Client,
    s: &ChaosServer,
    rng: &mut fastrand::Rng,
    dir: &std::path::Path,
    n: u64,
) -> (&'static str, Result<(), tenax::Error>) {
    let small = rng.u64(1..64 * 1024);
    let (name, url) = match rng.u32(0..11) {
        0 | 1 => ("get", s.url(&format!("/bytes/{small}"))),
        2 => (
            "reset",
            s.url(&format!("/reset/{small}?total={}", small + 10_000)),
        ),
        3 => ("stall", s.url("/stall")),
        4 => ("truncate", s.url(&format!("/truncate/{small}"))),
        5 => ("503 retry-after", s.url("/status/503?retry_after=1")),
        6 => (
            "drip",
            s.url(&format!("/drip/{}?bps=20000", rng.u64(100..40_000))),
        ),
        7 => (
            "flaky",
            s.url(&format!("/flaky/soak-{n}?fail=2&status=502")),
        ),
        8 => ("delay", s.url(&format!("/delay/{}", rng.u64(0..500)))),
        9 => ("gzip-bomb", s.url("/gzip-bomb/8000000")),
        _ => {
            // A download through resets, resumed, into a file.
            let dest = dir.join(format!("dl-{n}.bin"));
            let size = rng.u64(10_000..500_000);
            let url = s.url(&format!(
                "/file/{size}?reset_first=2&reset_after={}&key=soak-dl-{n}",
                size / 3
            ));
            let res = client
                .download(url, &dest)
                .deadline(DEADLINE)
                .send()
                .await
                .map(|d| assert_eq!(d.bytes, size));
            let _ = std::fs::remove_file(&dest);
            return ("download", res);
        }
    };
    let res = async {
        let r = client
            .get(url)
            .deadline(DEADLINE)
            .max_body_bytes(1 << 20)
            .send()
            .await?;
        r.bytes().await.map(drop)
    }
    .await;
    (name, res)
}

/// A WebSocket against a route that drops it every few messages, sending and receiving
/// until `stop`; the number of messages echoed.
async fn ws_loop(client: Client, url: String, stop: Arc<AtomicBool>) -> u64 {
    let mut ws = match client
        .websocket(url)
        .heartbeat(Some(Duration::from_millis(500)))
        .pong_timeout(Duration::from_millis(500))
        .backoff(Duration::from_millis(10), Duration::from_millis(200))
        .connect()
        .await
    {
        Ok(ws) => ws,
        Err(e) => panic!("the WebSocket did not connect: {e}"),
    };
    let mut echoed = 0;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        if ws.try_send(format!("soak {i}")).is_err() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match tokio::time::timeout(Duration::from_millis(20), ws.recv()).await {
            Ok(Some(_)) => echoed += 1,
            Ok(None) => panic!("the WebSocket closed for good under a reconnecting policy"),
            Err(_) => {}
        }
    }
    let left = tokio::time::timeout(DEADLINE + GRACE, ws.close(Duration::from_secs(1)))
        .await
        .expect("close ends within its deadline");
    drop(left);
    echoed
}

#[test]
#[ignore = "a soak of TENAX_SOAK_SECS (60 s): run by .ci/run with --ignored"]
fn soak_under_random_faults() {
    let s = Arc::new(ChaosServer::builder().start_in_thread().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let length = soak_length();
    let warmup = length / 5;
    let dir = std::env::temp_dir().join(format!("tenax-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let (fds_before, tasks_before) = rt.block_on(async {
        (
            open_fds(),
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        )
    });
    let tally: Tally = Arc::default();
    let ops = Arc::new(AtomicU64::new(0));
    let client = Client::builder()
        .read_timeout(Duration::from_secs(1))
        .connect_timeout(Duration::from_secs(1))
        .retry(
            retry::Policy::default().backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let (rss_warm, echoed) = rt.block_on(async {
        let mut workers = Vec::new();
        for w in 0..24u64 {
            let (client, s, tally, ops, stop, dir) = (
                client.clone(),
                s.clone(),
                tally.clone(),
                ops.clone(),
                stop.clone(),
                dir.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(w);
                let mut n = w * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let t = Instant::now();
                    let (name, res) = tokio::time::timeout(
                        DEADLINE + GRACE,
                        http_op(&client, &s, &mut rng, &dir, n),
                    )
                    .await
                    .unwrap_or_else(|_| panic!("an operation outlived its deadline"));
                    assert!(
                        t.elapsed() < DEADLINE + GRACE,
                        "{name} took {:?}",
                        t.elapsed()
                    );
                    let kind = match &res {
                        Ok(()) => "ok".to_string(),
                        Err(e) => match e.timeout_phase() {
                            Some(p) => format!("timeout:{p}"),
                            None => e.kind_name().to_string(),
                        },
                    };
                    *tally.lock().unwrap().entry((name, kind)).or_default() += 1;
                    ops.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Without a key: with one the server keeps every message, and the process's memory
        // (the server runs in it) would grow with the soak's length.
        let mut sockets = Vec::new();
        for k in 0..4 {
            sockets.push(tokio::spawn(ws_loop(
                client.clone(),
                s.ws_url(&format!("/ws/drop/{}", 20 + k * 7)),
                stop.clone(),
            )));
        }
        tokio::time::sleep(warmup).await;
        let rss_warm = rss_kib();
        tokio::time::sleep(length.saturating_sub(warmup)).await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.await.expect("a worker panicked");
        }
        let mut echoed = 0;
        for k in sockets {
            echoed += k.await.expect("a WebSocket loop panicked");
        }
        tokio::time::timeout(Duration::from_secs(15), client.close())
            .await
            .expect("close ends in time");
        (rss_warm, echoed)
    });
    drop(client);

    // Everything the client had is gone: its tasks, its sockets, the server's side of them.
    let (fds_after, tasks_after) = rt.block_on(async {
        let t = Instant::now();
        while (s.connections_open() > 0
            || tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                > tasks_before)
            && t.elapsed() < Duration::from_secs(5)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (
            open_fds(),
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
        )
    });
    let rss_end = rss_kib();
    let _ = std::fs::remove_dir_all(&dir);

    let total = ops.load(Ordering::Relaxed);
    println!(
        "soak: {:.0} s, {total} HTTP operations, {echoed} WebSocket echoes",
        started.elapsed().as_secs_f64()
    );
    for ((op, kind), n) in tally.lock().unwrap().iter() {
        println!("  {op:16} {kind:16} {n}");
    }
    println!(
        "  fds {fds_before} -> {fds_after}; tasks {tasks_before} -> {tasks_after}; \
         RSS after warm-up {rss_warm} KiB, at the end {rss_end} KiB; server connections open {}",
        s.connections_open()
    );

    assert!(total > 100, "only {total} operations");
    assert!(echoed > 0, "no WebSocket message came back");
    let tally = tally.lock().unwrap();
    // Every fault was met, and some operation of each kind succeeded where it can.
    for op in ["get", "flaky", "delay", "download"] {
        assert!(
            tally.get(&(op, "ok".to_string())).copied().unwrap_or(0) > 0,
            "no {op} succeeded"
        );
    }
    // Each fault ended as what it is, and only as that.
    for (op, kinds) in [
        ("stall", &["timeout:read", "timeout:deadline"][..]),
        ("truncate", &["recv"]),
        ("reset", &["recv"]),
        ("gzip-bomb", &["body_too_large"]),
    ] {
        let ended: Vec<&String> = tally
            .iter()
            .filter(|((o, _), _)| *o == op)
            .map(|((_, k), _)| k)
            .collect();
        assert!(!ended.is_empty(), "no {op} was tried");
        assert!(
            ended.iter().all(|k| kinds.contains(&k.as_str())),
            "{op} ended as {ended:?}, expected {kinds:?}"
        );
    }
    assert_eq!(s.connections_open(), 0, "server-side connections left open");
    assert_eq!(fds_after, fds_before, "file descriptors leaked");
    assert_eq!(tasks_after, tasks_before, "tasks left running after close");
    assert!(
        rss_end as f64 <= rss_warm as f64 * 1.10,
        "memory grew from {rss_warm} KiB after the warm-up to {rss_end} KiB"
    );
}
