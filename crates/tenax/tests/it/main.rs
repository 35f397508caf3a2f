//! Tenax's integration tests, in one binary (one link, one process): a module per feature,
//! each against tenax-chaos or real peers on loopback. Tests that measure the whole process
//! (`process.rs`), own a global (`metrics.rs`), need optional features (`dns_hickory.rs`,
//! `interop.rs`) or run long (`soak.rs`) have binaries of their own.

mod support;

mod adaptive;
mod batch;
mod blocking;
mod bodies;
mod breaker;
mod connect;
mod download;
mod everyday;
mod h2_faults;
mod hedging;
mod http_core;
mod observe;
mod proxy;
mod rate_limit;
mod redirects;
mod resilience;
mod scope;
mod security;
mod tls_h2;
mod tower_layers;
mod websocket;
mod ws_compression;
