//! Measurement helpers shared by Tenax's side-by-side benchmarks.
//!
//! On a shared 2-core machine the figure that matters is CPU time per unit of work, so every
//! bench reads per-thread CPU time from `/proc` (nanosecond `schedstat`), runs its peers and
//! Tenax against the same server in one process, and prints ratios.

use std::time::Duration;

/// CPU time consumed so far by the calling thread, from `/proc/thread-self/schedstat`.
pub fn thread_cpu() -> Duration {
    read_schedstat("/proc/thread-self/schedstat").unwrap_or_default()
}

/// CPU time consumed so far by every thread of this process whose name is `name`
/// (as set by `std::thread::Builder::name`, truncated by the kernel to 15 bytes).
pub fn named_threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let name = &name[..name.len().min(15)];
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| read_schedstat(t.path().join("schedstat")))
        .sum()
}

fn read_schedstat(path: impl AsRef<std::path::Path>) -> Option<Duration> {
    let s = std::fs::read_to_string(path).ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// How long each measured run lasts: `TENAX_BENCH_SECS` (decimal seconds), default 3 s.
pub fn run_length() -> Duration {
    std::env::var("TENAX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(3))
}

/// What one measured run did.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Units of work completed (requests, messages, bytes...).
    pub units: u64,
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the client thread.
    pub client_cpu: Duration,
    /// CPU time of the server thread(s).
    pub server_cpu: Duration,
}

impl Run {
    /// Units per second of wall time.
    pub fn rate(&self) -> f64 {
        self.units as f64 / self.wall.as_secs_f64()
    }

    /// Client CPU microseconds per unit.
    pub fn client_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.units.max(1) as f64
    }

    /// Server CPU microseconds per unit.
    pub fn server_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.units.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_grows_with_work() {
        let before = thread_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() > before);
    }

    #[test]
    fn named_threads_are_found() {
        let h = std::thread::Builder::new()
            .name("bench-probe".into())
            .spawn(|| {
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = x.wrapping_mul(31).wrapping_add(i);
                }
                std::hint::black_box(x);
                std::thread::sleep(Duration::from_millis(200));
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let cpu = named_threads_cpu("bench-probe");
        h.join().unwrap();
        assert!(cpu > Duration::ZERO);
    }
}
