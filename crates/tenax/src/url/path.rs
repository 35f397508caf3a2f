//! The path and query as the request line carries them: dot segments removed (RFC 3986
//! §5.2.4) and what the wire cannot carry percent-encoded; percent-decoding for credentials.

use std::borrow::Cow;

/// Appends the path (dot segments removed, `/` when empty) and the query, each with the bytes
/// a request line cannot carry percent-encoded.
pub(super) fn push_path_and_query(out: &mut String, path_and_query: &str) {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut encoded = String::with_capacity(path.len() + 1);
    percent_encode(path, &mut encoded);
    if encoded.is_empty() {
        out.push('/');
    } else {
        out.push_str(&remove_dot_segments(&encoded));
    }
    if let Some(q) = query {
        out.push('?');
        percent_encode(q, out);
    }
}

/// Percent-encodes what the request line cannot carry: spaces, non-ASCII, and the few ASCII
/// bytes browsers encode in paths and queries (`"`, `<`, `>`, `` ` ``, `{`, `}`).
fn percent_encode(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b <= b' ' || b >= 0x7f || b"\"<>`{}".contains(&b) {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push(char::from(b));
        }
    }
}

/// RFC 3986 §5.2.4 on an absolute path (`%2e` counts as a dot, as browsers take it).
fn remove_dot_segments(path: &str) -> Cow<'_, str> {
    let is_dot = |s: &str| s == "." || s.eq_ignore_ascii_case("%2e");
    let is_dotdot = |s: &str| {
        matches!(
            s.to_ascii_lowercase().as_str(),
            ".." | ".%2e" | "%2e." | "%2e%2e"
        )
    };
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    if !segments.iter().any(|s| is_dot(s) || is_dotdot(s)) {
        return Cow::Borrowed(path);
    }
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        if is_dotdot(seg) {
            kept.pop();
        } else if !is_dot(seg) {
            kept.push(seg);
            continue;
        }
        // A dot segment at the end leaves the path ending in `/`.
        if i == last {
            kept.push("");
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in kept {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Percent-decodes `%XX` sequences; anything else stays as it is.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}
