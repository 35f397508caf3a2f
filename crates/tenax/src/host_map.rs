//! The one per-host table of the request path's policies (retry budgets, circuit breakers,
//! rate limits, latency windows): state by origin behind one lock, with idle entries swept when
//! the table has doubled since the last sweep (at least 1,024 entries), so a batch over a
//! million hosts keeps only the recent ones.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Mutex;
use std::time::Instant;

use crate::origin::{Origin, PassHasher};
use crate::sync::lock;

/// State kept per host that can say when it is no longer worth keeping.
pub(crate) trait HostState {
    /// Whether nothing of note happened recently: the entry may be dropped.
    fn idle(&self, now: Instant) -> bool;
}

const FIRST_SWEEP: usize = 1024;

/// Per-host state `V`, made on first use.
pub(crate) struct HostMap<V> {
    state: Mutex<Table<V>>,
}

struct Table<V> {
    hosts: HashMap<Origin, V, BuildHasherDefault<PassHasher>>,
    sweep_at: usize,
}

impl<V> Default for HostMap<V> {
    fn default() -> Self {
        HostMap {
            state: Mutex::new(Table {
                hosts: HashMap::default(),
                sweep_at: FIRST_SWEEP,
            }),
        }
    }
}

impl<V: HostState> HostMap<V> {
    /// Runs `f` on `origin`'s state, made by `make` if it has none. (Inlined: the retry
    /// budget calls it on every request.)
    #[inline]
    pub(crate) fn with<R>(
        &self,
        origin: &Origin,
        now: Instant,
        make: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> R,
    ) -> R {
        let mut t = lock(&self.state);
        if let Some(v) = t.hosts.get_mut(origin) {
            return f(v);
        }
        if t.hosts.len() >= t.sweep_at {
            t.hosts.retain(|_, v| !v.idle(now));
            t.sweep_at = (t.hosts.len() * 2).max(FIRST_SWEEP);
        }
        f(t.hosts.entry(origin.clone()).or_insert_with(make))
    }

    /// Runs `f` on `origin`'s state if it has one.
    pub(crate) fn get<R>(&self, origin: &Origin, f: impl FnOnce(&mut V) -> R) -> Option<R> {
        lock(&self.state).hosts.get_mut(origin).map(f)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).hosts.len()
    }
}
