//! Demo segments of the connect stack: the DNS cache and Happy Eyeballs.

use std::time::{Duration, Instant};

use tenax::Client;
use tenax_chaos::{Blackhole, ChaosServer};

use crate::demo::{Row, pass_if};

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

pub async fn segments(server: &ChaosServer, tls: &ChaosServer) -> Vec<Row> {
    vec![
        dns_cache(server).await,
        eyeballs().await,
        proxy(server, tls).await,
    ]
}

async fn proxy(server: &ChaosServer, tls: &ChaosServer) -> Row {
    let segment = "10 proxies";
    let t = Instant::now();
    let proxy = match tenax_chaos::ProxyServer::start_in_thread(Some(("demo", "secret"))) {
        Ok(p) => p,
        Err(e) => return Row::fail(segment, e),
    };
    let Some(ca) = tls
        .ca_pem()
        .and_then(|pem| tenax::tls::Certificate::from_pem(pem.as_bytes()).ok())
    else {
        return Row::fail(segment, "the TLS chaos server has no CA");
    };
    let build = |url: String| {
        tenax::Proxy::all(&url).and_then(|p| {
            Client::builder()
                .proxy(p)
                .add_root_certificate(ca.clone())
                .build()
        })
    };
    let (good, bad) = match (
        build(format!("http://demo:secret@{}", proxy.addr())),
        build(proxy.url()),
    ) {
        (Ok(g), Ok(b)) => (g, b),
        (Err(e), _) | (_, Err(e)) => return Row::fail(segment, e),
    };
    let https = good.get(tls.url("/bytes/5")).send().await;
    let http = good.get(server.url("/bytes/5")).send().await;
    let refused = bad.get(tls.url("/bytes/5")).send().await;
    let refused_msg = match &refused {
        Err(e) => std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default(),
        Ok(_) => String::new(),
    };
    let ok = https.as_ref().is_ok_and(|r| r.status() == 200)
        && http.as_ref().is_ok_and(|r| r.status() == 200)
        && refused.as_ref().is_err_and(tenax::Error::is_proxy)
        && refused_msg.contains("407")
        && proxy.tunnels() == 1
        && proxy.forwarded() == 1;
    Row {
        segment,
        status: pass_if(ok),
        detail: format!(
            "https through CONNECT and http in absolute form, with Basic credentials: {} tunnel, {} forwarded; without them: {refused_msg}",
            proxy.tunnels(),
            proxy.forwarded()
        ),
        ms: ms(t.elapsed()),
    }
}

async fn dns_cache(server: &ChaosServer) -> Row {
    let segment = "08 DNS cache";
    let t = Instant::now();
    // A new connection per request (nothing kept idle), so each one needs the name resolved.
    let client = match Client::builder().max_idle_per_host(0).build() {
        Ok(c) => c,
        Err(e) => return Row::fail(segment, e),
    };
    let url = format!("http://localhost:{}/bytes/1", server.addr().port());
    for _ in 0..50 {
        if let Err(e) = client.get(&url).send().await {
            return Row::fail(segment, e);
        }
    }
    let st = client.dns_stats();
    Row {
        segment,
        status: pass_if(st.lookups == 1 && st.hits == 49),
        detail: format!(
            "50 connections to localhost: {} lookup, {} answers from the cache (TTL 60 s, stale 5 min if a refresh fails)",
            st.lookups, st.hits
        ),
        ms: ms(t.elapsed()),
    }
}

async fn eyeballs() -> Row {
    let segment = "08 Happy Eyeballs";
    let server = match ChaosServer::builder().start_in_thread() {
        Ok(s) => s,
        Err(e) => return Row::fail(segment, e),
    };
    let port = server.addr().port();
    // ::1 on the same port hangs (a full backlog): the IPv4 address must win after 250 ms.
    // Without IPv6 on this machine, 127.0.0.2 plays the hanging address.
    let (hole, first) =
        match Blackhole::start_on(format!("[::1]:{port}").parse().expect("an address")).await {
            Ok(h) => (h, "::1"),
            Err(_) => {
                match Blackhole::start_on(format!("127.0.0.2:{port}").parse().expect("an address"))
                    .await
                {
                    Ok(h) => (h, "127.0.0.2"),
                    Err(e) => return Row::fail(segment, e),
                }
            }
        };
    let client = Client::builder()
        .resolve_to(
            "dual.test",
            None,
            [first.parse().expect("ip"), "127.0.0.1".parse().expect("ip")],
        )
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return Row::fail(segment, e),
    };
    let t = Instant::now();
    let res = client
        .get(format!("http://dual.test:{port}/bytes/1"))
        .send()
        .await;
    let took = t.elapsed();
    drop(hole);
    match res {
        Ok(r) => Row {
            segment,
            status: pass_if(
                r.remote_addr().ip().to_string() == "127.0.0.1" && took < Duration::from_secs(2),
            ),
            detail: format!(
                "{first} hangs, 127.0.0.1 answers: connected to {} after {:.0} ms (250 ms stagger, not the 10 s connect timeout)",
                r.remote_addr(),
                took.as_secs_f64() * 1e3
            ),
            ms: ms(took),
        },
        Err(e) => Row::fail(segment, e),
    }
}
