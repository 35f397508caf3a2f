//! curl's cookie-jar files (Netscape's `cookies.txt`): `domain`, `include subdomains`,
//! `path`, `secure`, `expires` (Unix seconds, 0 for a session cookie), `name`, `value`,
//! separated by tabs; `#HttpOnly_` before the domain marks an HttpOnly cookie.

use std::time::{SystemTime, UNIX_EPOCH};

use cookie_store::{CookieDomain, CookieExpiration, CookieStore};

use crate::error::Error;

const HTTP_ONLY: &str = "#HttpOnly_";

/// Adds the cookies of `text` to `store`; how many were kept.
pub(super) fn load(store: &mut CookieStore, text: &str) -> Result<usize, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut kept = 0;
    for (n, line) in text.lines().enumerate() {
        let (line, http_only) = match line.strip_prefix(HTTP_ONLY) {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| Error::builder(format!("cookie jar line {}: {why}", n + 1));
        let f: Vec<&str> = line.split('\t').collect();
        let [domain, subdomains, path, secure, expires, name, value] = f[..] else {
            return Err(bad("not seven tab-separated fields"));
        };
        let expires: i64 = expires
            .parse()
            .map_err(|_| bad("the expiry is not a number"))?;
        if expires != 0 && expires <= now {
            continue;
        }
        let host = domain.trim_start_matches('.');
        let secure = secure.eq_ignore_ascii_case("TRUE");
        let mut set = format!("{name}={value}; Path={path}");
        if subdomains.eq_ignore_ascii_case("TRUE") {
            set.push_str(&format!("; Domain={host}"));
        }
        if secure {
            set.push_str("; Secure");
        }
        if http_only {
            set.push_str("; HttpOnly");
        }
        if expires != 0 {
            set.push_str(&format!("; Max-Age={}", expires - now));
        }
        let scheme = if secure { "https" } else { "http" };
        // The path must not carry the URL elsewhere (`@other.example/`, `.more`): the cookie
        // is for the line's own domain, or the line is refused.
        let url: url::Url = format!("{scheme}://{host}{path}")
            .parse()
            .ok()
            .filter(|u: &url::Url| path.starts_with('/') && same_host(u, host))
            .ok_or_else(|| bad("the domain and path make no URL of that domain"))?;
        if store.parse(&set, &url).is_ok() {
            kept += 1;
        }
    }
    Ok(kept)
}

/// Whether `url`'s host is `host` (letters in any case).
fn same_host(url: &url::Url, host: &str) -> bool {
    !host.is_empty() && url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(host))
}

/// The unexpired cookies of `store`, a line each, after curl's header comment.
pub(super) fn save(store: &CookieStore) -> String {
    let mut out = String::from("# Netscape HTTP Cookie File\n# Written by tenax.\n\n");
    for c in store.iter_unexpired() {
        let (domain, subdomains) = match &c.domain {
            CookieDomain::HostOnly(d) => (d.clone(), "FALSE"),
            CookieDomain::Suffix(d) => (format!(".{d}"), "TRUE"),
            CookieDomain::NotPresent | CookieDomain::Empty => continue,
        };
        let expires = match c.expires {
            CookieExpiration::AtUtc(t) => t.unix_timestamp().max(1),
            CookieExpiration::SessionEnd => 0,
        };
        let prefix = if c.http_only() == Some(true) {
            HTTP_ONLY
        } else {
            ""
        };
        let secure = if c.secure() == Some(true) {
            "TRUE"
        } else {
            "FALSE"
        };
        let path: &str = c.path.as_ref();
        out.push_str(&format!(
            "{prefix}{domain}\t{subdomains}\t{path}\t{secure}\t{expires}\t{}\t{}\n",
            c.name(),
            c.value()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_line_stays_on_its_own_domain_whatever_its_path() {
        // Found by fuzzing (fuzz/cookie_jar): an empty domain and a path of `.3i...` made the
        // host `.3i...`, saved with its dot as a host-only cookie, and loaded back as another
        // host. A path can also move a cookie to another site outright.
        for line in [
            "\t\t.3iii\t\t0\tn\t",
            "evil.example\tFALSE\t@victim.example/\tFALSE\t0\tsid\tx",
            "evil.example\tFALSE\t.victim.example/\tFALSE\t0\tsid\tx",
            "\tFALSE\t/\tFALSE\t0\tsid\tx",
        ] {
            let mut store = CookieStore::default();
            assert!(load(&mut store, line).is_err(), "{line:?}");
            assert_eq!(store.iter_unexpired().count(), 0, "{line:?}");
        }
    }

    #[test]
    fn a_cookie_jar_file_round_trips() {
        let text = "# Netscape HTTP Cookie File\n\
            127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc\n\
            #HttpOnly_example.com\tTRUE\t/app\tTRUE\t4102444800\ttok\tx y\n\
            gone.example\tFALSE\t/\tFALSE\t1000\told\tv\n";
        let mut store = CookieStore::default();
        assert_eq!(load(&mut store, text).unwrap(), 2);
        let out = save(&store);
        assert!(
            out.contains("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc\n"),
            "{out}"
        );
        assert!(
            out.contains("#HttpOnly_.example.com\tTRUE\t/app\tTRUE\t"),
            "{out}"
        );
        assert!(!out.contains("old"), "{out}");
        let mut again = CookieStore::default();
        assert_eq!(load(&mut again, &out).unwrap(), 2);
        let e = load(&mut again, "a\tb\n").unwrap_err();
        let text = crate::error::message_chain(&e);
        assert!(text.contains("line 1"), "{text}");
    }
}
