//! `-w/--write-out FORMAT`: curl's variables (`%{http_code}`, `%{time_total}`…), ours
//! (`%{num_retries}`, `%{time_pool}`, `%{error_phase}`) and `%{json}`, with `\n`, `\t`, `\r`
//! and `%%` escapes. Written to stdout after the body, as curl does.

use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{Outcome, error_chain};

/// What `-w` can say of one request.
pub struct Facts<'a> {
    pub outcome: &'a Outcome,
    pub exit_code: u8,
    pub redirects: u32,
}

/// The format with every variable replaced. An unknown variable is an error naming it.
pub fn render(format: &str, facts: &Facts<'_>) -> Result<String, String> {
    let vars = variables(facts);
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find(['%', '\\']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("%{") {
            let end = after
                .find('}')
                .ok_or_else(|| format!("-w: unclosed variable in {format:?}"))?;
            let name = &after[..end];
            match name {
                "json" => out.push_str(&json_of(facts, &vars).to_string()),
                _ => match vars.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(&plain(v)),
                    None => return Err(format!("-w: unknown variable %{{{name}}}")),
                },
            }
            rest = &after[end + 1..];
            continue;
        }
        let (text, skip) = match tail.as_bytes().get(1) {
            Some(b'%') if tail.starts_with('%') => ("%", 2),
            Some(b'n') if tail.starts_with('\\') => ("\n", 2),
            Some(b't') if tail.starts_with('\\') => ("\t", 2),
            Some(b'r') if tail.starts_with('\\') => ("\r", 2),
            Some(b'\\') if tail.starts_with('\\') => ("\\", 2),
            _ => (&tail[..1], 1),
        };
        out.push_str(text);
        rest = &tail[skip..];
    }
    out.push_str(rest);
    Ok(out)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn secs(d: Duration) -> Value {
    json!((d.as_secs_f64() * 1e6).round() / 1e6)
}

/// curl's variables and ours, by name.
fn variables(f: &Facts<'_>) -> Vec<(&'static str, Value)> {
    let o = f.outcome;
    let t = o.timings.unwrap_or_default();
    let zero = Duration::ZERO;
    let namelookup = t.pool_wait + t.dns.unwrap_or(zero);
    let connect = namelookup + t.connect.unwrap_or(zero);
    let appconnect = t.tls.map_or(zero, |tls| connect + tls);
    let starttransfer = if o.timings.is_some() {
        connect.max(appconnect) + t.ttfb
    } else {
        zero
    };
    let http_version = match o.version {
        Some(tenax::Version::HTTP_10) => "1.0",
        Some(tenax::Version::HTTP_11) => "1.1",
        Some(tenax::Version::HTTP_2) => "2",
        _ => "0",
    };
    let error = o.error.as_ref();
    vec![
        ("http_code", json!(format!("{:03}", o.status.unwrap_or(0)))),
        (
            "response_code",
            json!(format!("{:03}", o.status.unwrap_or(0))),
        ),
        ("time_namelookup", secs(namelookup)),
        ("time_connect", secs(connect)),
        ("time_appconnect", secs(appconnect)),
        ("time_starttransfer", secs(starttransfer)),
        ("time_total", secs(o.elapsed)),
        ("size_download", json!(o.bytes)),
        ("num_redirects", json!(f.redirects)),
        ("http_version", json!(http_version)),
        ("url", json!(o.url)),
        ("exitcode", json!(f.exit_code)),
        (
            "errormsg",
            json!(error.map(|e| error_chain(e)).unwrap_or_default()),
        ),
        ("num_retries", json!(o.attempts.saturating_sub(1))),
        ("time_pool", secs(t.pool_wait)),
        (
            "error_phase",
            json!(
                error
                    .and_then(|e| e.timeout_phase())
                    .map_or("", |p| p.as_str())
            ),
        ),
    ]
}

/// `%{json}`: the summary `tenax get` printed before (its fields unchanged, for scripts) and
/// curl's variables beside them; where a name is in both (`http_version`), the summary's.
fn json_of(f: &Facts<'_>, vars: &[(&'static str, Value)]) -> Value {
    let mut line = Vec::new();
    f.outcome.write_json_line(None, &mut line);
    let mut doc: Value = serde_json::from_slice(&line).expect("the summary is JSON");
    let map = doc.as_object_mut().expect("the summary is an object");
    for (k, v) in vars {
        map.entry(k.to_string()).or_insert_with(|| v.clone());
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_escapes_are_replaced() {
        let mut o = Outcome::new("http://h/".into());
        o.status = Some(204);
        o.version = Some(tenax::Version::HTTP_11);
        o.bytes = 12;
        o.attempts = 3;
        let f = Facts {
            outcome: &o,
            exit_code: 0,
            redirects: 1,
        };
        let s = render(
            "%{http_code} %{size_download}\\n%{num_retries}%%%{http_version}",
            &f,
        );
        assert_eq!(s.unwrap(), "204 12\n2%1.1");
        assert!(render("%{nope}", &f).unwrap_err().contains("nope"));
        let doc: Value = serde_json::from_str(&render("%{json}", &f).unwrap()).unwrap();
        assert_eq!(doc["status"], 204);
        assert_eq!(doc["http_code"], "204");
        assert_eq!(
            doc["http_version"], "HTTP/1.1",
            "the summary's field is kept"
        );
        assert_eq!(doc["num_redirects"], 1);
        let failed = Outcome::new("http://h/".into());
        let f = Facts {
            outcome: &failed,
            exit_code: 7,
            redirects: 0,
        };
        assert_eq!(render("%{http_code} %{exitcode}", &f).unwrap(), "000 7");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any format renders or is refused with a message, never a panic (a format is typed
        /// by a person, in any script).
        #[test]
        fn any_format_renders_or_is_refused(format in "\\PC{0,40}") {
            let o = Outcome::new("http://h/".into());
            let f = Facts { outcome: &o, exit_code: 0, redirects: 0 };
            let _ = render(&format, &f);
        }
    }
}
