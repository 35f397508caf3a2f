//! Parsing of the command line's value types: durations, sizes, headers, URLs.

use std::time::Duration;

/// A time limit from the command line: `None` is no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<Duration>);

/// A [`Limit`] in seconds, for clap.
pub fn limit(s: &str) -> Result<Limit, String> {
    duration(s).map(Limit)
}

/// Seconds with decimals (`0.5`, `10`); `0` means no limit. Negative or non-finite values are
/// refused.
pub fn duration(s: &str) -> Result<Option<Duration>, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{s:?} is not a non-negative number of seconds"));
    }
    if secs > 1e9 {
        return Err(format!("{s:?} seconds is too long"));
    }
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

/// A size in bytes: `65536`, `64k`, `16M`, `1G` (powers of 1024; `KiB`/`MiB`/`GiB` too).
pub fn size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (write 65536, 64k, 16M or 1G)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("{s:?} has an unknown unit (use k, M or G)")),
    };
    n.checked_mul(mult)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// curl's `--resolve HOST:PORT:ADDR` (ADDR an IPv4 address or a bracketed IPv6 one; several
/// separated by commas).
pub fn resolve(s: &str) -> Result<(String, u16, Vec<std::net::IpAddr>), String> {
    let bad = || format!("{s:?} is not HOST:PORT:ADDR (e.g. example.com:443:127.0.0.1)");
    let (host, rest) = s.split_once(':').ok_or_else(bad)?;
    let (port, addrs) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let addrs = addrs
        .split(',')
        .map(|a| {
            a.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| bad())
        })
        .collect::<Result<Vec<std::net::IpAddr>, String>>()?;
    if host.is_empty() || addrs.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port, addrs))
}

/// `Name: value`, as curl takes it.
pub fn header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header {s:?} is not of the form 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("header {s:?} has no name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// A URL as a person types it: without a scheme, `http://` is assumed (as curl does).
pub fn url(s: &str) -> String {
    if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_entries() {
        let (h, p, a) = resolve("example.com:443:127.0.0.1").unwrap();
        assert_eq!((h.as_str(), p), ("example.com", 443));
        assert_eq!(a, vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
        let (_, _, a) = resolve("x:80:[::1],127.0.0.2").unwrap();
        assert_eq!(a.len(), 2);
        for bad in [
            "",
            "x",
            "x:80",
            "x:port:1.2.3.4",
            ":80:1.2.3.4",
            "x:80:nope",
        ] {
            assert!(resolve(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size("65536"), Ok(65536));
        assert_eq!(size("64k"), Ok(65536));
        assert_eq!(size("16M"), Ok(16 << 20));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        for bad in ["", "k", "-1", "1.5M", "3X", "99999999999999999999G"] {
            assert!(size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(duration("0.5"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(duration("10"), Ok(Some(Duration::from_secs(10))));
        assert_eq!(duration("0"), Ok(None));
        for bad in ["-1", "x", "NaN", "inf", "", "1e300"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_and_urls() {
        assert_eq!(header("X-A:  b c "), Ok(("X-A".into(), "b c".into())));
        assert_eq!(header("X-A:"), Ok(("X-A".into(), "".into())));
        assert!(header("nocolon").is_err());
        assert!(header(": v").is_err());
        assert_eq!(url("127.0.0.1:8080/x"), "http://127.0.0.1:8080/x");
        assert_eq!(url("https://h/"), "https://h/");
    }

    #[test]
    fn arbitrary_durations_and_headers_never_panic() {
        let alphabet: Vec<char> = "0123456789.-+eEinfNa: x".chars().collect();
        let mut st = 0x1234_5678_9ABC_DEF1u64;
        for _ in 0..50_000 {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            let len = (st % 14) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((st >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(Some(d)) = duration(&s) {
                assert!(d > Duration::ZERO, "{s:?}");
            }
            let _ = header(&s);
            let _ = url(&s);
        }
    }

    #[test]
    fn arbitrary_sizes_and_resolve_entries_never_panic() {
        let alphabet: Vec<char> = "0123456789kKmMgGiBb:[],.x- ".chars().collect();
        let mut st = 0x0F1E_2D3C_4B5A_6978u64;
        for _ in 0..50_000 {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            let len = (st % 16) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((st >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(n) = size(&s) {
                // Round trip: a size printed in bytes parses to itself.
                assert_eq!(size(&n.to_string()), Ok(n), "{s:?}");
            }
            if let Ok((h, _, a)) = resolve(&s) {
                assert!(!h.is_empty() && !a.is_empty(), "{s:?}");
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_argument_parses_or_is_refused_without_panicking(v in "\\PC{0,30}") {
            let _ = duration(&v);
            let _ = size(&v);
            let _ = resolve(&v);
            let _ = header(&v);
        }

        #[test]
        fn durations_round_trip_to_the_millisecond(ms in 1u64..1_000_000_000) {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            prop_assert_eq!(duration(&s), Ok(Some(Duration::from_millis(ms))));
        }

        #[test]
        fn sizes_round_trip_with_every_unit(n in 0u64..1_000_000, unit in 0usize..4) {
            let (suffix, mult) = [("", 1u64), ("k", 1 << 10), ("M", 1 << 20), ("G", 1 << 30)][unit];
            let want = usize::try_from(n * mult).ok();
            prop_assert_eq!(size(&format!("{n}{suffix}")).ok(), want);
        }
    }
}
