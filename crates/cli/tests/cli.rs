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
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("tenax demo: chaos server on http://127.0.0.1:"));
    assert!(text.contains("black hole"));
    assert!(text.contains("16 structured concurrency"));
}

#[test]
fn commands_not_built_yet_exit_2_with_a_clear_message() {
    for cmd in ["get", "download", "batch", "ws"] {
        let out = tenax(&[cmd, "http://127.0.0.1:9/", "-H", "x: y"]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("tenax: ") && err.contains("not built yet"),
            "{err}"
        );
    }
}

#[test]
fn version_and_usage_errors() {
    let out = tenax(&["--version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = tenax(&["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}
