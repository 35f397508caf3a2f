//! Running a future under a phase timeout.

use std::future::Future;
use std::time::Duration;

use crate::TimeoutPhase;
use crate::error::Error;

/// Runs `fut` within `limit` (no limit when `None`); running out gives a timeout error of
/// `phase`, saying `what` was happening.
pub(crate) async fn with_timeout<T>(
    limit: Option<Duration>,
    phase: TimeoutPhase,
    what: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        None => fut.await,
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(res) => res,
            Err(_) => Err(Error::timeout(phase, limit, what)),
        },
    }
}
