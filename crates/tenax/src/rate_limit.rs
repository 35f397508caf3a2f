//! Per-host rate limits: a token bucket per host (GCRA: one instant per host, no timer), that
//! requests wait on within their deadline, slowed by a `429 Too Many Requests` that says
//! `Retry-After`.

use std::time::{Duration, Instant};

use crate::host_map::{HostMap, HostState};
use crate::origin::Origin;

/// A rate limit for [`ClientBuilder::rate_limit`](crate::ClientBuilder::rate_limit): at most
/// `per_second` requests a second to a host, with bursts of up to `burst` at once.
///
/// Each attempt (retries included) takes a token of its host; when none is left it waits for
/// the next, in the order they asked, within its deadline (a wait that would pass the
/// deadline fails at once with a deadline error saying so). A `429` answer with a
/// `Retry-After` stops that host's tokens for the wait asked, then halves its rate for 10 s.
///
/// ```
/// // Ten requests a second to every host, at most five at once; two to the search API.
/// let client = tenax::Client::builder()
///     .rate_limit(tenax::RateLimit::per_host(10.0, 5))
///     .rate_limit(tenax::RateLimit::host("search.example.com", 2.0, 1))
///     .build()?;
/// # drop(client); Ok::<(), tenax::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// The host it applies to (`name` or `name:port`); `None`: every host, each its own
    /// bucket.
    pub host: Option<String>,
    /// Requests per second, on average.
    pub per_second: f64,
    /// Requests that may go at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// How long a host's rate stays halved after a `429` with `Retry-After`.
const SLOW_FOR: Duration = Duration::from_secs(10);

impl RateLimit {
    /// A limit for every host, each with its own bucket.
    pub fn per_host(per_second: f64, burst: u32) -> RateLimit {
        RateLimit {
            host: None,
            per_second,
            burst,
        }
    }

    /// A limit for one host: `name` (any port) or `name:port`; it wins over
    /// [`per_host`](Self::per_host).
    pub fn host(host: impl Into<String>, per_second: f64, burst: u32) -> RateLimit {
        RateLimit {
            host: Some(host.into().to_ascii_lowercase()),
            per_second,
            burst,
        }
    }

    fn matches(&self, origin: &Origin) -> bool {
        let Some(rule) = &self.host else {
            return true;
        };
        let (name, port) = split_port(rule);
        let bare = |h: &str| h.trim_start_matches('[').trim_end_matches(']').to_owned();
        bare(name).eq_ignore_ascii_case(&bare(origin.host()))
            && port.is_none_or(|p| p == origin.port())
    }

    /// Whether the rate is a positive, finite number.
    pub(crate) fn is_valid(&self) -> bool {
        self.per_second.is_finite() && self.per_second > 0.0
    }

    fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// `name:port` → (`name`, `Some(port)`); a bare IPv6 address has no port.
fn split_port(rule: &str) -> (&str, Option<u16>) {
    if let Some((name, port)) = rule.rsplit_once(':')
        && (!name.contains(':') || name.ends_with(']'))
        && let Ok(p) = port.parse()
    {
        return (name, Some(p));
    }
    (rule, None)
}

/// One host's bucket, as GCRA keeps it: the instant the next token is due.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// The theoretical arrival time: when the bucket will be empty of reservations.
    tat: Instant,
    interval: Duration,
    /// How far ahead of `tat` a request may go (a burst).
    tolerance: Duration,
    /// A 429 halved the rate until then.
    slow_until: Option<Instant>,
}

impl Bucket {
    fn new(now: Instant, limit: &RateLimit) -> Bucket {
        let interval = limit.interval();
        Bucket {
            tat: now,
            interval,
            tolerance: interval * limit.burst.max(1).saturating_sub(1),
            slow_until: None,
        }
    }

    /// Reserves the next token: how long to wait for it, or `Err(wait)` (nothing reserved)
    /// when it comes after `deadline`.
    fn reserve(&mut self, now: Instant, deadline: Option<Instant>) -> Result<Duration, Duration> {
        let tat = self.tat.max(now);
        let at = (tat.checked_sub(self.tolerance)).map_or(now, |t| t.max(now));
        let wait = at - now;
        if deadline.is_some_and(|d| at > d) {
            return Err(wait);
        }
        let slow = self.slow_until.is_some_and(|u| now < u);
        self.tat = tat
            + if slow {
                self.interval * 2
            } else {
                self.interval
            };
        Ok(wait)
    }

    /// Takes a token only if one is there now.
    fn try_take(&mut self, now: Instant) -> bool {
        self.reserve(now, Some(now)).is_ok()
    }

    /// The server said 429 with `Retry-After: wait`: nothing before then, half the rate after.
    fn slow_down(&mut self, now: Instant, wait: Duration) {
        let resume = now + wait;
        self.tat = self.tat.max(resume + self.tolerance);
        self.slow_until = Some(resume + SLOW_FOR);
    }
}

