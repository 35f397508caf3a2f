//! Demo segment of batches: bounded concurrency, results as they complete.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::Client;
use tenax_chaos::ChaosServer;

use crate::demo::{Row, pass_if};

pub async fn segment(server: &ChaosServer) -> Row {
    let segment = "06 bounded batch, as completed";
    let client = Client::new();
    // Requests other segments left hanging on purpose (/stall) still count on the server.
    let base = server.in_flight();
    server.reset_max_in_flight();
    let t = Instant::now();
    // 200 requests of 5 to 45 ms, 20 at a time, plus one slow request first in line.
    let urls = std::iter::once(server.url("/delay/400"))
        .chain((0..200).map(|i| server.url(&format!("/delay/{}", 5 + (i % 5) * 10))));
    let mut batch = client
        .batch_with(urls.map(|u| client.get(u)), |req| async move {
            req.send().await?.bytes().await
        })
        .concurrency(20);
    let (mut ok, mut first, mut last) = (0, None, None);
    while let Some((i, res)) = batch.next().await {
        if res.is_ok() {
            ok += 1;
        }
        first.get_or_insert(i);
        last = Some(i);
    }
    let took = t.elapsed();
    let max = server.max_in_flight().saturating_sub(base);
    Row {
        segment,
        status: pass_if(ok == 201 && max <= 20 && first != Some(0) && took < Duration::from_secs(5)),
        detail: format!(
            "201 requests, 20 at a time (the server saw at most {max}); first result #{}, the slow #0 came {} ",
            first.unwrap_or(0),
            if last == Some(0) { "last".to_string() } else { format!("before #{}", last.unwrap_or(0)) }
        )
        .trim_end()
        .to_string(),
        ms: Some(took.as_secs_f64() * 1e3),
    }
}
