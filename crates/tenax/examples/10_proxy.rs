//! Recipe 10 (proxies): an HTTP proxy with Basic credentials — plain http in absolute form,
//! https through a `CONNECT` tunnel (TLS still end to end), hosts in `no_proxy` direct; a 407
//! is an error that names it. `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` are read
//! when no proxy is given (never for loopback targets). See `10_tls.rs` for custom TLS.
//!
//! Run: `cargo run -p tenax --example 10_proxy`.

use tenax::{Client, Proxy, tls};
use tenax_chaos::{ChaosServer, ProxyServer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let plain = ChaosServer::builder().start_in_thread()?;
    let secure = ChaosServer::builder().tls(true).start_in_thread()?;
    let proxy = ProxyServer::start_in_thread(Some(("alice", "s3cret")))?;
    let ca = tls::Certificate::from_pem(secure.ca_pem().unwrap_or_default().as_bytes())?;

    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .proxy(Proxy::all(&proxy.url())?.basic_auth("alice", "s3cret"))
        .add_root_certificate(ca.clone())
        .build()?;
    let a = client.get(plain.url("/bytes/3")).send().await?;
    let b = client.get(secure.url("/bytes/3")).send().await?;
    println!(
        "http: {} ({} forwarded), https: {} ({} tunnel)",
        a.status(),
        proxy.forwarded(),
        b.status(),
        proxy.tunnels()
    );

    let anonymous = Client::builder()
        .proxy(Proxy::all(&proxy.url())?)
        .add_root_certificate(ca)
        .build()?;
    match anonymous.get(secure.url("/bytes/3")).send().await {
        Err(e) if e.is_proxy() => println!(
            "without credentials: {e}: {}",
            std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_default()
        ),
        other => println!("unexpected: {other:?}"),
    }
    Ok(())
}
