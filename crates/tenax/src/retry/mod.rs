//! Retries: the policy, full-jitter backoff, the per-host budget, `Retry-After`, and which
//! outcomes are worth another attempt.

mod backoff;
mod budget;
mod policy;
mod retry_after;

pub(crate) use backoff::full_jitter;
pub(crate) use budget::Budgets;
pub use policy::{RetryBudget, RetryPolicy};
pub(crate) use policy::{Verdict, WriteStall, is_idempotent, is_transient};
pub(crate) use retry_after::parse_retry_after;

/// One retry that a request made: which attempt failed, why, and how long it waited.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// Why it was retried, e.g. `status 503` or `connect timeout`.
    pub reason: String,
    /// How long the client waited before the next attempt.
    pub delay: std::time::Duration,
}
