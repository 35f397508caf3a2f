//! Admission of an attempt, in the retry stage: past its host's circuit breaker, then its
//! rate limit. Both are off by default, and then this stage costs one branch.

use std::time::Instant;

use super::Client;
use super::wire::Answer;
use crate::breaker::{Admission, Change, Ticket};
use crate::error::Error;
use crate::events::{EventKind, RequestId};
use crate::origin::Origin;
use crate::{Result, TimeoutPhase};

impl Client {
    /// Whether admission has anything to do (a breaker or a rate limit is set).
    pub(super) fn admits(&self) -> bool {
        self.inner.breakers.is_some() || self.inner.rate_limits.is_some()
    }

    /// Lets an attempt to `origin` go: refused at once while its circuit is open; waits for a
    /// token of its rate limit, failing at once if the token would come after `deadline`.
    /// The ticket reports the attempt's outcome to the breaker.
    pub(super) async fn admit<'a>(
        &'a self,
        origin: &'a Origin,
        deadline: Option<(Instant, Instant)>,
        id: RequestId,
    ) -> Result<Option<Ticket<'a>>> {
        let ticket = match &self.inner.breakers {
            None => None,
            Some(b) => {
                let (admission, change) = b.admit(origin);
                self.circuit_changed(origin, change, id);
                match admission {
                    Admission::Pass(t) => Some(t),
                    Admission::Refused { probe_in } => {
                        if let Some(obs) = self.observer(id) {
                            let host = origin.host_port();
                            obs.emit(id, EventKind::CircuitRejected { host, probe_in });
                        }
                        return Err(Error::circuit_open(origin.host_port(), probe_in));
                    }
                }
            }
        };
        if let Some(limits) = &self.inner.rate_limits {
            match limits.reserve(origin, deadline.map(|(_, d)| d)) {
                Ok(wait) if wait.is_zero() => {}
                Ok(wait) => {
                    if let Some(obs) = self.observer(id) {
                        let host = origin.host_port();
                        obs.emit(id, EventKind::RateLimited { host, waited: wait });
                    }
                    tokio::time::sleep(wait).await;
                }
                Err(_) => {
                    let (started, d) = deadline.expect("refused only before a deadline");
                    return Err(Error::timeout(
                        TimeoutPhase::Deadline,
                        d.saturating_duration_since(started),
                        "waiting for the rate limit",
                    ));
                }
            }
        }
        Ok(ticket)
    }

    /// Tells the breaker and the rate limit how an attempt ended.
    pub(super) fn admitted(
        &self,
        origin: &Origin,
        ticket: Option<Ticket<'_>>,
        res: &Result<Answer>,
        id: RequestId,
    ) {
        let (status, err) = super::retries::outcome(res);
        if let (Some(t), Some(b)) = (ticket, &self.inner.breakers) {
            let change = t.record(b.policy.judge(status, err));
            self.circuit_changed(origin, change, id);
        }
        if let (Some(limits), Ok(a)) = (&self.inner.rate_limits, res)
            && a.status() == http::StatusCode::TOO_MANY_REQUESTS
            && let Some(wait) = super::retries::retry_after(a.headers())
        {
            limits.slow_down(origin, wait);
        }
    }

    fn circuit_changed(&self, origin: &Origin, change: Option<Change>, id: RequestId) {
        let (Some(c), Some(obs)) = (change, self.observer(id)) else {
            return;
        };
        obs.emit(
            id,
            EventKind::CircuitChanged {
                host: origin.host_port(),
                state: c.state,
                attempts: c.counted.0,
                failures: c.counted.1,
            },
        );
    }
}
