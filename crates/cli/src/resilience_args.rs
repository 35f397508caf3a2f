//! Options beyond retries, shared by `get`, `download` and `batch`: circuit breaker, hedging,
//! rate limit.

use std::time::Duration;

/// When to hedge: after a fixed wait, or past a quantile of the host's latency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgeAfter {
    Wait(Duration),
    Quantile(f64),
}

/// `--hedge-after`: seconds (`0.05`) or a percentile (`p95`, `p99.9`).
pub fn hedge_after(s: &str) -> Result<HedgeAfter, String> {
    let t = s.trim();
    if let Some(p) = t.strip_prefix(['p', 'P']) {
        let p: f64 = p
            .parse()
            .map_err(|_| format!("{s:?} is not a percentile (write p95 or p99.9)"))?;
        if !(0.0..=100.0).contains(&p) {
            return Err(format!("{s:?}: a percentile is between p0 and p100"));
        }
        return Ok(HedgeAfter::Quantile(p / 100.0));
    }
    match crate::args::duration(t)? {
        Some(d) => Ok(HedgeAfter::Wait(d)),
        None => Err(format!("{s:?}: a hedge needs a wait above 0")),
    }
}

/// `--rate`: requests per second, `N/s`, `N/m` (per minute) or a bare `N` (per second).
pub fn rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, unit)) => (n, unit.trim()),
        None => (t, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a rate (write 10/s or 600/m)"))?;
    let per_second = match per {
        "s" | "sec" | "second" => n,
        "m" | "min" | "minute" => n / 60.0,
        "h" | "hour" => n / 3600.0,
        _ => return Err(format!("{s:?} has an unknown unit (use /s, /m or /h)")),
    };
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(format!("{s:?}: a rate must be above 0"));
    }
    Ok(per_second)
}

/// The options.
#[derive(clap::Args, Debug)]
pub struct ResilienceArgs {
    /// A circuit breaker per host: after 10 failures in a row, or half of 20+ attempts in
    /// 10 s, requests to that host fail at once for 5 s (exit 7, error kind "circuit_open"),
    /// then one probe decides
    #[arg(long)]
    breaker: bool,
    /// Hedge idempotent requests: with no response head after S seconds (or past the host's
    /// observed percentile, e.g. p95), send another attempt; the first head wins
    #[arg(long, value_name = "S|pNN", value_parser = hedge_after)]
    hedge_after: Option<HedgeAfter>,
    /// With --hedge-after: the most hedges per attempt [default: 1]
    #[arg(long, value_name = "N", requires = "hedge_after")]
    hedges: Option<u32>,
    /// At most N requests a second to each host (N/s, N/m); waits for its turn within -m
    #[arg(long, value_name = "N/s", value_parser = rate)]
    rate: Option<f64>,
}

impl ResilienceArgs {
    /// Applies these options to a client's configuration.
    pub fn apply(&self, mut b: tenax::ClientBuilder) -> tenax::ClientBuilder {
        if self.breaker {
            b = b.circuit_breaker(tenax::breaker::Policy::default());
        }
        if let Some(h) = self.hedge() {
            b = b.hedge(h);
        }
        if let Some(r) = self.rate {
            // A burst of one: evenly spaced, as the flag reads.
            b = b.rate_limit(tenax::RateLimit::per_host(r, 1));
        }
        b
    }

    /// The hedging asked for.
    pub fn hedge(&self) -> Option<tenax::Hedge> {
        let h = match self.hedge_after? {
            HedgeAfter::Wait(d) => tenax::Hedge::after(d),
            // Until the host has shown 20 answers, a quarter of a second.
            HedgeAfter::Quantile(q) => {
                tenax::Hedge::quantile(q).initial_delay(Duration::from_millis(250))
            }
        };
        Some(h.max_hedges(self.hedges.unwrap_or(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hedge_waits_and_percentiles_parse() {
        assert_eq!(
            hedge_after("0.05"),
            Ok(HedgeAfter::Wait(Duration::from_millis(50)))
        );
        assert_eq!(hedge_after("p95"), Ok(HedgeAfter::Quantile(0.95)));
        assert!(hedge_after("p101").is_err());
        assert!(hedge_after("0").is_err());
        assert!(hedge_after("soon").is_err());
    }

    #[test]
    fn rates_parse_per_second_and_per_minute() {
        assert_eq!(rate("10/s"), Ok(10.0));
        assert_eq!(rate("600/m"), Ok(10.0));
        assert_eq!(rate("5"), Ok(5.0));
        assert!(rate("0/s").is_err());
        assert!(rate("-1").is_err());
        assert!(rate("10/day").is_err());
        assert!(rate("inf").is_err());
    }
}
