#![no_main]
//! The client reading arbitrary bytes from a server (tenax-chaos's `RawServer`): a response
//! head, a chunked or compressed body, whatever comes. It must end in a response or a typed
//! error, within its deadline.

use std::time::Duration;

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let data = data.to_vec();
    RT.with(|rt| {
        rt.block_on(async {
            let server = tenax_chaos::RawServer::reply(data).await.expect("a raw server");
            let client = tenax::Client::builder()
                .retry(tenax::retry::Policy::none())
                .build()
                .expect("a client");
            let outcome = tokio::time::timeout(Duration::from_secs(5), async {
                let res = client
                    .get(server.url("/"))
                    .deadline(Duration::from_secs(2))
                    .max_body_bytes(1 << 20)
                    .send()
                    .await?;
                res.bytes().await
            })
            .await;
            assert!(outcome.is_ok(), "the request outlived its deadline");
            client.close().await;
        })
    });
});
