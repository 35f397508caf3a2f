//! Full-jitter exponential backoff: `random(0, min(cap, base · 2^n))`.

use std::time::Duration;

/// The delay before retry number `n` (0 for the first retry).
pub(crate) fn full_jitter(
    base: Duration,
    cap: Duration,
    n: u32,
    rng: &mut fastrand::Rng,
) -> Duration {
    let ceiling = base
        .checked_mul(1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(cap)
        .min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_the_full_jitter_envelope() {
        let mut rng = fastrand::Rng::with_seed(7);
        let (base, cap) = (Duration::from_millis(50), Duration::from_secs(20));
        for n in 0..12u32 {
            let ceiling = (base * 2u32.pow(n)).min(cap);
            let mut sum = Duration::ZERO;
            let mut max = Duration::ZERO;
            for _ in 0..10_000 {
                let d = full_jitter(base, cap, n, &mut rng);
                assert!(d <= ceiling, "retry {n}: {d:?} over {ceiling:?}");
                sum += d;
                max = max.max(d);
            }
            // Uniform over [0, ceiling]: the mean is near half, the max near the ceiling.
            let mean = sum / 10_000;
            assert!(
                mean > ceiling.mul_f64(0.45) && mean < ceiling.mul_f64(0.55),
                "{n}: {mean:?}"
            );
            assert!(max > ceiling.mul_f64(0.99), "{n}: {max:?}");
        }
    }

    #[test]
    fn huge_attempt_numbers_hit_the_cap_without_overflow() {
        let mut rng = fastrand::Rng::with_seed(1);
        let cap = Duration::from_secs(20);
        for n in [31, 32, 64, u32::MAX] {
            assert!(full_jitter(Duration::from_secs(1), cap, n, &mut rng) <= cap);
        }
    }
}
