//! Hedged requests against tenax-chaos's `/tail`, whose calls 0, N, 2N… are slow with
//! `every=N` (counted by the server).

use std::time::{Duration, Instant};

use crate::support::{bounded, server, wait_until};
use tenax::events::EventKind;
use tenax::{Client, Hedge, retry};

fn after(ms: u64) -> Hedge {
    Hedge::after(Duration::from_millis(ms))
}

#[tokio::test]
async fn a_slow_first_attempt_is_hedged_and_the_hedge_wins() {
    bounded(async {
        let s = server();
        let (hook, mut events) = tenax::events::channel(64);
        let c = Client::builder().on_event(hook).build().unwrap();
        let started = Instant::now();
        let r = (c.get(s.url("/tail?every=1000&ms=20000")))
            .hedge(after(50))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(r.hedges().sent, 1);
        assert!(r.hedges().won);
        assert_eq!(r.attempts(), 1, "a hedge is not a retry");
        assert_eq!(r.text().await.unwrap(), "fast\n");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(took >= Duration::from_millis(45), "{took:?}");
        let mut hedged = None;
        while let Some(e) = events.try_recv() {
            if let EventKind::HedgeSent {
                attempt,
                hedge,
                after,
            } = e.kind
            {
                hedged = Some((attempt, hedge, after));
            }
        }
        let (attempt, hedge, waited) = hedged.expect("a HedgeSent event");
        assert_eq!((attempt, hedge), (1, 1));
        assert!(waited >= Duration::from_millis(45), "{waited:?}");
        // The losing attempt was cancelled: its connection closes; the winner's stays idle.
        wait_until("the loser's connection closed", || {
            c.open_connections() == 1
        })
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_prompt_answer_sends_no_hedge() {
    bounded(async {
        let s = server();
        let c = Client::builder().hedge(after(500)).build().unwrap();
        for _ in 0..20 {
            let r = c.get(s.url("/tail?p=0")).send().await.unwrap();
            assert_eq!(r.hedges(), tenax::hedge::Hedges::default());
        }
        assert_eq!(s.hits("tail"), 20);
    })
    .await;
}

#[tokio::test]
async fn a_post_without_an_idempotency_key_is_never_hedged() {
    bounded(async {
        let s = server();
        let c = Client::new();
        let started = Instant::now();
        let r = (c.post(s.url("/tail?every=1&ms=300")))
            .body("x")
            .hedge(after(20))
            .send()
            .await
            .unwrap();
        assert_eq!(r.hedges().sent, 0);
        assert!(started.elapsed() >= Duration::from_millis(280));
        assert_eq!(s.hits("tail"), 1);
    })
    .await;
}

#[tokio::test]
async fn hedges_draw_from_the_retry_budget() {
    bounded(async {
        let s = server();
        let mut none_left = retry::Budget::default();
        none_left.ratio = 0.0;
        none_left.min_per_sec = 0.0;
        let c = Client::builder()
            .retry(retry::Policy::default().budget(Some(none_left)))
            .build()
            .unwrap();
        let r = (c.get(s.url("/tail?every=1&ms=300")))
            .hedge(after(20))
            .send()
            .await
            .unwrap();
        assert_eq!(r.hedges().sent, 0, "the budget had nothing to give");
        assert_eq!(s.hits("tail"), 1);
    })
    .await;
}

#[tokio::test]
async fn at_most_max_hedges_go_one_delay_apart() {
    bounded(async {
        let s = server();
        let c = Client::new();
        let started = Instant::now();
        // Every call is slow: the first attempt and both hedges answer after 400 ms.
        let r = (c.get(s.url("/tail?every=1&ms=400")))
            .hedge(after(50).max_hedges(2))
            .send()
            .await
            .unwrap();
        assert_eq!(r.hedges().sent, 2);
        assert!(!r.hedges().won, "the first attempt answered first");
        assert_eq!(s.hits("tail"), 3);
        assert!(started.elapsed() < Duration::from_millis(1500));
    })
    .await;
}

#[tokio::test]
async fn a_quantile_delay_follows_what_the_host_has_shown() {
    bounded(async {
        let s = server();
        // Until it has seen 20 answers the delay is 20 s: the test would time out.
        let hedge = Hedge::quantile(0.9).initial_delay(Duration::from_secs(20));
        let c = Client::builder().hedge(hedge).build().unwrap();
        for _ in 0..30 {
            c.get(s.url("/bytes/10")).send().await.unwrap();
        }
        let started = Instant::now();
        let r = c
            .get(s.url("/tail?every=1000&ms=20000"))
            .send()
            .await
            .unwrap();
        assert!(r.hedges().won);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}
