//! A small, forgiving query-string reader for route parameters.

use std::str::FromStr;

/// Decoded `key=value` pairs of a query string.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(q: Option<&str>) -> Query {
        let pairs = q
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Query(pairs)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The pairs, decoded, in order.
    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The parameter parsed as `T`, `default` when absent, an error message when malformed.
    pub(crate) fn num<T: FromStr>(&self, key: &str, default: T) -> Result<T, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("query parameter {key}={v:?} is not a valid number")),
        }
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "yes" | ""))
    }
}

/// Decodes `%XX` escapes and `+`; malformed escapes are kept as they are.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                out.push(hex(bytes[i + 1]) << 4 | hex(bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_malformed_ones() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("http%3A%2F%2Fx"), "http://x");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%+1"), "% 1");
        assert_eq!(percent_decode("%é"), "%é");
    }

    #[test]
    fn reads_numbers_flags_and_defaults() {
        let q = Query::parse(Some("fail=2&status=503&chunked=1&bad=x&empty"));
        assert_eq!(q.num("fail", 0u32), Ok(2));
        assert_eq!(q.num("missing", 7u32), Ok(7));
        assert!(q.num::<u32>("bad", 0).is_err());
        assert!(q.flag("chunked"));
        assert!(q.flag("empty"));
        assert!(!q.flag("missing"));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    #[test]
    fn arbitrary_escapes_never_panic() {
        let alphabet: Vec<char> = "%0aF+z\u{e9}&=".chars().collect();
        let mut st = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..50_000 {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            let len = (st % 12) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((st >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            let _ = percent_decode(&s);
            let _ = Query::parse(Some(&s));
        }
    }
}
