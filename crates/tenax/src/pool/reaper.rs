//! The idle reaper: one task per pool, while anything is idle, that closes idle
//! connections when they expire; woken early for an earlier expiry and on close.

use std::sync::Arc;
use std::time::Instant;

use super::{Doomed, Pool, State, gauge_all, lock};

impl Pool {
    pub(super) fn want_reaper(&self, st: &mut State) -> bool {
        if st.reaper_running {
            return false;
        }
        st.reaper_running = true;
        true
    }

    pub(super) fn start_reaper(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            lock(&self.state).reaper_running = false;
            return;
        };
        let weak = Arc::downgrade(self);
        let (closing, reschedule) = (self.closing.clone(), self.reschedule.clone());
        rt.spawn(async move {
            loop {
                // Listening before looking at the pool: a close in between is not missed (an
                // earlier expiry leaves a permit in `reschedule`).
                let closed = closing.notified();
                tokio::pin!(closed);
                closed.as_mut().enable();
                let Some(pool) = weak.upgrade() else { return };
                let next = pool.reap();
                drop(pool);
                let Some(at) = next else { return };
                tokio::select! {
                    () = tokio::time::sleep_until(at.into()) => {}
                    () = reschedule.notified() => {}
                    () = closed => return,
                }
            }
        });
    }

    /// Closes expired idle connections (HTTP/1.1 idle ones, HTTP/2 ones without streams);
    /// returns when the next one expires, or `None` (and marks the reaper stopped) when
    /// nothing is idle.
    fn reap(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut doomed = Doomed::default();
        let next = {
            let mut st = lock(&self.state);
            let mut next: Option<Instant> = None;
            let mut note = |due: Instant| next = Some(next.map_or(due, |n: Instant| n.min(due)));
            for host in st.hosts.values_mut() {
                let mut i = 0;
                while i < host.idle.len() {
                    let idle = &host.idle[i];
                    let due = idle.due(self.limits.idle_timeout);
                    if due.is_some_and(|d| d <= now) || !idle.conn.is_open() {
                        doomed.conns.push(host.idle.remove(i).conn);
                    } else {
                        if let Some(d) = due {
                            note(d);
                        }
                        i += 1;
                    }
                }
                let mut i = 0;
                while i < host.h2_conns.len() {
                    let e = &host.h2_conns[i];
                    let due = e
                        .idle_since
                        .and_then(|s| self.limits.idle_timeout.map(|l| s + l));
                    if due.is_some_and(|d| d <= now) || e.conn.tx.is_closed() {
                        doomed.h2.push(host.h2_conns.swap_remove(i).conn);
                    } else {
                        if let Some(d) = due {
                            note(d);
                        }
                        i += 1;
                    }
                }
            }
            if next.is_none() {
                st.reaper_running = false;
            }
            st.reaper_next = next;
            gauge_all(&st);
            next
        };
        drop(doomed);
        next
    }
}
