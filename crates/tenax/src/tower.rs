//! `tower::Service` for [`Client`] (feature `tower`): stack tower layers — rate and concurrency
//! limits, your own middleware — over Tenax, with every Tenax default (phase timeouts, retries,
//! redirects, pool limits) still applying beneath them.
//!
//! The request is an `http::Request<B>` of any body `B` (its exact length, when known, is sent
//! as `Content-Length`); the response is an `http::Response<`[`Body`]`>` whose body streams as
//! it arrives (decoded, capped as the client says) and whose extensions hold the response's
//! [`Timings`](crate::Timings) and final URL ([`http::Uri`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;

use crate::body::Body;
use crate::error::BoxError;
use crate::request::{IntoUrl, Parts, Request};
use crate::{Client, Error, Response};

/// The future of a [`Client`] called as a `tower::Service<http::Request<B>>` (feature
/// `tower`): stack tower layers — rate and concurrency limits, your own middleware — over
/// Tenax, whose defaults (phase timeouts, retries, redirects, pool limits) still apply beneath
/// them. A request body `B` of exact length is sent with that `Content-Length`; the response
/// is an `http::Response<`[`Body`]`>` streaming as it arrives, with the
/// [`Timings`](crate::Timings) and the final [`http::Uri`] in its extensions.
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let url = server.url("/bytes/5");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use http_body_util::BodyExt;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// let service = ServiceBuilder::new()
///     .concurrency_limit(2) // never more than two requests at the server
///     .service(tenax::Client::new());
/// let req = http::Request::get(url).body(String::new()).unwrap();
/// let res = service.oneshot(req).await?;
/// assert_eq!(res.status(), 200);
/// assert!(res.extensions().get::<tenax::Timings>().is_some());
/// let body = res.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(body.len(), 5);
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, Error>> + Send + 'static>>;

#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl<B> tower_service::Service<http::Request<B>> for Client
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = ServiceFuture;

    /// Always ready: the client's own pool limits are waited for inside the call.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> ServiceFuture {
        let sent = request_of(req).map(|r| self.execute(r));
        Box::pin(async move { Ok(into_http(sent?.await?)) })
    }
}

/// A Tenax [`Request`] from an `http` one; the URL is checked as every URL is.
fn request_of<B>(req: http::Request<B>) -> Result<Request, Error>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let (head, body) = req.into_parts();
    let mut parts = Parts::new(head.method, head.uri.into_target()?);
    for (name, value) in &head.headers {
        parts.own_authorization(name);
        parts.headers.append(name.clone(), value.clone());
    }
    parts.body = body_of(body);
    Ok(Request { parts })
}

/// A request body from any `http_body::Body`: empty when it says so, sized when its length
/// is exact, else streamed.
fn body_of<B>(body: B) -> Body
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        return Body::empty();
    }
    let len = body.size_hint().exact();
    let stream = Box::pin(Frames(Box::pin(body)));
    match len {
        Some(len) => Body::sized_stream(stream, len),
        None => Body::from_stream(stream),
    }
}

/// The data frames of a body (trailers are not sent).
struct Frames<B>(Pin<Box<B>>);

impl<B> Stream for Frames<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match std::task::ready!(self.0.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        let bytes = data.copy_to_bytes(data.remaining());
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                }
            }
        }
    }
}

/// The `http` form of a response: its head, its body streamed, its timings and final URL in
/// the extensions.
fn into_http(res: Response) -> http::Response<Body> {
    let mut out = http::Response::builder()
        .status(res.status())
        .version(res.version())
        .body(Body::empty())
        .expect("a status and a version make a response");
    *out.headers_mut() = res.headers().clone();
    out.extensions_mut().insert(*res.timings());
    out.extensions_mut().insert(res.url().clone());
    *out.body_mut() = Body::from_stream(res.chunks());
    out
}
