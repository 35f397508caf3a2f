//! The `tenax` binary as a user runs it.

use std::process::Command;

fn tenax(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tenax"))
        .args(args)
        .output()
        .expect("tenax runs")
}

#[test]
fn demo_json_reports_every_segment_and_no_failure() {
    let out = tenax(&["demo", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(
        doc["chaos"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(
        doc["chaos_tls"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    let segments = doc["segments"].as_array().unwrap();
    assert!(segments.len() >= 19, "3 server checks and 16 recipes");
    for s in segments {
        assert_ne!(s["status"], "FAIL", "{s}");
    }
    assert_eq!(segments[0]["status"], "pass");
}

#[test]
fn demo_prints_a_table() {
    let out = tenax(&["demo"]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("tenax demo: chaos server on http://127.0.0.1:"));
    assert!(text.contains("black hole"));
    assert!(text.contains("11 hooks, stats, correlation id"));
    assert!(text.contains("16 one failure cancels the rest"));
    assert!(!text.contains("todo"), "every recipe has landed:\n{text}");
    // The closing line test runners print, and the jargon explained once.
    let last = text.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    assert!(text.contains("legend: h2c = "), "{text}");
}

#[test]
fn version_and_usage_errors() {
    let out = tenax(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = tenax(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

// ===== tenax get =====

fn chaos() -> tenax_chaos::ChaosServer {
    tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn get_prints_the_body() {
    let s = chaos();
    let out = tenax(&["get", &s.url("/bytes/300")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, tenax_chaos::pattern(0, 300));
}

#[test]
fn get_writes_the_body_to_a_file() {
    let s = chaos();
    let path = std::env::temp_dir().join(format!("tenax-get-{}", std::process::id()));
    let out = tenax(&["get", &s.url("/bytes/5000"), "-o", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), tenax_chaos::pattern(0, 5000));
    let _ = std::fs::remove_file(path);
}

#[test]
fn get_sends_method_headers_and_data() {
    let s = chaos();
    let out = tenax(&[
        "get",
        &s.url("/echo"),
        "-X",
        "PUT",
        "-H",
        "X-Token: abc",
        "-d",
        "k=v",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["headers"]["x-token"], "abc");
    assert_eq!(echo["body"], "k=v");

    let path = std::env::temp_dir().join(format!("tenax-data-{}", std::process::id()));
    std::fs::write(&path, "from a file").unwrap();
    let at = format!("@{}", path.display());
    let out = tenax(&["get", &s.url("/echo"), "-d", &at]);
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(echo["method"], "POST", "--data implies POST");
    assert_eq!(echo["body"], "from a file");
    let _ = std::fs::remove_file(path);
}

/// curl, when installed (`.ci/run` installs it), run the same way as `tenax get`.
fn curl(args: &[&str]) -> Option<std::process::Output> {
    Command::new("curl").arg("-sS").args(args).output().ok()
}

/// What `/echo` saw of a request: the fields a form, credentials and cookies set.
fn echoed(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    let e: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts: Vec<serde_json::Value> = e["parts"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| serde_json::json!([p["name"], p["filename"], p["size"], p["sha256"]]))
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "method": e["method"], "uri": e["uri"], "body": e["body"], "form": e["form"],
        "auth": e["auth"], "cookies": e["cookies"], "parts": parts,
    })
}

#[test]
fn get_sends_forms_credentials_and_cookies_as_curl_does() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-form-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("notes.txt");
    std::fs::write(&file, "line one\nline two\n").unwrap();
    let at_file = format!("file=@{}", file.display());
    let url = s.url("/echo");
    let cases: Vec<(Vec<&str>, serde_json::Value)> = vec![
        (
            vec![
                "-d",
                "a=1",
                "-d",
                "b=2",
                "--data-urlencode",
                "q=caf\u{e9} au lait",
            ],
            serde_json::json!({"method": "POST", "form": [["a", "1"], ["b", "2"], ["q", "caf\u{e9} au lait"]]}),
        ),
        (
            vec!["-G", "-d", "a=1", "--data-urlencode", "q=x y"],
            serde_json::json!({"method": "GET", "uri": "/echo?a=1&q=x+y"}),
        ),
        (
            vec!["-u", "ann:p@ss", "-b", "sid=1; theme=dark"],
            serde_json::json!({"auth": {"scheme": "Basic", "user": "ann", "password": "p@ss"},
                               "cookies": {"sid": "1", "theme": "dark"}}),
        ),
        (
            vec!["--oauth2-bearer", "t0k3n"],
            serde_json::json!({"auth": {"scheme": "Bearer", "token": "t0k3n"}}),
        ),
        (
            vec!["-F", "title=Q3", "-F", &at_file],
            serde_json::json!({"method": "POST", "parts": [
                ["title", null, 2], ["file", "notes.txt", 18]]}),
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["get", url.as_str()];
        args.extend(&flags);
        let got = echoed(&tenax(&args));
        for (k, v) in want.as_object().unwrap() {
            if k == "parts" {
                let parts = got["parts"].as_array().unwrap();
                assert_eq!(parts.len(), v.as_array().unwrap().len(), "{flags:?}: {got}");
                for (p, w) in parts.iter().zip(v.as_array().unwrap()) {
                    assert_eq!((&p[0], &p[1], &p[2]), (&w[0], &w[1], &w[2]), "{flags:?}");
                }
                continue;
            }
            assert_eq!(&got[k], v, "{flags:?}: {got}");
        }
        // curl sends the same: what the server read is identical (parts' digests too).
        if let Some(out) = curl(&[&[url.as_str()][..], &flags].concat()) {
            assert_eq!(echoed(&out), got, "tenax and curl differ for {flags:?}");
        }
    }
    let out = tenax(&["get", &url, "-F", "f=@/no/such/file"]);
    assert_eq!(
        out.status.code(),
        Some(26),
        "curl's read error: {}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cookie_jar_is_written_and_read_in_curls_format() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-jar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let jar = dir.join("jar.txt");
    let jar_s = jar.to_str().unwrap();
    let set = s.url(
        "/set-cookie?c=sid%3D1%3B%20Path%3D%2F&c=pref%3Dx%3B%20Path%3D%2F%3B%20Max-Age%3D3600",
    );
    let out = tenax(&["get", &set, "-c", jar_s]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&jar).unwrap();
    assert!(text.starts_with("# Netscape HTTP Cookie File"), "{text}");
    assert!(
        text.contains("\tsid\t1\n") && text.contains("\tpref\tx\n"),
        "{text}"
    );
    let got = echoed(&tenax(&["get", &s.url("/echo"), "-b", jar_s]));
    assert_eq!(got["cookies"], serde_json::json!({"sid": "1", "pref": "x"}));
    // curl reads the jar tenax wrote, and tenax reads the one curl writes.
    if let Some(out) = curl(&[&s.url("/echo"), "-b", jar_s]) {
        assert_eq!(echoed(&out)["cookies"], got["cookies"]);
        let curl_jar = dir.join("curl-jar.txt");
        let c = curl(&[&set, "-c", curl_jar.to_str().unwrap(), "-o", "/dev/null"]).unwrap();
        assert!(c.status.success());
        let got = echoed(&tenax(&[
            "get",
            &s.url("/echo"),
            "-b",
            curl_jar.to_str().unwrap(),
        ]));
        assert_eq!(got["cookies"], serde_json::json!({"sid": "1", "pref": "x"}));
    }
    // A missing jar to read is no error, as with curl.
    let out = tenax(&["get", &s.url("/echo"), "-b", "/no/such/jar"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn get_json_summarises_the_exchange() {
    let s = chaos();
    let out = tenax(&[
        "get",
        &s.url("/bytes/13"),
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["status"], 200);
    assert_eq!(j["http_version"], "HTTP/1.1");
    assert_eq!(j["bytes"], 13);
    assert_eq!(j["attempts"], 1);
    assert_eq!(j["reused"], false);
    assert!(j["error"].is_null());
    assert!(j["timings"]["connect_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        j["timings"]["total_ms"].as_f64().unwrap() >= j["timings"]["ttfb_ms"].as_f64().unwrap()
    );
}

#[test]
fn trace_prints_spans_with_opentelemetry_attributes_and_retries() {
    let s = chaos();
    let url = s.url("/flaky/verbose?fail=1&status=503");
    let out = tenax(&["get", "--trace", &url]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "http.client.request",
        "http.request.method=GET",
        "server.address=",
        "http.response.status_code=200",
        "http.request.resend_count=1",
        "retry scheduled",
        "connection opened",
    ] {
        assert!(err.contains(want), "{want:?} missing from:\n{err}");
    }
    // Without -v, nothing of it.
    let out = tenax(&["get", &s.url("/bytes/3")]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn get_timings_go_to_stderr() {
    let s = chaos();
    let out = tenax(&["get", &s.url("/bytes/1"), "--timings"]);
    assert!(out.status.success());
    let err = stderr(&out);
    for phase in ["pool wait", "connect", "ttfb", "total", "reused"] {
        assert!(err.contains(phase), "{err}");
    }
}

#[test]
fn get_exit_codes_follow_curl() {
    let s = chaos();
    // 22: HTTP error with --fail, and no body printed.
    let out = tenax(&["get", &s.url("/status/404"), "-f"]);
    assert_eq!(out.status.code(), Some(22));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("404"));
    // Without --fail an error status is still a successful transfer.
    assert_eq!(
        tenax(&["get", &s.url("/status/404")]).status.code(),
        Some(0)
    );

    // 28: a timeout, whose message names the phase.
    let out = tenax(&["get", &s.url("/stall"), "--read-timeout", "0.3"]);
    assert_eq!(out.status.code(), Some(28));
    // Each retry was announced, then the error.
    let err = stderr(&out);
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("tenax: read timed out after 300ms"),
        "{err}"
    );
    assert!(err.contains("tenax: retrying in "), "{err}");

    // 56: a connection reset mid-body.
    assert_eq!(
        tenax(&["get", &s.url("/reset/1000")]).status.code(),
        Some(56)
    );
    // 56: a body shorter than announced.
    assert_eq!(
        tenax(&["get", &s.url("/truncate/1000")]).status.code(),
        Some(56)
    );

    // 7: nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tenax(&["get", &format!("http://127.0.0.1:{port}/")]);
    assert_eq!(out.status.code(), Some(7));

    // 3: a malformed URL; 2: other usage errors.
    assert_eq!(tenax(&["get", "http://bad url"]).status.code(), Some(3));
    assert_eq!(
        tenax(&["get", &s.url("/"), "-H", "nocolon"]).status.code(),
        Some(2)
    );
    assert_eq!(
        tenax(&["get", &s.url("/"), "--read-timeout", "x"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn a_port_over_65535_exits_3_before_any_connection() {
    for url in ["http://127.0.0.1:65536/x", "http://127.0.0.1:4294967376/x"] {
        let out = tenax(&["get", url]);
        assert_eq!(out.status.code(), Some(3), "{url}: {}", stderr(&out));
        assert!(stderr(&out).contains("out of range"), "{}", stderr(&out));
    }
    let out = tenax(&["ws", "ws://127.0.0.1:65616/", "--no-stdin"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn a_password_in_the_url_is_sent_and_never_printed() {
    let s = chaos();
    let url = s.url("/headers").replace("http://", "http://user:s3cret@");
    let out = tenax(&["get", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // base64("user:s3cret"): sent as Basic credentials.
    assert!(text.contains("Basic dXNlcjpzM2NyZXQ="), "{text}");
    let out = tenax(&["get", &url, "-o", "/dev/null", "-w", "%{json}"]);
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !summary.contains("s3cret") && summary.contains("user:***@"),
        "{summary}"
    );
    let out = tenax(&[
        "get",
        "http://user:s3cret@127.0.0.1:1/",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    let all = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(7), "{all}");
    assert!(!all.contains("s3cret"), "{all}");
}

#[test]
fn an_http2_goaway_mid_response_exits_56_not_55() {
    use tenax_chaos::{RawServer, RawStep, h2};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = rt.block_on(async {
        RawServer::start(vec![
            RawStep::write(h2::settings(&[])),
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::headers(1, 200, Some(1000), false)),
            RawStep::write(h2::data(1, b"partial", false)),
            RawStep::write(h2::goaway(1, h2::INTERNAL_ERROR)),
            RawStep::Close,
        ])
        .await
        .unwrap()
    });
    let out = tenax(&["get", &s.url("/"), "--http2", "--retries", "0"]);
    assert_eq!(out.status.code(), Some(56), "{}", stderr(&out));
    assert!(!stderr(&out).contains("failed to send"), "{}", stderr(&out));
}

#[test]
fn get_exit_52_on_an_empty_reply() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let raw = rt
        .block_on(tenax_chaos::RawServer::start(vec![
            tenax_chaos::RawStep::Close,
        ]))
        .unwrap();
    let out = tenax(&["get", &raw.url("/"), "-o", "/dev/null", "-w", "%{json}"]);
    assert_eq!(out.status.code(), Some(52));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "io");
    assert!(j["status"].is_null());
}

// ===== TLS and HTTP versions =====

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tenax-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", stderr(out)))
}

#[test]
fn get_over_tls_with_a_ca_file_pins_and_versions() {
    let s = tenax_chaos::ChaosServer::builder()
        .tls(true)
        .start_in_thread()
        .unwrap();
    let ca = temp_file("ca.pem", s.ca_pem().unwrap());
    let ca = ca.to_str().unwrap();
    let url = s.url("/bytes/13");

    // -v names the TLS version and what ALPN chose, as curl does.
    let out = tenax(&["get", &url, "--cacert", ca, "-v", "-o", "/dev/null"]);
    assert!(
        stderr(&out).contains("* TLS 1.3, ALPN h2\n"),
        "{}",
        stderr(&out)
    );

    let out = tenax(&[
        "get",
        &url,
        "--cacert",
        ca,
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = json_of(&out);
    assert_eq!(j["http_version"], "HTTP/2");
    assert_eq!(j["tls_version"], "TLSv1.3");
    assert!(j["timings"]["tls_ms"].as_f64().unwrap() > 0.0);

    let out = tenax(&[
        "get",
        &url,
        "--cacert",
        ca,
        "--http1",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["http_version"], "HTTP/1.1");

    // 60: not trusted; a wrong pin.
    let out = tenax(&["get", &url, "-o", "/dev/null", "-w", "%{json}"]);
    assert_eq!(out.status.code(), Some(60));
    assert_eq!(json_of(&out)["error"]["kind"], "tls");
    let wrong = format!("sha256//{}=", "A".repeat(43));
    assert_eq!(
        tenax(&["get", &url, "--cacert", ca, "--pin", &wrong])
            .status
            .code(),
        Some(60)
    );
    let pin = tenax::tls::pin_of_certificate(s.cert_der().unwrap()).unwrap();
    assert_eq!(
        tenax(&["get", &url, "--cacert", ca, "--pin", &pin])
            .status
            .code(),
        Some(0)
    );

    // --insecure works, and says so.
    let out = tenax(&["get", &url, "--insecure"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn get_exit_35_when_the_tls_versions_do_not_meet() {
    let s = tenax_chaos::ChaosServer::builder()
        .tls_versions(tenax_chaos::TlsVersions::Tls12Only)
        .start_in_thread()
        .unwrap();
    let ca = temp_file("ca12.pem", s.ca_pem().unwrap());
    let url = s.url("/bytes/1");
    let ca = ca.to_str().unwrap();
    assert_eq!(tenax(&["get", &url, "--cacert", ca]).status.code(), Some(0));
    assert_eq!(
        tenax(&["get", &url, "--cacert", ca, "--tls-min", "1.3"])
            .status
            .code(),
        Some(35)
    );
}

#[test]
fn get_with_a_client_certificate() {
    let s = tenax_chaos::ChaosServer::builder()
        .require_client_cert(true)
        .start_in_thread()
        .unwrap();
    let ca = temp_file("ca-mtls.pem", s.ca_pem().unwrap());
    let cert = temp_file("client.pem", s.client_cert_pem().unwrap());
    let key = temp_file("client.key", s.client_key_pem().unwrap());
    let url = s.url("/bytes/1");
    let out = tenax(&[
        "get",
        &url,
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = tenax(&["get", &url, "--cacert", ca.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    // A certificate file that is not one is a usage error.
    assert_eq!(
        tenax(&[
            "get",
            &url,
            "--cert",
            ca.to_str().unwrap(),
            "--key",
            ca.to_str().unwrap()
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn get_http2_by_prior_knowledge() {
    let s = chaos();
    let out = tenax(&[
        "get",
        &s.url("/bytes/3"),
        "--http2",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["http_version"], "HTTP/2");
    assert_eq!(
        tenax(&["get", &s.url("/"), "--http1", "--http2"])
            .status
            .code(),
        Some(2)
    );
}

// ===== retries and deadlines =====

#[test]
fn get_retries_a_flaky_route_and_reports_attempts() {
    let s = chaos();
    // A Retry-After of 0 keeps the test quick.
    let out = tenax(&[
        "get",
        &s.url("/flaky/k?fail=2&retry_after=0"),
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let j = json_of(&out);
    assert_eq!(j["status"], 200);
    assert_eq!(j["attempts"], 3);

    let out = tenax(&[
        "get",
        &s.url("/flaky/l?fail=2&retry_after=0"),
        "--no-retry",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["status"], 503);
    assert_eq!(json_of(&out)["attempts"], 1);

    let out = tenax(&[
        "get",
        &s.url("/flaky/m?fail=4&retry_after=0"),
        "--retries",
        "4",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["status"], 200);
    assert_eq!(json_of(&out)["attempts"], 5);
}

#[test]
fn get_deadline_exits_28_and_names_the_deadline() {
    let s = chaos();
    let t = std::time::Instant::now();
    let out = tenax(&[
        "get",
        &s.url("/delay/5000"),
        "--deadline",
        "0.5",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert!(t.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(28));
    let j = json_of(&out);
    assert_eq!(j["error"]["kind"], "timeout");
    assert_eq!(j["error"]["phase"], "deadline");
}

#[test]
fn get_follows_redirects_only_with_location() {
    let s = chaos();
    let out = tenax(&[
        "get",
        &s.url("/redirect/2"),
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["status"], 302);
    let out = tenax(&[
        "get",
        &s.url("/redirect/2"),
        "-L",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(json_of(&out)["status"], 200);
    let out = tenax(&[
        "get",
        &s.url("/redirect/5"),
        "-L",
        "--max-redirs",
        "2",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(out.status.code(), Some(47));
    assert_eq!(json_of(&out)["error"]["kind"], "redirect");
}

#[test]
fn get_data_from_standard_input() {
    use std::io::Write;
    let s = chaos();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenax"))
        .args(["get", &s.url("/echo"), "-d", "@-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let echo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(echo["body"], "from stdin");
    assert_eq!(echo["method"], "POST");
}

fn tenax_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenax"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tenax runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn ws_sends_stdin_lines_and_prints_what_comes_back() {
    let s = chaos();
    let url = s.ws_url("/ws/echo");
    let out = tenax_stdin(
        &["ws", &url, "--send", "first", "--count", "3"],
        "second\nthird\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first\nsecond\nthird\n"
    );
    let err = stderr(&out);
    assert!(err.contains("tenax: connected"), "{err}");
}

#[test]
fn ws_exit_codes() {
    let s = chaos();
    // A rejected handshake: 22, after one attempt.
    let out = tenax(&["ws", &s.ws_url("/ws/reject/401"), "--no-stdin"]);
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    // A silent peer without reconnecting: the heartbeat times out, 28.
    let out = tenax(&[
        "ws",
        &s.ws_url("/ws/silent"),
        "--no-stdin",
        "--heartbeat",
        "0.2",
        "--pong-timeout",
        "0.2",
        "--no-reconnect",
    ]);
    assert_eq!(out.status.code(), Some(28), "{}", stderr(&out));
    assert!(stderr(&out).contains("no pong"), "{}", stderr(&out));
    // Bad input: a URL of another scheme (3, a malformed URL), usage errors (2).
    let out = tenax(&["ws", "ftp://127.0.0.1/", "--no-stdin"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = tenax(&["ws", &s.ws_url("/ws/echo"), "--max-message", "12Q"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn download_resumes_verifies_and_exits_like_curl() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-dl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dest = dir.join("f.bin");
    let dest_s = dest.to_str().unwrap();
    // 1 MiB through resets every 300 kB, with --resume: complete, resumed 3 times.
    let url = s.url("/file/1048576?reset_after=300000");
    let out = tenax(&["download", &url, "-o", dest_s, "--resume", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["bytes"], 1048576);
    assert_eq!(v["resumes"], 3);
    assert_eq!(std::fs::metadata(&dest).unwrap().len(), 1048576);
    // Without --resume the reset is final: 56, and nothing at the destination.
    std::fs::remove_file(&dest).unwrap();
    let out = tenax(&["download", &url, "-o", dest_s]);
    assert_eq!(out.status.code(), Some(56), "{}", stderr(&out));
    assert!(!dest.exists());
    // A wrong digest: failure, nothing left.
    let zeros = "0".repeat(64);
    let out = tenax(&[
        "download",
        &s.url("/file/100"),
        "-o",
        dest_s,
        "--sha256",
        &zeros,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SHA-256 mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    // Below the minimum speed: a timeout, 28.
    let out = tenax(&[
        "download",
        &s.url("/drip/100000?bps=2000"),
        "-o",
        dest_s,
        "--min-speed",
        "10k",
        "--min-speed-window",
        "0.3",
    ]);
    assert_eq!(out.status.code(), Some(28), "{}", stderr(&out));
    // Over --max-size: 63.
    let out = tenax(&[
        "download",
        &s.url("/file/5000"),
        "-o",
        dest_s,
        "--max-size",
        "1k",
    ]);
    assert_eq!(out.status.code(), Some(63), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn get_max_size_and_compressed() {
    let s = chaos();
    // A gzip bomb, decoded, cut at the cap: 63.
    let out = tenax(&[
        "get",
        &s.url("/gzip-bomb/100000000"),
        "--compressed",
        "--max-size",
        "1M",
    ]);
    assert_eq!(out.status.code(), Some(63), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 1 << 20);
    // Decoded with --compressed, raw without (as curl).
    let url = s.url("/encoded/1000?coding=br");
    let out = tenax(&["get", &url, "--compressed"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, tenax_chaos::pattern(0, 1000));
    let out = tenax(&["get", &url]);
    assert_eq!(out.status.code(), Some(0));
    assert_ne!(out.stdout, tenax_chaos::pattern(0, 1000));
}

#[test]
fn get_through_a_proxy_and_its_exit_codes() {
    let s = chaos();
    let tls = tenax_chaos::ChaosServer::builder()
        .tls(true)
        .start_in_thread()
        .unwrap();
    let ca = temp_file("proxy-ca.pem", tls.ca_pem().unwrap());
    let proxy = tenax_chaos::ProxyServer::start_in_thread(Some(("u", "p"))).unwrap();
    let with_creds = format!("http://u:p@{}", proxy.addr());
    let out = tenax(&["get", &s.url("/bytes/3"), "--proxy", &with_creds]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 3);
    let out = tenax(&[
        "get",
        &tls.url("/bytes/3"),
        "--proxy",
        &with_creds,
        "--cacert",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.tunnels(), 1);
    // The tunnel refused (no credentials): 56, naming the 407.
    let out = tenax(&[
        "get",
        &tls.url("/bytes/3"),
        "--proxy",
        &proxy.url(),
        "--cacert",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(56), "{}", stderr(&out));
    assert!(stderr(&out).contains("407"), "{}", stderr(&out));
    // --noproxy: direct.
    let before = proxy.forwarded();
    let out = tenax(&[
        "get",
        &s.url("/bytes/3"),
        "--proxy",
        &proxy.url(),
        "--noproxy",
        "*",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(proxy.forwarded(), before);
    // A proxy URL we cannot use: a usage error.
    let out = tenax(&["get", &s.url("/bytes/3"), "--proxy", "ftp://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn proxy_environment_variables_and_no_proxy() {
    let s = chaos();
    let port = s
        .url("")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let url = format!("http://svc.test:{port}/bytes/2");
    let resolve = format!("svc.test:{port}:127.0.0.1");
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenax"));
        cmd.args(["get", &url, "--resolve", &resolve, "--retries", "0"]);
        for k in [
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    // A proxy from the environment that refuses connections: the request goes to it.
    let out = run(&[("HTTP_PROXY", "http://127.0.0.1:1")]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    // The same, with the host in NO_PROXY (lower case wins): direct.
    let out = run(&[
        ("HTTP_PROXY", "http://127.0.0.1:1"),
        ("no_proxy", "other.test,svc.test"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 2);
    // Loopback targets never use the environment's proxy.
    let out = Command::new(env!("CARGO_BIN_EXE_tenax"))
        .args(["get", &s.url("/bytes/2")])
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn batch_prints_one_json_line_per_url_in_completion_order() {
    let s = chaos();
    let list = format!(
        "# a comment, then a blank line\n\n{}\n{}\nhttp://127.0.0.1:1/\n",
        s.url("/delay/600"),
        s.url("/bytes/5")
    );
    let file = temp_file("urls.txt", &list);
    let out = tenax(&[
        "batch",
        file.to_str().unwrap(),
        "--concurrency",
        "3",
        "--retries",
        "0",
    ]);
    // One URL failed (refused): its exit code.
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    // The slow one finishes last; each line says which URL it was.
    assert_eq!(lines[2]["index"], 0);
    assert_eq!(lines[2]["status"], 200);
    let by_index = |i: u64| lines.iter().find(|l| l["index"] == i).unwrap();
    assert_eq!(by_index(1)["bytes"], 5);
    assert_eq!(by_index(2)["error"]["kind"], "connect");
    assert!(by_index(2)["url"].as_str().unwrap().contains(":1/"));
    let err = stderr(&out);
    assert!(
        err.contains("2 ok, 1 failed (connect: 1)") && err.contains("p99"),
        "{err}"
    );
    // From stdin, all good: exit 0.
    let out = tenax_stdin(
        &["batch", "-", "--concurrency", "2"],
        &format!("{}\n", s.url("/bytes/1")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// ===== curl's flags, compared with curl itself where it is installed =====

/// `>`/`<` lines of `-v` output, header names lowercased and sorted within each block (curl
/// adds its headers in its own order and case), values as sent.
fn head_lines(stderr: &str, mark: char) -> Vec<String> {
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| l.starts_with(mark))
        .map(|l| match l[1..].trim().split_once(": ") {
            Some((name, value)) => format!("{} {}: {value}", mark, name.to_ascii_lowercase()),
            None => l.trim_end().to_owned(),
        })
        .filter(|l| !l.contains("date:"))
        .collect();
    lines.sort();
    lines
}

#[test]
fn verbose_request_and_response_lines_are_curls() {
    let s = chaos();
    let url = s.url("/bytes/5");
    let out = tenax(&["get", "-v", "-A", "agent/1", "-H", "X-A: b", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("* Connected to 127.0.0.1 (127.0.0.1) port"),
        "{err}"
    );
    let port = s.addr().port();
    for want in [
        "> GET /bytes/5 HTTP/1.1".to_string(),
        format!("> host: 127.0.0.1:{port}"),
        "> user-agent: agent/1".into(),
        "> accept: */*".into(),
        "> x-a: b".into(),
        "< HTTP/1.1 200 OK".into(),
        "< content-length: 5".into(),
    ] {
        assert!(
            head_lines(&err, want.chars().next().unwrap()).contains(&want),
            "{want:?}:\n{err}"
        );
    }
    if let Some(c) = curl(&[
        "-v",
        "-A",
        "agent/1",
        "-H",
        "X-A: b",
        "-o",
        "/dev/null",
        &url,
    ]) {
        let theirs = String::from_utf8_lossy(&c.stderr);
        assert_eq!(
            head_lines(&err, '>'),
            head_lines(&theirs, '>'),
            "curl:\n{theirs}"
        );
        assert_eq!(
            head_lines(&err, '<'),
            head_lines(&theirs, '<'),
            "curl:\n{theirs}"
        );
    }
}

#[test]
fn include_head_write_out_and_silent_are_curls() {
    let s = chaos();
    let url = s.url("/bytes/7");
    // -i: the status line and headers, then the body.
    let out = tenax(&["get", "-i", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("\r\ncontent-length: 7\r\n"), "{text}");
    assert!(text.ends_with(&format!(
        "\r\n\r\n{}",
        String::from_utf8_lossy(&tenax_chaos::pattern(0, 7))
    )));
    // -i -L: every response's head, the redirects' first, as curl shows them.
    let hops = tenax(&["get", "-i", "-L", &s.url("/redirect/2")]);
    let hops_text = String::from_utf8_lossy(&hops.stdout);
    let statuses: Vec<&str> = hops_text
        .lines()
        .filter(|l| l.starts_with("HTTP/"))
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 302 Found",
            "HTTP/1.1 302 Found",
            "HTTP/1.1 200 OK"
        ]
    );
    if let Some(c) = curl(&["-i", "-L", &s.url("/redirect/2")]) {
        let theirs = String::from_utf8_lossy(&c.stdout);
        let count = |t: &str| t.lines().filter(|l| l.starts_with("HTTP/")).count();
        assert_eq!(count(&theirs), 3, "{theirs}");
    }
    // -I: HEAD, headers only.
    let head = tenax(&["get", "-I", &url]);
    let head_text = String::from_utf8_lossy(&head.stdout);
    assert!(head_text.ends_with("\r\n\r\n") && head_text.contains("content-length: 7"));
    // -w with curl's variables.
    let w = tenax(&[
        "get",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{num_redirects}\\n",
        &url,
    ]);
    assert_eq!(String::from_utf8_lossy(&w.stdout), "200 7 0\n");
    // -s: nothing on stderr, even on failure; -S brings the error back.
    let silent = tenax(&["get", "-s", "http://127.0.0.1:1/"]);
    assert_eq!(silent.status.code(), Some(7));
    assert!(silent.stderr.is_empty(), "{}", stderr(&silent));
    let shown = tenax(&["get", "-sS", "--no-retry", "http://127.0.0.1:1/"]);
    assert!(stderr(&shown).starts_with("tenax: "), "{}", stderr(&shown));
    if let Some(c) = curl(&["-I", &url]) {
        let lines = |t: &str| {
            let mut v: Vec<String> = t
                .lines()
                .filter(|l| !l.starts_with("date:"))
                .map(|l| l.to_ascii_lowercase())
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            lines(&head_text),
            lines(&String::from_utf8_lossy(&c.stdout))
        );
        let cw = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{num_redirects}\\n",
            &url,
        ])
        .unwrap();
        assert_eq!(cw.stdout, w.stdout);
        let cs = Command::new("curl")
            .args(["-s", "http://127.0.0.1:1/"])
            .output()
            .unwrap();
        assert_eq!(cs.status.code(), silent.status.code());
        assert!(cs.stderr.is_empty());
    }
}

#[test]
fn json_user_agent_upload_and_max_time_are_curls() {
    let s = chaos();
    let url = s.url("/echo");
    let dir = std::env::temp_dir().join(format!("tenax-cli-18-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("up.bin");
    std::fs::write(&file, vec![7u8; 100_000]).unwrap();
    let file_s = file.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["--json", "{\"a\":1}"],
        vec!["-A", "agent/2", "-e", "http://from/"],
        vec!["-u", "ann:pw"],
        vec!["-T", file_s],
    ];
    for flags in cases {
        let mut args = vec!["get", url.as_str()];
        args.extend(&flags);
        let got = tenax(&args);
        assert!(got.status.success(), "{flags:?}: {}", stderr(&got));
        let e: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
        let pick = |e: &serde_json::Value| {
            serde_json::json!([
                e["method"],
                e["body_len"],
                e["headers"]["content-type"],
                e["headers"]["accept"],
                e["headers"]["user-agent"],
                e["headers"]["referer"],
                e["auth"],
                e["headers"]["content-length"]
            ])
        };
        if flags[0] == "--json" {
            assert_eq!(e["method"], "POST");
            assert_eq!(e["headers"]["content-type"], "application/json");
            assert_eq!(e["headers"]["accept"], "application/json");
        }
        if flags[0] == "-T" {
            assert_eq!(e["method"], "PUT");
            assert_eq!(e["body_len"], 100_000);
        }
        if let Some(c) = curl(&[&[url.as_str()][..], &flags].concat()) {
            let theirs: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
            let mut ours = pick(&e);
            let mut want = pick(&theirs);
            // The default User-Agent differs (tenax/…, curl/…).
            if flags[0] != "-A" {
                ours[4] = serde_json::Value::Null;
                want[4] = serde_json::Value::Null;
            }
            assert_eq!(ours, want, "{flags:?}");
        }
    }
    // -m: the whole operation's limit, exit 28 as curl.
    let out = tenax(&["get", "-m", "0.3", &s.url("/delay/5000")]);
    assert_eq!(out.status.code(), Some(28), "{}", stderr(&out));
    if let Some(c) = curl(&["-m", "0.3", &s.url("/delay/5000")]) {
        assert_eq!(c.status.code(), Some(28));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn remote_name_and_output_dir_save_under_the_urls_name() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-O-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_s = dir.to_str().unwrap();
    let out = tenax(&["get", "-O", "--output-dir", dir_s, &s.url("/bytes/11")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("11")).unwrap(),
        tenax_chaos::pattern(0, 11)
    );
    let with_slash = format!("{dir_s}/");
    let out = tenax(&["get", "-o", &with_slash, &s.url("/bytes/12")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("12")).unwrap().len(), 12);
    let out = tenax(&["get", "-O", &s.url("/")]);
    assert_eq!(
        out.status.code(),
        Some(23),
        "no file name: {}",
        stderr(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_url_alone_is_a_get_and_unknown_flags_are_named() {
    let s = chaos();
    let out = tenax(&[&s.url("/bytes/4")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), 4);
    let out = tenax(&["get", "--ntlm", &s.url("/bytes/4")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--ntlm is not supported"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn download_into_a_directory_saves_under_the_urls_name_and_leaves_nothing_on_failure() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-dl-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let with_slash = format!("{}/", dir.display());
    let out = tenax(&["download", &s.url("/file/2000"), "-o", &with_slash, "-s"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("2000")).unwrap().len(), 2000);
    // A failure mid-body leaves nothing behind, beside or in the directory.
    let out = tenax(&[
        "download",
        &s.url("/truncate/100"),
        "-o",
        &with_slash,
        "-s",
        "--no-retry",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("2000")], "{names:?}");
    let parent: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("tenax-cli-dl-dir") && e.path() != dir)
        .collect();
    assert!(parent.is_empty(), "left beside the directory: {parent:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ws_waits_for_the_replies_to_its_input_before_closing() {
    let s = chaos();
    let out = tenax_stdin(&["ws", &s.ws_url("/ws/echo")], "hi\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n");
}

#[test]
fn ws_exits_as_soon_as_the_connection_is_closed_for_good() {
    let s = chaos();
    let t0 = std::time::Instant::now();
    // stdin stays open (a child that never writes): the exit must come from the close.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenax"))
        .args(["ws", &s.ws_url("/ws/close/1008")])
        .args(["--send", "x"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let give_up = t0 + std::time::Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            std::time::Instant::now() < give_up,
            "tenax ws did not exit after the close"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_ne!(status.code(), Some(0));
}

#[test]
fn ws_help_lists_only_the_flags_it_uses_and_a_url_needs_no_scheme() {
    let help = String::from_utf8_lossy(&tenax(&["ws", "--help"]).stdout).into_owned();
    for http_only in [
        "--max-redirs",
        "--compressed",
        "--max-size",
        "--retries",
        "--http2",
    ] {
        assert!(!help.contains(http_only), "{http_only} in ws --help");
    }
    let s = chaos();
    let no_scheme = s.ws_url("/ws/echo").replace("ws://", "");
    let out = tenax(&[
        "ws",
        &no_scheme,
        "--send",
        "a",
        "--count",
        "1",
        "--no-stdin",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn batch_fail_counts_http_errors_and_output_dir_saves_bodies() {
    let s = chaos();
    let dir = std::env::temp_dir().join(format!("tenax-cli-batch-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let urls = format!(
        "{}\n{}\n{}\n",
        s.url("/bytes/10"),
        s.url("/status/404"),
        s.url("/bytes/10")
    );
    // Without --fail a 404 is a transfer like another.
    let out = tenax_stdin(&["batch"], &urls);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = tenax_stdin(
        &["batch", "--fail", "--output-dir", dir.to_str().unwrap()],
        &urls,
    );
    assert_eq!(out.status.code(), Some(22), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("2 ok, 1 failed (status: 1)"),
        "{}",
        stderr(&out)
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["10", "10.1"]);
    assert_eq!(
        std::fs::read(dir.join("10")).unwrap(),
        tenax_chaos::pattern(0, 10)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ws_compress_offers_permessage_deflate_and_says_it_was_agreed() {
    let s = chaos();
    let out = tenax(&[
        "ws",
        &s.ws_url("/ws/echo"),
        "--compress",
        "--send",
        "tick tick tick",
        "--count",
        "1",
        "--no-stdin",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "tick tick tick\n");
    assert!(
        stderr(&out).contains("connected (permessage-deflate)"),
        "{}",
        stderr(&out)
    );
    let (messages, wire) = s.ws_compression_bytes();
    assert!(messages > 0 && wire > 0, "the compressing echo served it");
}

// ===== beyond retries: breaker, hedging, adaptive concurrency, rate =====

/// `n` copies of `url`, one a line.
fn urls(url: &str, n: usize) -> String {
    format!("{url}\n").repeat(n)
}

#[test]
fn batch_auto_concurrency_finds_the_capacity_and_reports_the_limit() {
    let s = chaos();
    let out = tenax_stdin(
        &["batch", "-", "--concurrency", "auto", "--no-retry"],
        &urls(&s.url("/capacity/8?ms=10"), 400),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let refused = String::from_utf8_lossy(&out.stdout)
        .matches("\"status\":503")
        .count();
    assert!(refused <= 8, "{refused} of 400 refused");
    let err = stderr(&out);
    let limits = err
        .split("; concurrency ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .unwrap_or_else(|| panic!("{err}"));
    let median: usize = limits.split('/').nth(1).unwrap().parse().unwrap();
    assert!((4..=16).contains(&median), "{err}");
}

#[test]
fn a_hedge_answers_for_a_slow_first_attempt() {
    let s = chaos();
    let started = std::time::Instant::now();
    let out = tenax(&[
        "get",
        &s.url("/tail?every=1000&ms=20000"),
        "--hedge-after",
        "0.05",
        "-o",
        "/dev/null",
        "-w",
        "%{json}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let doc = json_of(&out);
    assert_eq!(doc["hedges"]["sent"], 1);
    assert_eq!(doc["hedges"]["won"], true);
    // A batch sums them up.
    let out = tenax_stdin(
        &["batch", "-", "--hedge-after", "p95"],
        &urls(&s.url("/tail?p=0"), 30),
    );
    assert!(
        stderr(&out).contains("; 0 hedges (0 won)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_breaker_refuses_a_host_that_is_down() {
    let s = chaos();
    let out = tenax(&["get", &s.url("/_outage?ms=30000"), "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !s.is_down() {
        assert!(std::time::Instant::now() < give_up, "the server went down");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = tenax_stdin(
        &[
            "batch",
            "-",
            "--breaker",
            "--no-retry",
            "--concurrency",
            "1",
        ],
        &urls(&s.url("/bytes/1"), 100),
    );
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let err = stderr(&out);
    // Ten attempts failed in a row: the other 90 were refused at once.
    assert!(
        err.contains("circuit_open: 90") && err.contains("breaker refused 90"),
        "{err}"
    );
}

#[test]
fn a_rate_spaces_the_requests_and_a_bad_one_is_a_usage_error() {
    let s = chaos();
    let started = std::time::Instant::now();
    let out = tenax_stdin(
        &["batch", "-", "--rate", "20/s"],
        &urls(&s.url("/bytes/1"), 6),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // One at once, then one every 50 ms.
    assert!(started.elapsed() >= std::time::Duration::from_millis(240));
    let out = tenax(&["get", &s.url("/bytes/1"), "--rate", "0/s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = tenax(&["batch", "--concurrency", "none"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
