//! Downloads against tenax-chaos: resume through resets, restart when a range is ignored,
//! digest checks, minimum speed, truncation, rate limit — and nothing left behind on failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tenax::{Client, TimeoutPhase};

use crate::support::bounded;
use crate::support::server;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tenax-dl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sha_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The directory's entries: a failed download leaves none, a good one only its file.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_download_through_resets_resumes_with_range_and_the_digest_matches() {
    let s = server();
    let dir = temp_dir("resume");
    let n = 1 << 20;
    let want = tenax_chaos::pattern(0, n);
    let dest = dir.join("file.bin");
    let last = Arc::new(AtomicU64::new(0));
    let seen = last.clone();
    let d = bounded(
        Client::new()
            .download(s.url(&format!("/file/{n}?reset_after=300000")), &dest)
            .sha256(&sha_hex(&want))
            .on_progress(move |p| seen.store(p.downloaded, Ordering::Relaxed))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(d.bytes, n as u64);
    assert_eq!(d.resumes, 3, "1 MiB in 300 kB pieces: {d:?}");
    assert_eq!(d.restarts, 0);
    assert_eq!(d.sha256, Some(sha_hex(&want)));
    assert_eq!(last.load(Ordering::Relaxed), n as u64);
    assert!(std::fs::read(&dest).unwrap() == want);
    assert_eq!(entries(&dir), ["file.bin"], "no temporary file left");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_server_that_ignores_range_makes_it_start_over_cleanly() {
    let s = server();
    let dir = temp_dir("restart");
    let n = 500_000;
    let dest = dir.join("f");
    let d = bounded(
        Client::new()
            .download(
                s.url(&format!(
                    "/file/{n}?reset_after=200000&reset_first=1&key=restart&ignore_range=1"
                )),
                &dest,
            )
            .send(),
    )
    .await
    .unwrap();
    assert_eq!((d.resumes, d.restarts), (1, 1), "{d:?}");
    assert!(std::fs::read(&dest).unwrap() == tenax_chaos::pattern(0, n));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_wrong_digest_fails_and_leaves_nothing() {
    let s = server();
    let dir = temp_dir("digest");
    let dest = dir.join("f");
    let e = bounded(
        Client::new()
            .download(s.url("/file/10000"), &dest)
            .sha256(&"00".repeat(32))
            .send(),
    )
    .await
    .unwrap_err();
    assert!(e.is_digest_mismatch(), "{e}");
    let msg = std::error::Error::source(&e).unwrap().to_string();
    assert!(msg.contains("SHA-256 mismatch"), "{msg}");
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    // A malformed digest is bad input.
    let e = Client::new()
        .download(s.url("/file/10"), &dest)
        .sha256("xyz")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_drip_below_the_minimum_speed_fails_with_the_min_speed_phase() {
    let s = server();
    let dir = temp_dir("minspeed");
    let dest = dir.join("f");
    let t0 = Instant::now();
    let e = bounded(
        Client::new()
            .download(s.url("/drip/100000?bps=2000"), &dest)
            .min_speed(10_000, Duration::from_millis(500))
            .send(),
    )
    .await
    .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::MinSpeed), "{e}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert!(entries(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_truncated_body_is_a_receive_error_and_keep_partial_keeps_it() {
    let s = server();
    let dir = temp_dir("truncate");
    let dest = dir.join("f");
    let e = bounded(
        Client::new()
            .download(s.url("/truncate/1000?total=5000"), &dest)
            .resume(false)
            .keep_partial(true)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(e.is_recv(), "{e}");
    assert_eq!(entries(&dir), [".f.tenax-part"]);
    assert_eq!(
        std::fs::metadata(dir.join(".f.tenax-part")).unwrap().len(),
        1000
    );
    // Resuming against a route that never completes gives up after the resumptions.
    let e = bounded(
        Client::new()
            .download(s.url("/truncate/1000?total=5000"), &dest)
            .max_resumes(2)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(e.is_recv(), "{e}");
    assert!(!dest.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deadline in the middle of the body, with the partial file kept: the file holds exactly a
/// prefix of the body, and (the file is written on the blocking pool while the body keeps
/// arriving) no write lands after `send` returned — the second half catches a late write
/// only when one is in flight at the deadline, a race this test cannot force.
#[tokio::test]
async fn a_deadline_mid_body_leaves_a_settled_prefix_in_the_kept_file() {
    let s = server();
    let dir = temp_dir("deadline-kept");
    let dest = dir.join("f");
    let n = 64 << 20;
    let e = bounded(
        Client::new()
            .download(s.url(&format!("/drip/{n}?bps=8000000")), &dest)
            .deadline(Duration::from_millis(700))
            .keep_partial(true)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let part = dir.join(".f.tenax-part");
    let kept = std::fs::read(&part).unwrap();
    assert!(
        kept.len() > 1 << 20,
        "several batches arrived: {}",
        kept.len()
    );
    assert!(kept.len() < n, "{}", kept.len());
    assert!(
        kept == tenax_chaos::pattern(0, kept.len()),
        "the kept bytes are the body's first {}",
        kept.len()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        std::fs::metadata(&part).unwrap().len(),
        kept.len() as u64,
        "nothing was written after send returned"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_rate_limit_holds_the_download_back() {
    let s = server();
    let dir = temp_dir("rate");
    let dest = dir.join("f");
    let t0 = Instant::now();
    let d = bounded(
        Client::new()
            .download(s.url("/file/200000"), &dest)
            .max_rate(400_000)
            .send(),
    )
    .await
    .unwrap();
    let took = t0.elapsed();
    assert_eq!(d.bytes, 200_000);
    assert!(
        took >= Duration::from_millis(450),
        "200 kB at 400 kB/s: {took:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn status_errors_and_bad_destinations_leave_nothing() {
    let s = server();
    let dir = temp_dir("status");
    let e = Client::new()
        .download(s.url("/status/404"), dir.join("f"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{e}");
    assert!(entries(&dir).is_empty());
    let e = Client::new()
        .download(s.url("/file/10"), dir.join("no/such/dir/f"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_write(), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
