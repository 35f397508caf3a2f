//! Demo segments of bodies: a download resumed through resets and verified, and size caps
//! that hold against a gzip bomb.

use std::time::{Duration, Instant};

use tenax::Client;
use tenax_chaos::ChaosServer;

use crate::demo::{Row, pass_if};

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

pub async fn segments(server: &ChaosServer) -> Vec<Row> {
    vec![
        download(server).await,
        digest(server).await,
        caps(server).await,
    ]
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tenax-demo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The digest the server's file must have, computed independently of the download.
fn sha256_of_pattern(n: usize) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(tenax_chaos::pattern(0, n))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn download(server: &ChaosServer) -> Row {
    let segment = "07 streaming download, resumed";
    let dir = temp_dir("download");
    let dest = dir.join("file.bin");
    let n = 4 << 20;
    let t = Instant::now();
    // The server resets the connection after every 1.5 MB it sends.
    let res = Client::new()
        .download(server.url(&format!("/file/{n}?reset_after=1500000")), &dest)
        .sha256(&sha256_of_pattern(n))
        .send()
        .await;
    let row = match res {
        Ok(d) => Row {
            segment,
            status: pass_if(d.bytes == n as u64 && d.resumes == 2 && dest.exists()),
            detail: format!(
                "{} bytes through 2 resets: resumed {} times with Range + If-Range, sha256 {}… verified, renamed into place",
                d.bytes,
                d.resumes,
                d.sha256.as_deref().map_or("?", |h| &h[..16])
            ),
            ms: ms(t.elapsed()),
        },
        Err(e) => Row::fail(segment, e),
    };
    let _ = std::fs::remove_dir_all(&dir);
    row
}

async fn digest(server: &ChaosServer) -> Row {
    let segment = "07 wrong digest leaves nothing";
    let dir = temp_dir("digest");
    let dest = dir.join("file.bin");
    let t = Instant::now();
    let res = Client::new()
        .download(server.url("/file/100000"), &dest)
        .sha256(&"0".repeat(64))
        .send()
        .await;
    let left = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    let row = match res {
        Ok(_) => Row::fail(segment, "a wrong digest was accepted"),
        Err(e) => Row {
            segment,
            status: pass_if(e.is_digest_mismatch() && left == 0),
            detail: format!("{e}; {left} files left in the directory"),
            ms: ms(t.elapsed()),
        },
    };
    let _ = std::fs::remove_dir_all(&dir);
    row
}

async fn caps(server: &ChaosServer) -> Row {
    let segment = "09 response size cap";
    let t = Instant::now();
    let client = Client::builder().max_body_bytes(1 << 20).build();
    let client = match client {
        Ok(c) => c,
        Err(e) => return Row::fail(segment, e),
    };
    // 100 MB of zeros in ~100 kB of gzip, with no Content-Length to check first.
    let res = match client.get(server.url("/gzip-bomb/100000000")).send().await {
        Ok(r) => r,
        Err(e) => return Row::fail(segment, e),
    };
    let mut res = res;
    let mut got = 0usize;
    let err = loop {
        match res.chunk().await {
            Ok(Some(b)) => got += b.len(),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    let announced = match client.get(server.url("/bytes/5000000")).send().await {
        Ok(mut r) => r.chunk().await.err(),
        Err(e) => Some(e),
    };
    let ok = got == 1 << 20
        && err.as_ref().is_some_and(tenax::Error::is_body_too_large)
        && announced
            .as_ref()
            .is_some_and(tenax::Error::is_body_too_large);
    Row {
        segment,
        status: pass_if(ok),
        detail: format!(
            "gzip bomb cut at {got} decoded bytes (cap 1 MiB); a 5 MB Content-Length refused before its body"
        ),
        ms: ms(t.elapsed()),
    }
}
