//! The `tenax-chaos` binary: first line, then serving until killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenax-chaos"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("tenax-chaos starts");
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (child, line.trim_end().to_string())
}

#[test]
fn prints_its_address_first_and_serves() {
    let (_child, line) = start(&[]);
    let url = line.strip_prefix("listening on http://").expect(&line);
    let mut tcp = TcpStream::connect(url).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"GET /bytes/3 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    tcp.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

#[test]
fn tls_mode_prints_https_and_writes_the_ca() {
    let dir = std::env::temp_dir().join(format!("tenax-chaos-ca-{}", std::process::id()));
    let ca = dir.with_extension("pem");
    let (_child, line) = start(&["--tls", "--ca-out", ca.to_str().unwrap()]);
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line}"
    );
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let _ = std::fs::remove_file(ca);
}

#[test]
fn bad_arguments_are_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_tenax-chaos"))
        .args(["--addr", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_tenax-chaos"))
        .args(["--tls-only", "1.2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--tls-only needs --tls");
}

#[test]
fn mutual_tls_mode_writes_the_client_certificate() {
    let base = std::env::temp_dir().join(format!("tenax-chaos-client-{}", std::process::id()));
    let (_child, line) = start(&[
        "--tls",
        "--require-client-cert",
        base.to_str().unwrap(),
        "--h2-max-streams",
        "7",
    ]);
    assert!(line.starts_with("listening on https://"), "{line}");
    let cert = std::fs::read_to_string(base.with_extension("pem")).unwrap();
    let key = std::fs::read_to_string(base.with_extension("key")).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.contains("PRIVATE KEY"));
    let _ = std::fs::remove_file(base.with_extension("pem"));
    let _ = std::fs::remove_file(base.with_extension("key"));
}
