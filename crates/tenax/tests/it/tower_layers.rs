//! `Client` as a `tower::Service` (feature `tower`): tower's layers and the caller's own,
//! stacked over Tenax.
#![cfg(feature = "tower")]

use std::task::{Context, Poll};

use http_body_util::BodyExt;
use tenax::Client;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::support::{bounded, server};

/// The test's own layer: stamps every request with a header.
#[derive(Clone)]
struct Stamp;

impl<S> Layer<S> for Stamp {
    type Service = Stamped<S>;
    fn layer(&self, inner: S) -> Stamped<S> {
        Stamped(inner)
    }
}

#[derive(Clone)]
struct Stamped<S>(S);

impl<S, B> Service<http::Request<B>> for Stamped<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> S::Future {
        req.headers_mut().insert("x-stamp", "on".parse().unwrap());
        self.0.call(req)
    }
}

#[tokio::test]
async fn a_concurrency_limit_of_two_never_lets_a_third_request_reach_the_server() {
    let s = server();
    let svc = ServiceBuilder::new()
        .concurrency_limit(2)
        .layer(Stamp)
        .service(Client::new());
    bounded(async {
        let calls = (0..6).map(|_| {
            let req = http::Request::get(s.url("/delay/200"))
                .body(String::new())
                .unwrap();
            svc.clone().oneshot(req)
        });
        for res in futures_util::future::join_all(calls).await {
            let res = res.unwrap();
            assert_eq!(res.status(), 200);
            assert!(res.extensions().get::<tenax::Timings>().is_some());
        }
        assert_eq!(s.hits("delay"), 6);
        assert_eq!(s.max_in_flight(), 2, "the limit held, and was reached");
    })
    .await;
}

#[tokio::test]
async fn an_http_request_body_and_headers_go_through_and_the_response_body_streams_back() {
    let s = server();
    // Tenax's client is always ready: its pool limits are waited for inside the call.
    let mut svc = ServiceBuilder::new().layer(Stamp).service(Client::new());
    bounded(async {
        let req = http::Request::post(s.url("/echo"))
            .header("content-type", "text/plain")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"hello",
            )))
            .unwrap();
        let res = svc.call(req).await.unwrap();
        let url = res.extensions().get::<http::Uri>().unwrap().clone();
        assert_eq!(url.path(), "/echo");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let got: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got["body"], "hello");
        assert_eq!(got["headers"]["content-length"], "5");
        assert_eq!(got["headers"]["x-stamp"], "on");
        // A bad URL is Tenax's error, as everywhere.
        let bad = http::Request::get("http://127.0.0.1:65536/")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        let e = svc.call(bad).await.unwrap_err();
        assert!(e.is_invalid_url(), "{e}");
    })
    .await;
}
