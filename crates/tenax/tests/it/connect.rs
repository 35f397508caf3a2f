//! The connect stack against tenax-chaos: the DNS cache (TTL, coalescing, stale answers,
//! negative caching, overrides), IPv6 loopback, and Happy Eyeballs past a black hole.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tenax::{Client, dns};
use tenax_chaos::{Blackhole, ChaosServer};

use crate::support::bounded;

/// Answers with fixed addresses after an optional delay, counting calls; fails after
/// `fail_after` calls.
#[derive(Clone)]
struct Counting {
    calls: Arc<AtomicUsize>,
    addrs: Vec<IpAddr>,
    delay: Duration,
    fail_after: usize,
}

impl Counting {
    fn new(addrs: &[&str]) -> Counting {
        Counting {
            calls: Arc::new(AtomicUsize::new(0)),
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            delay: Duration::ZERO,
            fail_after: usize::MAX,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl dns::Resolve for Counting {
    fn resolve<'a>(&'a self, _host: &'a str) -> dns::Resolving<'a> {
        Box::pin(async move {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            if n >= self.fail_after {
                return Err(std::io::Error::other("the resolver is down"));
            }
            Ok(self.addrs.clone())
        })
    }
}

/// A client that opens a new connection for every request, so every request resolves.
fn no_reuse(r: &Counting) -> tenax::ClientBuilder {
    Client::builder().resolver(r.clone()).max_idle_per_host(0)
}

#[tokio::test]
async fn the_resolver_is_asked_once_per_ttl() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    bounded(async {
        // 1000 requests, each on a new connection, within the default 60 s TTL: one lookup.
        let r = Counting::new(&["127.0.0.1"]);
        let client = no_reuse(&r).build().unwrap();
        for _ in 0..1000 {
            let res = client
                .get(format!("http://counted.test:{port}/bytes/1"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.bytes().await.unwrap().len(), 1);
        }
        assert_eq!(r.calls(), 1);
        assert!(
            s.connections_accepted() >= 1000,
            "each request resolved anew"
        );
        let st = client.dns_stats();
        assert_eq!((st.lookups, st.hits), (1, 999), "{st:?}");
        // Past the TTL: looked up again.
        let r = Counting::new(&["127.0.0.1"]);
        let client = no_reuse(&r)
            .dns_ttl(Duration::from_millis(100))
            .build()
            .unwrap();
        let url = format!("http://counted.test:{port}/bytes/1");
        client.get(&url).send().await.unwrap();
        client.get(&url).send().await.unwrap();
        assert_eq!(r.calls(), 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.get(&url).send().await.unwrap();
        assert_eq!(r.calls(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_hundred_concurrent_first_lookups_make_one_call() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    let mut r = Counting::new(&["127.0.0.1"]);
    r.delay = Duration::from_millis(100);
    let client = no_reuse(&r).build().unwrap();
    bounded(async {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move {
                c.get(format!("http://burst.test:{port}/bytes/1"))
                    .send()
                    .await
                    .map(|r| r.status())
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 200);
        }
        assert_eq!(r.calls(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_failing_resolver_is_bridged_by_the_stale_answer_then_reported() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    let mut r = Counting::new(&["127.0.0.1"]);
    r.fail_after = 1;
    let client = no_reuse(&r)
        .dns_ttl(Duration::from_millis(100))
        .dns_stale(Duration::from_millis(600))
        .dns_negative_ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    let url = format!("http://stale.test:{port}/bytes/1");
    bounded(async {
        let t0 = Instant::now();
        client.get(&url).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Past the TTL, the refresh fails: the stale answer serves.
        client.get(&url).send().await.unwrap();
        assert!(client.dns_stats().stale >= 1, "{:?}", client.dns_stats());
        // Past TTL + stale window: a DNS error.
        tokio::time::sleep(Duration::from_millis(900).saturating_sub(t0.elapsed())).await;
        let e = client.get(&url).send().await.unwrap_err();
        assert!(e.is_dns(), "{e}");
    })
    .await;
}

#[tokio::test]
async fn failures_are_cached_briefly_and_overrides_skip_the_resolver() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    let mut r = Counting::new(&["127.0.0.1"]);
    r.fail_after = 0;
    let client = no_reuse(&r)
        .dns_negative_ttl(Duration::from_secs(5))
        .resolve_to("pinned.test", None, ["127.0.0.1".parse().unwrap()])
        .build()
        .unwrap();
    bounded(async {
        for _ in 0..3 {
            let e = client
                .get(format!("http://down.test:{port}/"))
                .send()
                .await
                .unwrap_err();
            assert!(e.is_dns(), "{e}");
        }
        assert_eq!(r.calls(), 1, "the failure was remembered");
        let res = client
            .get(format!("http://pinned.test:{port}/bytes/3"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(r.calls(), 1, "the override needs no resolver");
    })
    .await;
}

/// Whether this machine has an IPv6 loopback (some containers do not): the IPv6 tests say so
/// and stop when it is missing.
fn ipv6() -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        eprintln!("skipped: no IPv6 loopback on this machine (the IPv6 part of this test)");
    }
    ok
}

#[tokio::test]
async fn ipv6_loopback_works() {
    if !ipv6() {
        return;
    }
    let s = ChaosServer::builder()
        .addr("[::1]:0".parse().unwrap())
        .start_in_thread()
        .unwrap();
    let port = s.addr().port();
    bounded(async {
        let res = Client::new()
            .get(format!("http://[::1]:{port}/bytes/5"))
            .send()
            .await
            .unwrap();
        assert!(res.remote_addr().is_ipv6());
        assert_eq!(res.bytes().await.unwrap().len(), 5);
        let client = Client::builder()
            .resolve_to("v6.test", Some(port), ["::1".parse().unwrap()])
            .build()
            .unwrap();
        let res = client
            .get(format!("http://v6.test:{port}/bytes/2"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    })
    .await;
}

/// Happy Eyeballs: the first address hangs (a black hole on the same port), the second
/// answers; the connection comes through after the 250 ms stagger, not the connect timeout.
async fn eyeballs(hole_ip: &str) {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    let hole = Blackhole::start_on(format!("{hole_ip}:{port}").parse().unwrap())
        .await
        .unwrap();
    let bare = hole_ip.trim_start_matches('[').trim_end_matches(']');
    let r = Counting::new(&[bare, "127.0.0.1"]);
    let client = Client::builder()
        .resolver(r)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let res = bounded(client.get(format!("http://he.test:{port}/bytes/1")).send())
        .await
        .unwrap();
    let took = t0.elapsed();
    assert_eq!(res.remote_addr().ip().to_string(), "127.0.0.1");
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    drop(hole);
}

#[tokio::test]
async fn happy_eyeballs_prefers_the_family_that_answers() {
    if ipv6() {
        eyeballs("[::1]").await;
    }
}

#[tokio::test]
async fn happy_eyeballs_moves_past_a_hanging_address_of_the_same_family() {
    eyeballs("127.0.0.2").await;
}

#[tokio::test]
async fn a_local_address_and_tcp_keepalive_apply_to_new_connections() {
    // A bare listener, to see the address the client connects from.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = Client::builder()
        .local_address("127.0.0.2".parse().unwrap())
        .tcp_keepalive(Duration::from_secs(30))
        .retry(tenax::retry::Policy::default().max_attempts(1))
        .build()
        .unwrap();
    let request =
        tokio::spawn(async move { client.get(format!("http://127.0.0.1:{port}/")).send().await });
    let (conn, peer) = bounded(listener.accept()).await.unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.2");
    drop(conn);
    assert!(bounded(request).await.unwrap().is_err());
    // An IPv4 local address cannot reach an IPv6 target: a clear connect error.
    if ipv6() {
        let s = ChaosServer::builder()
            .addr("[::1]:0".parse().unwrap())
            .start_in_thread()
            .unwrap();
        let client = Client::builder()
            .local_address("127.0.0.1".parse().unwrap())
            .build()
            .unwrap();
        let e = client
            .get(format!("http://[::1]:{}/bytes/1", s.addr().port()))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_connect(), "{e}");
    }
}
