//! The hedged attempt: the attempt, and after each delay without a response head another on a
//! new connection, the first head winning. The retry stage sees it as one attempt.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use http::header::HeaderMap;
use http::{Method, Uri};

use super::Client;
use super::wire::{Answer, When};
use crate::body::Body;
use crate::events::EventKind;
use crate::hedge::{Hedge, Hedges, Latencies};
use crate::origin::Origin;
use crate::retry::RetryBudget;
use crate::{Result, breaker::CircuitState};

/// One attempt of the race: its number (0 for the first), and its outcome.
type Racer<'a> = Pin<Box<dyn Future<Output = (u32, Result<Answer>)> + Send + 'a>>;

/// What a hedged attempt needs besides the request.
pub(super) struct Race<'a> {
    pub(super) hedge: Hedge,
    pub(super) budget: Option<&'a RetryBudget>,
    pub(super) attempt_no: u32,
    /// Where the race says how many hedges went and whether one won.
    pub(super) out: &'a mut Hedges,
}

impl Client {
    /// Runs the attempt with hedges; the first response head wins, the other attempts are
    /// cancelled (their connections close). When every attempt running has failed, the last
    /// failure is the outcome.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn hedged(
        &self,
        method: &Method,
        uri: &Uri,
        origin: &Origin,
        headers: HeaderMap,
        body: Body,
        when: When,
        race: Race<'_>,
    ) -> Result<Answer> {
        let Race {
            hedge,
            budget,
            attempt_no,
            out,
        } = race;
        let Some(spare) = body.try_clone() else {
            // A body that cannot be sent twice is not hedged.
            return self.attempt(method, uri, origin, headers, body, when).await;
        };
        let delay = (self.inner.latencies)
            .get(origin, |l| hedge.delay(Some(l)))
            .unwrap_or_else(|| hedge.delay(None));
        let spare_headers = headers.clone();
        let racer = |n: u32, headers: HeaderMap, body: Body| -> Racer<'_> {
            // A hedge's pool timeout counts from its own start.
            let when = When {
                attempt_start: if n == 0 {
                    when.attempt_start
                } else {
                    Instant::now()
                },
                ..when
            };
            Box::pin(async move {
                let res = self.attempt(method, uri, origin, headers, body, when).await;
                (n, res)
            })
        };
        let started = Instant::now();
        let mut running = FuturesUnordered::new();
        running.push(racer(0, headers, body));
        let mut sent = 0;
        let mut next = Some(started + delay);
        loop {
            let due = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                Some((n, res)) = running.next() => {
                    if res.is_err() && !running.is_empty() {
                        // Another attempt may still answer.
                        continue;
                    }
                    if hedge.learns() && res.is_ok() {
                        // The first attempt's head latency; when a hedge won, the first had
                        // waited at least this long (so the slow tail is still seen).
                        self.learn(origin, started.elapsed());
                    }
                    out.sent += sent;
                    out.won = res.is_ok() && n != 0;
                    return res;
                }
                () = due => {
                    let Some(body) = spare.try_clone().filter(|_| sent < hedge.max_hedges)
                        .filter(|_| self.may_hedge(origin, budget)) else {
                        next = None;
                        continue;
                    };
                    sent += 1;
                    running.push(racer(sent, spare_headers.clone(), body));
                    let now = Instant::now();
                    if let Some(obs) = self.observer(when.id) {
                        let after = now - started;
                        obs.emit(when.id, EventKind::HedgeSent { attempt: attempt_no, hedge: sent, after });
                    }
                    next = (sent < hedge.max_hedges).then(|| now + delay);
                }
            }
        }
    }

    /// Whether a hedge may go to `origin`: its circuit is closed, its retry budget and its
    /// rate limit each have one to give.
    fn may_hedge(&self, origin: &Origin, budget: Option<&RetryBudget>) -> bool {
        let inner = &*self.inner;
        let closed = inner
            .breakers
            .as_ref()
            .is_none_or(|b| b.state(origin) == CircuitState::Closed);
        closed
            && budget.is_none_or(|b| inner.budgets.withdraw(origin, b))
            && inner
                .rate_limits
                .as_ref()
                .is_none_or(|r| r.try_take(origin))
    }

    /// Records a head latency of `origin`'s.
    fn learn(&self, origin: &Origin, d: std::time::Duration) {
        let now = Instant::now();
        self.inner
            .latencies
            .with(origin, now, || Latencies::new(now), |l| l.record(d, now));
    }
}