impl HostState for Bucket {
    fn idle(&self, now: Instant) -> bool {
        self.tat + self.tolerance < now && self.slow_until.is_none_or(|u| u < now)
    }
}

/// The client's rate limits and the buckets of the hosts they apply to.
pub(crate) struct RateLimits {
    limits: Vec<RateLimit>,
    buckets: HostMap<Bucket>,
}

impl RateLimits {
    pub(crate) fn new(limits: Vec<RateLimit>) -> Option<RateLimits> {
        (!limits.is_empty()).then(|| RateLimits {
            limits,
            buckets: HostMap::default(),
        })
    }

    /// The limit for `origin`: a host's own before the one for every host.
    fn limit(&self, origin: &Origin) -> Option<&RateLimit> {
        let own = self
            .limits
            .iter()
            .find(|l| l.host.is_some() && l.matches(origin));
        own.or_else(|| self.limits.iter().find(|l| l.host.is_none()))
    }

    /// Reserves a token for an attempt to `origin`: the wait, or `Err(wait)` when the token
    /// would come after `deadline`.
    pub(crate) fn reserve(
        &self,
        origin: &Origin,
        deadline: Option<Instant>,
    ) -> Result<Duration, Duration> {
        let Some(limit) = self.limit(origin) else {
            return Ok(Duration::ZERO);
        };
        let now = Instant::now();
        self.buckets.with(
            origin,
            now,
            || Bucket::new(now, limit),
            |b| b.reserve(now, deadline),
        )
    }

    /// Takes a token for `origin` only if there is one now (a hedge does not wait).
    pub(crate) fn try_take(&self, origin: &Origin) -> bool {
        let Some(limit) = self.limit(origin) else {
            return true;
        };
        let now = Instant::now();
        self.buckets
            .with(origin, now, || Bucket::new(now, limit), |b| b.try_take(now))
    }

    /// A `429` with `Retry-After: wait` from `origin`.
    pub(crate) fn slow_down(&self, origin: &Origin, wait: Duration) {
        if self.limit(origin).is_some() {
            let now = Instant::now();
            self.buckets.get(origin, |b| b.slow_down(now, wait));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(s: &str) -> Origin {
        Origin::of(&s.parse().unwrap()).unwrap()
    }

    #[test]
    fn a_burst_goes_at_once_then_tokens_come_at_the_rate() {
        let limit = RateLimit::per_host(10.0, 3);
        let t0 = Instant::now();
        let mut b = Bucket::new(t0, &limit);
        let waits: Vec<_> = (0..5).map(|_| b.reserve(t0, None).unwrap()).collect();
        let ms: Vec<u128> = waits.iter().map(|w| w.as_millis()).collect();
        assert_eq!(ms, [0, 0, 0, 100, 200]);
        // A deadline before the next token: refused, and nothing reserved.
        assert_eq!(
            b.reserve(t0, Some(t0 + Duration::from_millis(50))),
            Err(Duration::from_millis(300))
        );
        assert_eq!(b.reserve(t0, None), Ok(Duration::from_millis(300)));
        assert!(!b.try_take(t0));
        assert!(b.try_take(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn a_429_stops_the_tokens_for_its_wait_then_halves_the_rate() {
        let limit = RateLimit::per_host(10.0, 1);
        let t0 = Instant::now();
        let mut b = Bucket::new(t0, &limit);
        b.slow_down(t0, Duration::from_secs(2));
        assert_eq!(b.reserve(t0, None), Ok(Duration::from_secs(2)));
        assert_eq!(b.reserve(t0, None), Ok(Duration::from_millis(2200)));
    }

    #[test]
    fn a_host_rule_wins_over_the_rule_for_every_host() {
        let limits = RateLimits::new(vec![
            RateLimit::per_host(100.0, 1),
            RateLimit::host("API.test", 1.0, 1),
            RateLimit::host("other.test:8443", 5.0, 1),
            RateLimit::host("[::1]:9", 7.0, 1),
        ])
        .unwrap();
        assert_eq!(
            limits
                .limit(&origin("http://api.test:81/"))
                .unwrap()
                .per_second,
            1.0
        );
        assert_eq!(
            limits.limit(&origin("http://x.test/")).unwrap().per_second,
            100.0
        );
        assert_eq!(
            limits
                .limit(&origin("https://other.test:8443/"))
                .unwrap()
                .per_second,
            5.0
        );
        assert_eq!(
            limits
                .limit(&origin("https://other.test/"))
                .unwrap()
                .per_second,
            100.0
        );
        assert_eq!(
            limits.limit(&origin("http://[::1]:9/")).unwrap().per_second,
            7.0
        );
        assert_eq!(split_port("::1"), ("::1", None));
    }
}
