//! Adaptive batch concurrency against tenax-chaos's `/capacity/{c}`: `c` served at once, `c`
//! more queued, 503 beyond `2c`.

use futures_util::StreamExt;

use crate::support::{bounded, server};
use tenax::{Adaptive, Client, Concurrency, retry};

fn client() -> Client {
    Client::builder()
        .retry(retry::Policy::none())
        .build()
        .unwrap()
}

/// Runs `n` GETs of `path` at `concurrency`; the 503s, and the limit at the end.
async fn run(
    s: &tenax_chaos::ChaosServer,
    path: &str,
    n: usize,
    concurrency: impl Into<Concurrency>,
) -> (usize, usize) {
    let c = client();
    let reqs = (0..n).map(|_| c.get(s.url(path)));
    let mut batch = c.batch(reqs).concurrency(concurrency);
    let mut rejected = 0;
    while let Some((_, res)) = batch.next().await {
        if res.unwrap().status() == 503 {
            rejected += 1;
        }
    }
    (rejected, batch.limit())
}

#[tokio::test]
async fn an_adaptive_batch_settles_under_twice_the_capacity_with_few_503s() {
    bounded(async {
        let s = server();
        // A fixed 64 against a capacity of 8 is refused half the time...
        let (fixed_503, _) = run(&s, "/capacity/8?ms=10", 256, 64).await;
        assert!(fixed_503 > 64, "{fixed_503}");
        assert_eq!(s.capacity_rejections(), fixed_503 as u64);
        // ...the adaptive limit finds the capacity.
        let (adaptive_503, limit) = run(&s, "/capacity/8?ms=10", 600, Adaptive::default()).await;
        assert!(adaptive_503 <= 12, "{adaptive_503} refused of 600");
        assert!((4..=16).contains(&limit), "settled at {limit}");
    })
    .await;
}

#[tokio::test]
async fn an_adaptive_limit_grows_while_the_server_keeps_up() {
    bounded(async {
        let s = server();
        let (rejected, limit) = run(&s, "/delay/5", 400, Adaptive::default()).await;
        assert_eq!(rejected, 0);
        assert!(limit > 20, "the limit grew from 4 to {limit}");
    })
    .await;
}

#[tokio::test]
async fn each_host_can_have_its_own_adaptive_limit() {
    bounded(async {
        let small = server();
        let c = client();
        let reqs = (0..300).map(|_| c.get(small.url("/capacity/4?ms=10")));
        let mut batch = (c.batch(reqs))
            .concurrency(64)
            .concurrency_per_host(Adaptive::default().bounds(1, 256));
        let mut rejected = 0;
        while let Some((_, res)) = batch.next().await {
            rejected += usize::from(res.unwrap().status() == 503);
        }
        assert!(rejected <= 6, "{rejected} refused of 300");
        assert!(small.max_in_flight() <= 64);
    })
    .await;
}

#[tokio::test]
async fn the_limit_as_it_moves_is_an_event() {
    bounded(async {
        let s = server();
        let (hook, mut events) = tenax::events::channel(10_000);
        let c = Client::builder().on_event(hook).build().unwrap();
        let reqs = (0..200).map(|_| c.get(s.url("/delay/5")));
        let mut batch = c.batch(reqs).concurrency(Adaptive::default());
        while batch.next().await.is_some() {}
        let mut limits = Vec::new();
        while let Some(e) = events.try_recv() {
            if let tenax::events::EventKind::ConcurrencyLimit { host: None, limit } = e.kind {
                limits.push(limit);
            }
        }
        assert_eq!(
            limits.first(),
            Some(&5),
            "the first step from 4: {limits:?}"
        );
        assert_eq!(limits.last(), Some(&batch.limit()));
    })
    .await;
}
