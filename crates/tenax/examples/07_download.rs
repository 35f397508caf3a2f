//! Recipe 07: a streaming download with bounded memory — to a temporary file beside the
//! destination, length and SHA-256 verified, synced and renamed into place; resumed with
//! `Range` + `If-Range` after a reset; a minimum speed; nothing left behind on failure.
//!
//! Run: `cargo run -p tenax --example 07_download`.

use std::time::Duration;

use tenax::Client;
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    let dir = std::env::temp_dir().join(format!("tenax-example-07-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // Your code: the set-up you would paste into a project.
    let client = Client::new();

    // 8 MiB, and the server resets the connection after every 3 MB it sends.
    let n = 8 << 20;
    let done = client
        .download(
            server.url(&format!("/file/{n}?reset_after=3000000")),
            dir.join("big.bin"),
        )
        .min_speed(64 * 1024, Duration::from_secs(5))
        .compute_sha256(true)
        .on_progress(|p| {
            if p.downloaded % (1 << 20) < 16 * 1024 {
                eprintln!(
                    "  {} / {:?} bytes (resumed {}x)",
                    p.downloaded, p.total, p.resumes
                );
            }
        })
        .send()
        .await?;
    println!(
        "{}: {} bytes, sha256 {}, resumed {} times in {:?}",
        done.path.display(),
        done.bytes,
        done.sha256.as_deref().unwrap_or("-"),
        done.resumes,
        done.elapsed
    );

    // A wrong digest: an error, and no file at the destination.
    let e = client
        .download(server.url("/file/1000"), dir.join("small.bin"))
        .sha256(&"0".repeat(64))
        .send()
        .await
        .unwrap_err();
    println!("{e} — small.bin exists: {}", dir.join("small.bin").exists());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
