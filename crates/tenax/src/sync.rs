//! The one rule for locks: a lock poisoned by a panic elsewhere is taken over, not propagated.
//! Every critical section in this crate leaves its data consistent at each statement that can
//! panic (it updates counts and queues whole), so the data behind a poisoned lock are sound;
//! failing every later request of a long-lived client instead would turn one bug into an
//! outage.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering it if a panic poisoned it.
pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Poisons `m`: a thread panics while holding it (for the tests of this rule).
#[cfg(test)]
pub(crate) fn poison<T: Send>(m: &Mutex<T>) {
    std::thread::scope(|s| {
        let _ = s
            .spawn(|| {
                let _held = m.lock();
                panic!("poisoning the lock on purpose");
            })
            .join();
    });
    assert!(m.is_poisoned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_taken_over() {
        let m = Mutex::new(1);
        poison(&m);
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 2);
    }
}
