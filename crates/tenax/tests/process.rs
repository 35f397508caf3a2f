//! Tests that measure the whole process (its address space), so they own a process: in the
//! shared integration binary other tests would move the figure.

use std::time::Duration;

use tenax::Client;

#[path = "it/support/mod.rs"]
mod support;
use support::{bounded, bounded_for};

/// A figure of `/proc/self/status`, in bytes.
#[cfg(target_os = "linux")]
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[cfg(target_os = "linux")]
fn vm_peak_bytes() -> u64 {
    status_bytes("VmPeak:")
}

/// The tests of this binary run one at a time: each measures the whole process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_claimed_content_length_reserves_no_memory_before_the_bytes_arrive() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // Each response claims 64 MiB, sends two small chunks, then stops. The body buffer was
    // reserved from the claim: 64 of these reserved 4 GiB of address space (VmPeak shows it:
    // untouched pages never reach the resident size).
    let chunk = vec![b'x'; 1000];
    let mut head = b"HTTP/1.1 200 OK\r\ncontent-length: 67108864\r\n\r\n".to_vec();
    head.extend_from_slice(&chunk);
    let raw = tenax_chaos::RawServer::start(vec![
        tenax_chaos::RawStep::write(head),
        tenax_chaos::RawStep::Sleep(Duration::from_millis(20)),
        tenax_chaos::RawStep::write(chunk),
        tenax_chaos::RawStep::Sleep(Duration::from_millis(500)),
        tenax_chaos::RawStep::Close,
    ])
    .await
    .unwrap();
    let client = Client::new();
    let before = vm_peak_bytes();
    let reads = (0..64).map(|_| {
        let c = client.clone();
        let url = raw.url("/");
        tokio::spawn(async move { c.get(url).send().await?.bytes().await })
    });
    let results = bounded(futures_util::future::join_all(reads)).await;
    for r in results {
        assert!(r.unwrap().unwrap_err().is_recv(), "a truncated body");
    }
    let grown = vm_peak_bytes().saturating_sub(before);
    assert!(grown < 1 << 30, "address space grew by {} MiB", grown >> 20);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_200_mib_file_part_is_uploaded_with_a_peak_resident_size_under_32_mib() {
    use sha2::{Digest, Sha256};
    use std::io::Write;

    let _alone = ONE_AT_A_TIME.lock().await;
    const SIZE: usize = 200 << 20;
    let dir = std::env::temp_dir().join(format!("tenax-rss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let mut digest = Sha256::new();
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let block: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        for _ in 0..SIZE >> 20 {
            file.write_all(&block).unwrap();
            digest.update(&block);
        }
        file.flush().unwrap();
    }
    let want = format!("{:x}", digest.finalize());
    let server = tenax_chaos::ChaosServer::builder().start().await.unwrap();
    let client = Client::new();
    let form = tenax::multipart::Form::new()
        .text("note", "big")
        .file("big", &path)
        .await
        .unwrap();
    let got: serde_json::Value = bounded_for(Duration::from_secs(300), async {
        let res = client
            .post(server.url("/echo"))
            .multipart(form)
            .send()
            .await;
        res.unwrap().json().await.unwrap()
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got["parts"][1]["size"], SIZE, "{got}");
    assert_eq!(got["parts"][1]["sha256"], want);
    let peak = status_bytes("VmHWM:");
    eprintln!("peak resident size: {} KiB", peak >> 10);
    assert!(peak < 32 << 20, "peak resident size {} MiB", peak >> 20);
}
