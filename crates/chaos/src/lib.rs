//! `tenax-chaos`: a real HTTP/1.1, HTTP/2, TLS and WebSocket server on loopback whose routes
//! inject faults on request — delays, stalls, drip-feeding, resets, truncations, flaky
//! endpoints, `Retry-After`, ranges, gzip bombs, redirects, WebSocket drops — plus a
//! [`Blackhole`] address for connect timeouts and a [`RawServer`] for malformed responses (HTTP/1.1
//! bytes, or HTTP/2 frames made with [`h2`]).
//!
//! It is what Tenax's own tests, benchmarks and `tenax demo` run against, and it is meant for
//! your test suites too. The routes are documented in the crate's README.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tenax_chaos::Error> {
//! use tenax_chaos::ChaosServer;
//!
//! let server = ChaosServer::builder().start().await?;
//! // The first two calls answer 503 with Retry-After: 1, the third 200.
//! let url = server.url("/flaky/login?fail=2&status=503&retry_after=1");
//! # let _ = url;
//! assert_eq!(server.flaky_calls("login").len(), 0);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

mod blackhole;
mod body;
mod conn;
mod echo;
mod error;
pub mod h2;
mod load;
mod multipart;
mod outage;
mod proxy;
mod query;
mod raw;
mod routes;
mod server;
mod stats;
mod tls;
mod ws;
mod ws_deflate;

pub use blackhole::Blackhole;
pub use body::{pattern, pattern_byte};
pub use error::Error;
pub use proxy::ProxyServer;
pub use raw::{RawServer, RawStep};
pub use server::{Builder, ChaosServer};
pub use stats::FlakyCall;
pub use tls::{TestCertificates, TlsVersions};
