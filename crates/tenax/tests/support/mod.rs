//! Helpers shared by the integration tests (each test file that uses them declares
//! `mod support;`).
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

/// Runs `f`, failing the test if it takes longer than 30 s: every test is bounded in time.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    bounded_for(Duration::from_secs(30), f).await
}

/// Runs `f`, failing the test if it takes longer than `limit`.
pub async fn bounded_for<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .expect("the test finished in time")
}
