//! Tenax: resilient async HTTP and WebSocket clients for Rust.
//!
//! Every pattern of a careful networking cookbook is a default here rather than a recipe to
//! copy: timeouts named by phase, one reused client with explicit close, connection limits with
//! a fair, bounded wait for a connection, per-phase timings on every response.
//!
//! ```no_run
//! # async fn demo() -> tenax::Result<()> {
//! use std::time::Duration;
//! use tenax::{Client, TimeoutPhase};
//!
//! let client = Client::builder()
//!     .connect_timeout(Duration::from_secs(2))
//!     .read_timeout(Duration::from_secs(5))
//!     .build()?;
//! match client.get("http://127.0.0.1:8080/slow").send().await {
//!     Ok(res) => println!("{} in {:?}", res.status(), res.timings().ttfb),
//!     Err(e) if e.timeout_phase() == Some(TimeoutPhase::Read) => eprintln!("too slow: {e}"),
//!     Err(e) => return Err(e),
//! }
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! Defaults (each stated on its setter): connect 10 s, write 30 s, read 30 s, pool 30 s;
//! 100 connections in all, unlimited per host, 32 idle per host, idle timeout 90 s;
//! `bytes()`/`text()`/`json()` buffer at most 64 MiB.
//!
//! # Guides
//!
//! Each recipe has a runnable example in the repository's `crates/tenax/examples/`, run with
//! `cargo run -p tenax --example NAME` against a fault-injecting server it starts itself.
//!
//! - **Timeouts by phase**: [`ClientBuilder::connect_timeout`], `read_timeout`,
//!   `write_timeout`, `pool_timeout`, or [`Timeouts`] at once; per request on
//!   [`RequestBuilder`]. An error says which phase ran out ([`Error::timeout_phase`]).
//!   Example `01_phase_timeouts`.
//! - **One client, pool limits, HTTP/2**: [`Client`] (clone it, [`Client::close`] it),
//!   [`pool::Limits`], [`Client::stats`]. Examples `02_reuse_and_close`, `03_pool_limits`.
//! - **Retries and deadlines**: [`retry`] (on by default for idempotent requests, with a
//!   budget) and [`deadline`] (one limit over every attempt, wait and read). Examples
//!   `04_operation_deadline`, `05_retries`.
//! - **Batches**: [`Client::batch`], [`Batch`], with a fixed or an [`Adaptive`] concurrency
//!   limit. Example `06_batch`.
//! - **Beyond retries**: a circuit breaker per host ([`breaker`]), hedged requests
//!   against a slow tail ([`hedge`]), per-host rate limits ([`RateLimit`]), all off by
//!   default. Example `17_beyond_retries`.
//! - **Downloads**: [`Client::download`] → [`DownloadBuilder`]: a temporary file, SHA-256,
//!   resume with `Range`, a minimum speed. Example `07_download`.
//! - **DNS, connect, proxies, TLS**: [`dns`], [`Proxy`], [`tls`]. Examples
//!   `08_dns_and_connect`, `10_proxy`, `10_tls`.
//! - **Size caps and streaming**: [`ClientBuilder::max_body_bytes`], [`Response::chunks`],
//!   [`Response::lines`]. Example `09_size_cap` (needs `--features gzip`).
//! - **Observability**: [`events`] (hooks, `tracing`, `metrics`). Example `11_observability`.
//! - **WebSockets**: [`ws`] — heartbeat, read deadline, bounded outbox, reconnect. Examples
//!   `12_ws_heartbeat` to `15_ws_reconnect`.
//! - **Structured concurrency**: [`scope`]. Example `16_scope`.
//!
//! # Features
//!
//! | feature | what it adds | dependencies it brings |
//! |---|---|---|
//! | `json` (default) | `RequestBuilder::json`, `Response::json`, `ndjson` | `serde_json` |
//! | `gzip`, `deflate`, `brotli`, `zstd` | decoding of those `Content-Encoding`s (and asking for them) | `compression-codecs` with `flate2`, `brotli` or `zstd` (a C library, built by `cc`) |
//! | `cookies` | a cookie store: `ClientBuilder::cookie_store`, `tenax::cookie` | `cookie_store`, `cookie`, `url`, `time` |
//! | `blocking` | `tenax::blocking::Client`, the same API for synchronous code | none |
//! | `tower` | `tower::Service` for [`Client`] | `tower-service` |
//! | `tracing` | a span per request and attempt with OpenTelemetry's attribute names | `tracing` |
//! | `metrics` | request and connection metrics through the `metrics` facade | `metrics` |
//! | `hickory-dns` | `dns::HickoryResolver`: records' own TTLs | `hickory-resolver` (~25 crates) |
//! | `native-roots` | trust the system's certificate store | `rustls-native-certs` |
//!
//! Without any feature Tenax needs tokio, hyper (client, HTTP/1 and HTTP/2), rustls with
//! ring, webpki-roots, flate2 (with zlib-rs, for WebSocket compression) and serde. Tested
//! with Rust 1.95, the declared `rust-version`.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

mod batch;
#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
mod body;
pub mod breaker;
mod client;
mod connect;
#[cfg(feature = "cookies")]
#[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
pub mod cookie;
pub mod deadline;
mod decode;
mod download;
mod error;
pub mod events;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
mod h1_head;
pub mod hedge;
mod host_map;
pub mod multipart;
mod origin;
pub mod pool;
mod progress;
mod proxy;
mod rate_limit;
pub mod redirect;
mod request;
mod response;
pub mod retry;
pub mod scope;
mod sync;
mod timeouts;
mod timings;
#[cfg(feature = "tower")]
mod tower;
mod url;
mod window;
pub mod ws;

/// Name resolution: the [`Resolve`](dns::Resolve) trait to plug in another resolver, and what
/// the client's DNS cache did.
pub mod dns {
    #[cfg(feature = "hickory-dns")]
    #[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
    pub use crate::connect::HickoryResolver;
    pub use crate::connect::{DnsStats as Stats, Resolve, Resolving, ResolvingWithTtl};
}

/// TLS: trust ([`Certificate`](tls::Certificate)), client identity, versions and pins.
pub mod tls {
    pub use crate::connect::tls::{
        Certificate, Identity, TlsVersion as Version, pin_of_certificate,
    };
}

pub use batch::{Adaptive, Batch, Concurrency, SendFn, Sending, Sends};
pub use body::Body;
pub use client::{Client, ClientBuilder};
pub use download::{Download, DownloadBuilder, Progress};
pub use error::{Error, Result};
pub use hedge::Hedge;
pub use proxy::Proxy;
pub use rate_limit::RateLimit;
pub use request::{IntoUrl, Request, RequestBuilder};
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use response::NdJson;
pub use response::{Chunks, DEFAULT_MAX_BUFFERED, DEFAULT_MAX_LINE, Lines, Response};
pub use timeouts::{TimeoutPhase, Timeouts};
pub use timings::Timings;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tower::ServiceFuture;
pub use url::redact as redact_url;

pub use http::{HeaderMap, Method, StatusCode, Version, header};

/// Sends one GET to `url` and returns the response head. **Builds a client per call** (a
/// new pool, DNS cache and TLS configuration each time): for more than one request, make a
/// [`Client`] and reuse it.
///
/// ```no_run
/// # async fn demo() -> tenax::Result<()> {
/// let body = tenax::get("http://127.0.0.1:8080/status").await?.text().await?;
/// # let _ = body; Ok(()) }
/// ```
pub async fn get(url: impl IntoUrl) -> Result<Response> {
    Client::new().get(url).send().await
}

/// The version of this crate.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
