//! The guarded attempt, for a request with a circuit breaker, a rate limit or hedging (all
//! off by default): admission, then the attempt (with its hedges) within the operation
//! deadline, then its outcome told to the breaker and the rate limit. The retry stage boxes
//! it, so that the common request's future does not carry it.

use std::time::Instant;

use http::HeaderMap;

use super::Client;
use super::hedging::Race;
use super::retries::Request;
use super::wire::{Answer, When};
use crate::Result;
use crate::body::Body;
use crate::error::Error;
use crate::hedge::{Hedge, Hedges};
use crate::retry::RetryBudget;

/// What the guarded attempt needs besides the request.
pub(super) struct Guard<'a> {
    pub(super) hedge: Option<Hedge>,
    pub(super) budget: Option<&'a RetryBudget>,
    pub(super) attempt_no: u32,
    /// Where hedges sent and won are added up.
    pub(super) hedges: &'a mut Hedges,
}

impl Client {
    /// The attempt's outcome; `Err` when it was refused before it started (the circuit is
    /// open, or the rate limit's token would come after the deadline).
    pub(super) async fn guarded(
        &self,
        req: &Request<'_>,
        headers: HeaderMap,
        body: Body,
        mut when: When,
        guard: Guard<'_>,
    ) -> Result<Result<Answer>, Error> {
        let deadline = req.deadline.map(|d| (req.started, d));
        let ticket = match self.admit(&req.origin, deadline, when.id).await {
            Ok(t) => t,
            Err(e) => return Err(e),
        };
        // A wait for the rate limit is not the pool's: its timeout counts from now.
        when.attempt_start = when.attempt_start.max(Instant::now());
        let (method, uri, origin) = (req.method, &*req.uri, &req.origin);
        let attempt = async {
            match guard.hedge {
                Some(hedge) => {
                    let race = Race {
                        hedge,
                        budget: guard.budget,
                        attempt_no: guard.attempt_no,
                        out: guard.hedges,
                    };
                    self.hedged(method, uri, origin, headers, body, when, race)
                        .await
                }
                None => self.attempt(method, uri, origin, headers, body, when).await,
            }
        };
        #[cfg(feature = "tracing")]
        let attempt = crate::events::trace::attempt(guard.attempt_no, when.id.is_some(), attempt);
        let res = match req.deadline {
            Some(d) => tokio::time::timeout_at(d.into(), attempt)
                .await
                .unwrap_or_else(|_| Err(req.deadline_error())),
            None => attempt.await,
        };
        self.admitted(origin, ticket, &res, when.id);
        Ok(res)
    }
}
