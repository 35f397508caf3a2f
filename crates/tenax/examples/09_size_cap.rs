//! Recipe 09: a response size cap that holds even without `Content-Length` — counted on
//! decoded bytes, so a gzip bomb is cut at the cap, and an announced length over the cap is
//! refused before the body is read.
//!
//! Run: `cargo run -p tenax --example 09_size_cap --features gzip`.

use tenax::Client;
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // Your code: the set-up you would paste into a project.
    let client = Client::builder().max_body_bytes(1 << 20).build()?;

    // Announced too large: refused before reading.
    let e = client
        .get(server.url("/bytes/5000000"))
        .send()
        .await?
        .bytes()
        .await
        .unwrap_err();
    println!("Content-Length 5000000: {e}");

    // Chunked, no length: streamed and cut at the cap.
    let mut res = client
        .get(server.url("/stream/3000000?chunk=65536"))
        .send()
        .await?;
    let mut got = 0;
    while let Some(chunk) = res.chunk().await.transpose() {
        match chunk {
            Ok(b) => got += b.len(),
            Err(e) => {
                println!("chunked: cut after {got} bytes: {e}");
                break;
            }
        }
    }

    // A gzip bomb (100 MB of zeros in ~100 kB): decoded bytes count, so it stops at 1 MiB.
    let e = client
        .get(server.url("/gzip-bomb/100000000"))
        .send()
        .await?
        .bytes()
        .await
        .unwrap_err();
    println!("gzip bomb: {e} (decoding on: {})", cfg!(feature = "gzip"));

    // Per request, over the client's cap.
    let body = client
        .get(server.url("/bytes/2000000"))
        .max_body_bytes(4 << 20)
        .send()
        .await?
        .bytes()
        .await?;
    println!("with a 4 MiB cap for this request: {} bytes", body.len());
    Ok(())
}
