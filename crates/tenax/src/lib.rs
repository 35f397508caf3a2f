//! Tenax: resilient async HTTP and WebSocket clients for Rust.
//!
//! Every pattern of a careful Python networking cookbook — phase timeouts, one reused client
//! with explicit close, pool limits and HTTP/2, an operation deadline, retries with backoff and
//! jitter, bounded batches, streaming downloads, size caps, DNS cache, proxies, custom TLS,
//! observability hooks, and WebSockets with heartbeat, read deadline, bounded outbox and
//! reconnect — is meant to be a default of this one library, correct under faults.
//!
//! This release lays the workspace: the library's API lands capability by capability, each
//! proven against the fault-injecting server [`tenax-chaos`](https://docs.rs/tenax-chaos).
#![deny(missing_docs)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]

/// The version of this crate, as cargo knows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
