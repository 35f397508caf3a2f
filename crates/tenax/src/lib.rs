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
#![deny(missing_docs)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

mod batch;
#[cfg(feature = "blocking")]
pub mod blocking;
mod body;
mod client;
mod connect;
#[cfg(feature = "cookies")]
pub mod cookie;
pub mod deadline;
mod decode;
mod download;
mod error;
pub mod events;
mod h1_head;
pub mod multipart;
mod origin;
pub mod pool;
mod progress;
mod proxy;
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
pub mod ws;

/// Name resolution: the [`Resolve`](dns::Resolve) trait to plug in another resolver, and what
/// the client's DNS cache did.
pub mod dns {
    #[cfg(feature = "hickory-dns")]
    pub use crate::connect::HickoryResolver;
    pub use crate::connect::{DnsStats as Stats, Resolve, Resolving, ResolvingWithTtl};
}

/// TLS: trust ([`Certificate`](tls::Certificate)), client identity, versions and pins.
pub mod tls {
    pub use crate::connect::tls::{
        Certificate, Identity, TlsVersion as Version, pin_of_certificate,
    };
}

pub use batch::{Batch, SendFn, Sending, Sends};
pub use body::Body;
pub use client::{Client, ClientBuilder};
pub use download::{Download, DownloadBuilder, Progress};
pub use error::{Error, Result};
pub use proxy::Proxy;
pub use request::{IntoUrl, Request, RequestBuilder};
#[cfg(feature = "json")]
pub use response::NdJson;
pub use response::{Chunks, DEFAULT_MAX_BUFFERED, DEFAULT_MAX_LINE, Lines, Response};
pub use timeouts::{TimeoutPhase, Timeouts};
pub use timings::Timings;
#[cfg(feature = "tower")]
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
