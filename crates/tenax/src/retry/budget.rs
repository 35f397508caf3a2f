//! The retry budget of one host: retries may be at most `ratio` of the requests seen in the
//! window, plus `min_per_sec` per second of it (Finagle's RetryBudget).

use std::time::Instant;

use super::RetryBudget;
use crate::host_map::{HostMap, HostState};
use crate::origin::Origin;
use crate::window::Window;

/// Requests and retries over a sliding window.
#[derive(Debug)]
pub(crate) struct Budget {
    /// First attempts (`a`) and retries (`b`).
    counts: Window,
}

impl Budget {
    pub(crate) fn new(now: Instant, cfg: &RetryBudget) -> Budget {
        Budget {
            counts: Window::new(now, cfg.window),
        }
    }

    /// Counts a first attempt.
    pub(crate) fn deposit(&mut self, now: Instant) {
        self.counts.add(now, 1, 0);
    }

    /// Takes a retry from the budget if there is one left.
    pub(crate) fn withdraw(&mut self, now: Instant, cfg: &RetryBudget) -> bool {
        let (requests, retries) = self.counts.sums(now);
        let allowed = requests as f64 * cfg.ratio + cfg.min_per_sec * cfg.window.as_secs_f64();
        if (retries as f64) < allowed {
            self.counts.add(now, 0, 1);
            true
        } else {
            false
        }
    }

    /// Whether anything happened within the window (the budget is worth keeping).
    pub(crate) fn active(&self, now: Instant) -> bool {
        self.counts.active(now)
    }
}

/// The budgets of the hosts a client sends to, by origin, kept by the retry stage (the pool
/// knows nothing of retries).
#[derive(Default)]
pub(crate) struct Budgets {
    hosts: HostMap<Budget>,
}

impl HostState for Budget {
    fn idle(&self, now: Instant) -> bool {
        !self.active(now)
    }
}

impl Budgets {
    /// Counts a first attempt to `origin`.
    pub(crate) fn deposit(&self, origin: &Origin, cfg: &RetryBudget) {
        let now = Instant::now();
        self.hosts
            .with(origin, now, || Budget::new(now, cfg), |b| b.deposit(now));
    }

    /// Takes a retry from `origin`'s budget; false when it is spent.
    pub(crate) fn withdraw(&self, origin: &Origin, cfg: &RetryBudget) -> bool {
        let now = Instant::now();
        self.hosts.with(
            origin,
            now,
            || Budget::new(now, cfg),
            |b| b.withdraw(now, cfg),
        )
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_are_capped_at_the_ratio_plus_the_floor() {
        let cfg = RetryBudget {
            ratio: 0.2,
            min_per_sec: 1.0,
            window: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut b = Budget::new(t0, &cfg);
        for _ in 0..100 {
            b.deposit(t0);
        }
        // 20 % of 100 plus 1/s over 10 s: 30 retries, then none.
        let granted = (0..100).filter(|_| b.withdraw(t0, &cfg)).count();
        assert_eq!(granted, 30);
        // Once the window has passed, the old requests and retries are forgotten.
        let later = t0 + Duration::from_secs(11);
        let granted = (0..100).filter(|_| b.withdraw(later, &cfg)).count();
        assert_eq!(granted, 10);
        assert!(b.active(later));
        assert!(!b.active(later + Duration::from_secs(11)));
    }

    #[test]
    fn idle_budgets_are_swept_as_hosts_come_and_go() {
        let cfg = RetryBudget {
            window: Duration::from_millis(10),
            ..RetryBudget::default()
        };
        let budgets = Budgets::default();
        let origin = |i: usize| Origin::of(&format!("http://h{i}.test/").parse().unwrap()).unwrap();
        for i in 0..1024 {
            budgets.deposit(&origin(i), &cfg);
        }
        std::thread::sleep(Duration::from_millis(25));
        budgets.deposit(&origin(1024), &cfg);
        assert_eq!(budgets.len(), 1, "the idle ones went");
        assert!(budgets.withdraw(&origin(1024), &cfg));
    }
}
