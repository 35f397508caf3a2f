//! The retry budget of one host: retries may be at most `ratio` of the requests seen in the
//! window, plus `min_per_sec` per second of it (Finagle's RetryBudget).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::RetryBudget;
use crate::origin::{Origin, PassHasher};
use crate::sync::lock;

const BUCKETS: usize = 10;

/// Requests and retries over a sliding window of ten buckets.
#[derive(Debug)]
pub(crate) struct Budget {
    epoch: Instant,
    /// Index (in bucket units since `epoch`) of the newest bucket.
    head: u64,
    /// The width of one bucket, in microseconds: a tenth of the budget's window.
    width_us: u64,
    requests: [u32; BUCKETS],
    retries: [u32; BUCKETS],
}

impl Budget {
    pub(crate) fn new(now: Instant, cfg: &RetryBudget) -> Budget {
        let width = (cfg.window / BUCKETS as u32).max(Duration::from_millis(1));
        Budget {
            epoch: now,
            head: 0,
            width_us: width.as_micros() as u64,
            requests: [0; BUCKETS],
            retries: [0; BUCKETS],
        }
    }

    fn advance(&mut self, now: Instant) {
        let idx = self.bucket(now);
        let steps = idx.saturating_sub(self.head).min(BUCKETS as u64);
        for s in 1..=steps {
            let b = ((self.head + s) % BUCKETS as u64) as usize;
            self.requests[b] = 0;
            self.retries[b] = 0;
        }
        self.head = self.head.max(idx);
    }

    /// The bucket `now` falls in, counted from `epoch`.
    fn bucket(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch);
        // In microseconds: u64 arithmetic, no 128-bit division on the request path.
        since.as_micros() as u64 / self.width_us
    }

    /// Counts a first attempt.
    pub(crate) fn deposit(&mut self, now: Instant) {
        self.advance(now);
        let b = (self.head % BUCKETS as u64) as usize;
        self.requests[b] = self.requests[b].saturating_add(1);
    }

    /// Takes a retry from the budget if there is one left.
    pub(crate) fn withdraw(&mut self, now: Instant, cfg: &RetryBudget) -> bool {
        self.advance(now);
        let requests: u64 = self.requests.iter().map(|&r| u64::from(r)).sum();
        let retries: u64 = self.retries.iter().map(|&r| u64::from(r)).sum();
        let allowed = requests as f64 * cfg.ratio + cfg.min_per_sec * cfg.window.as_secs_f64();
        if (retries as f64) < allowed {
            let b = (self.head % BUCKETS as u64) as usize;
            self.retries[b] = self.retries[b].saturating_add(1);
            true
        } else {
            false
        }
    }

    /// Whether anything happened within the window (the budget is worth keeping).
    pub(crate) fn active(&self, now: Instant) -> bool {
        self.bucket(now) < self.head + BUCKETS as u64
    }
}

/// The budgets of the hosts a client sends to, by origin, kept by the retry stage (the pool
/// knows nothing of retries). Budgets idle for a whole window are dropped when the map has
/// grown to twice what it held after the last sweep (at least 1,024 entries): a batch over a
/// million hosts keeps the ones of its last window.
pub(crate) struct Budgets {
    state: Mutex<BudgetMap>,
}

struct BudgetMap {
    hosts: HashMap<Origin, Budget, BuildHasherDefault<PassHasher>>,
    sweep_at: usize,
}

const FIRST_SWEEP: usize = 1024;

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            state: Mutex::new(BudgetMap {
                hosts: HashMap::default(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }
}

impl Budgets {
    /// Counts a first attempt to `origin`.
    pub(crate) fn deposit(&self, origin: &Origin, cfg: &RetryBudget) {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if let Some(b) = st.hosts.get_mut(origin) {
            b.deposit(now);
            return;
        }
        if st.hosts.len() >= st.sweep_at {
            st.hosts.retain(|_, b| b.active(now));
            st.sweep_at = (st.hosts.len() * 2).max(FIRST_SWEEP);
        }
        let mut b = Budget::new(now, cfg);
        b.deposit(now);
        st.hosts.insert(origin.clone(), b);
    }

    /// Takes a retry from `origin`'s budget; false when it is spent.
    pub(crate) fn withdraw(&self, origin: &Origin, cfg: &RetryBudget) -> bool {
        let now = Instant::now();
        let mut st = lock(&self.state);
        st.hosts
            .entry(origin.clone())
            .or_insert_with(|| Budget::new(now, cfg))
            .withdraw(now, cfg)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.state).hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for i in 0..FIRST_SWEEP {
            budgets.deposit(&origin(i), &cfg);
        }
        std::thread::sleep(Duration::from_millis(25));
        budgets.deposit(&origin(FIRST_SWEEP), &cfg);
        assert_eq!(budgets.len(), 1, "the idle ones went");
        assert!(budgets.withdraw(&origin(FIRST_SWEEP), &cfg));
    }
}
