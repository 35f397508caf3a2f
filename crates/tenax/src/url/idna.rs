//! International host names in their ASCII form: IDNA's `xn--` labels, by RFC 3492 Punycode.

use std::borrow::Cow;

/// The host in ASCII: an international name label by label in its IDNA form (`xn--`,
/// lowercased and Punycode-encoded; the name is taken as written, without Unicode
/// normalisation).
pub(super) fn ascii_host(host: &str) -> Result<Cow<'_, str>, String> {
    if host.is_ascii() {
        return Ok(Cow::Borrowed(host));
    }
    if host.starts_with('[') {
        return Err(format!("host {host:?} is not a valid IPv6 address"));
    }
    let mut out = String::with_capacity(host.len() * 2);
    for (i, label) in host.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let lower: Vec<char> = label.chars().flat_map(char::to_lowercase).collect();
        if lower.iter().all(char::is_ascii) {
            out.extend(lower);
            continue;
        }
        if lower.iter().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("host {host:?} is not a valid name"));
        }
        out.push_str("xn--");
        out.push_str(&punycode(&lower).ok_or_else(|| format!("host {host:?} is too long"))?);
    }
    Ok(Cow::Owned(out))
}

/// RFC 3492 Punycode of one label (`None` on overflow).
fn punycode(input: &[char]) -> Option<String> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let digit = |d: u32| {
        char::from(if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        })
    };
    let mut out: String = input.iter().filter(|c| c.is_ascii()).collect();
    let basic = out.len() as u32;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (128u32, 0u32, 72u32, basic);
    while (handled as usize) < input.len() {
        let m = input.iter().map(|&c| c as u32).filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in input {
            let c = c as u32;
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c != n {
                continue;
            }
            let mut q = delta;
            let mut k = BASE;
            loop {
                let t = k.saturating_sub(bias).clamp(T_MIN, T_MAX);
                if q < t {
                    break;
                }
                out.push(digit(t + (q - t) % (BASE - t)));
                q = (q - t) / (BASE - t);
                k += BASE;
            }
            out.push(digit(q));
            bias = adapt(delta, handled + 1, handled == basic);
            delta = 0;
            handled += 1;
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

/// RFC 3492 §6.1, bias adaptation.
fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    const BASE: u32 = 36;
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - 1) * 26) / 2 {
        delta /= BASE - 1;
        k += BASE;
    }
    k + (BASE * delta) / (delta + 38)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lowercased_and_encoded() {
        let enc = |s: &str| punycode(&s.chars().collect::<Vec<_>>()).unwrap();
        assert_eq!(enc("bücher"), "bcher-kva");
        assert_eq!(enc("münchen"), "mnchen-3ya");
        assert_eq!(ascii_host("B\u{fc}cher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(ascii_host("plain.example").unwrap(), "plain.example");
        assert!(ascii_host("a b\u{e9}.de").is_err());
    }
}
