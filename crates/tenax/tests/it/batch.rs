//! Batches against tenax-chaos: the concurrency bound (counted by the server), results as
//! they complete, failures that stop nothing, lazy consumption and cancellation on drop.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::Client;
use tenax_chaos::ChaosServer;

use crate::support::bounded;

#[tokio::test]
async fn a_thousand_requests_never_run_more_than_twenty_at_once() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    bounded(async {
        let reqs = (0..1000).map(|_| client.get(s.url("/delay/10")));
        let mut batch = client.batch(reqs).concurrency(20);
        let mut seen = vec![false; 1000];
        while let Some((i, res)) = batch.next().await {
            assert_eq!(res.unwrap().status(), 200);
            assert!(!seen[i], "index {i} twice");
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let max = s.max_in_flight();
        assert!((10..=20).contains(&max), "the server saw {max} at once");
    })
    .await;
}

#[tokio::test]
async fn results_come_as_they_complete_and_a_failure_stops_nothing() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .retry(tenax::retry::Policy::default().max_attempts(1))
        .build()
        .unwrap();
    bounded(async {
        let urls = [
            s.url("/delay/1500"),
            format!("http://127.0.0.1:{refused}/"),
            s.url("/bytes/3"),
        ];
        let t0 = Instant::now();
        let mut batch = client
            .batch_with(urls.iter().map(|u| client.get(u)), |req| async move {
                let res = req.send().await?;
                res.bytes().await
            })
            .concurrency(3);
        let mut order = Vec::new();
        while let Some((i, res)) = batch.next().await {
            if order.is_empty() {
                assert!(
                    t0.elapsed() < Duration::from_millis(1000),
                    "the first came before the slowest"
                );
            }
            match i {
                1 => assert!(res.unwrap_err().is_connect()),
                _ => assert!(res.is_ok()),
            }
            order.push(i);
        }
        assert_eq!(order.len(), 3);
        assert_eq!(*order.last().unwrap(), 0, "the slow one last: {order:?}");
    })
    .await;
}

#[tokio::test]
async fn an_endless_batch_dropped_after_a_hundred_results_stops() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    bounded(async {
        let url = s.url("/delay/20");
        let mut taken = 0usize;
        let reqs = std::iter::repeat_with(|| {
            taken += 1;
            client.get(&url)
        });
        let mut batch = client.batch(reqs).concurrency(10);
        for _ in 0..100 {
            batch.next().await.unwrap().1.unwrap();
        }
        assert!(batch.in_flight() <= 10);
        drop(batch);
        assert!(taken <= 110, "only what ran was taken: {taken}");
        // Nothing left running on the server shortly after the drop.
        let t0 = Instant::now();
        while s.in_flight() > 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "requests still in flight"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_batch_deadline_bounds_every_request() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    bounded(async {
        let reqs = (0..4).map(|_| client.get(s.url("/delay/3000")));
        let t0 = Instant::now();
        let results: Vec<_> = client
            .batch(reqs)
            .deadline(Duration::from_millis(300))
            .collect()
            .await;
        assert_eq!(results.len(), 4);
        for (_, r) in results {
            assert_eq!(
                r.unwrap_err().timeout_phase(),
                Some(tenax::TimeoutPhase::Deadline)
            );
        }
        assert!(t0.elapsed() < Duration::from_secs(2));
    })
    .await;
}

#[tokio::test]
async fn a_stream_fed_as_it_goes_is_run_as_requests_arrive() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    bounded(async {
        let (tx, rx) = tokio::sync::mpsc::channel::<tenax::RequestBuilder>(4);
        let source = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|r| (r, rx))
        }));
        let mut batch = client
            .batch_stream(source, |req| async move { req.send().await?.bytes().await })
            .concurrency(3);
        // The first request is answered while the producer has sent nothing else.
        tx.send(client.get(s.url("/bytes/5"))).await.unwrap();
        let (i, body) = batch.next().await.unwrap();
        assert_eq!((i, body.unwrap().len()), (0, 5));
        let producer = {
            let (client, url) = (client.clone(), s.url("/bytes/7"));
            tokio::spawn(async move {
                for _ in 0..20 {
                    tx.send(client.get(&url)).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                // Dropping the sender ends the source, and so the batch.
            })
        };
        let mut n = 0;
        while let Some((_, body)) = batch.next().await {
            assert_eq!(body.unwrap().len(), 7);
            n += 1;
        }
        assert_eq!(n, 20);
        producer.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_per_host_limit_holds_while_other_hosts_go_ahead() {
    let a = ChaosServer::builder().start_in_thread().unwrap();
    let b = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::new();
    bounded(async {
        // 15 of A's requests come first in the input (within the read-ahead of 20): B's must
        // not wait behind them.
        let urls: Vec<String> = (0..15)
            .map(|_| a.url("/delay/20"))
            .chain((0..40).map(|_| b.url("/delay/20")))
            .chain((0..45).map(|_| a.url("/delay/20")))
            .collect();
        let mut batch = client
            .batch(urls.iter().map(|u| client.get(u)))
            .concurrency(20)
            .concurrency_per_host(5);
        let mut seen = [false; 100];
        let mut first_b = None;
        let mut n = 0;
        while let Some((i, res)) = batch.next().await {
            assert_eq!(res.unwrap().status(), 200);
            seen[i] = true;
            n += 1;
            if (15..55).contains(&i) && first_b.is_none() {
                first_b = Some(n);
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert!(
            (3..=5).contains(&a.max_in_flight()),
            "A saw {}",
            a.max_in_flight()
        );
        assert!(
            (3..=5).contains(&b.max_in_flight()),
            "B saw {}",
            b.max_in_flight()
        );
        assert!(
            first_b.unwrap() <= 10,
            "B's first result was number {first_b:?}: it waited behind A"
        );
    })
    .await;
}
