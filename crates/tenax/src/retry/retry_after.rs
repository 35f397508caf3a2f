//! `Retry-After`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

use std::time::{Duration, SystemTime};

/// How long the server asks to wait; `None` for a missing or malformed value. A date in the
/// past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        for bad in ["", "-1", "1.5", "soon", "Thu, 99 Foo 2026"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    #[test]
    fn arbitrary_values_never_panic() {
        let mut rng = fastrand::Rng::with_seed(11);
        let alphabet: Vec<char> = "0123456789 ,:-+GMTSunMonDecJan\u{e9}\t".chars().collect();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        for _ in 0..20_000 {
            let len = rng.usize(0..40);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = parse_retry_after(&s, now);
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_value_parses_or_not_without_panicking(v in "\\PC{0,40}") {
            let _ = parse_retry_after(&v, SystemTime::now());
        }

        #[test]
        fn seconds_round_trip(n in any::<u64>(), pad in " {0,3}") {
            let v = format!("{pad}{n}{pad}");
            prop_assert_eq!(parse_retry_after(&v, SystemTime::now()), Some(Duration::from_secs(n)));
        }

        #[test]
        fn http_dates_round_trip_to_the_second(secs in 0u64..10_000_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let date = httpdate::fmt_http_date(now + Duration::from_secs(secs));
            prop_assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(secs)));
            // A date in the past means now.
            let past = httpdate::fmt_http_date(now - Duration::from_secs(secs + 1));
            prop_assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        }
    }
}
