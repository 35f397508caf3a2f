//! A blocking client (feature `blocking`), for scripts and synchronous code: the same builder
//! and request API as [`crate::Client`], each call waiting for its answer. Requests run on a
//! thread the client owns (a tokio runtime of its own, as reqwest's blocking client does); the
//! last handle dropped closes the client and stops that thread.
//!
//! Calling it from inside an async runtime is refused with an error (it would block the
//! runtime's thread): use [`crate::Client`] there.
//!
//! ```
//! use std::time::Duration;
//!
//! fn main() -> tenax::Result<()> {
//! #   let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
//! #   let base = server.url("");
//!     let client = tenax::blocking::Client::builder()
//!         .read_timeout(Duration::from_secs(5))
//!         .build()?;
//!     let text = client.get(format!("{base}/bytes/3")).send()?.error_for_status()?.text()?;
//!     assert_eq!(text.len(), 3);
//!     let echo: serde_json::Value = client
//!         .post(format!("{base}/echo"))
//!         .json(&serde_json::json!({"id": 7}))
//!         .send()?
//!         .json()?;
//!     assert_eq!(echo["body"], r#"{"id":7}"#);
//!     Ok(())
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use http::Method;

use crate::{IntoUrl, Request, Result};

mod response;
mod runtime;

pub use response::Response;

/// Configures a blocking [`Client`]: the setters of [`crate::ClientBuilder`].
pub type ClientBuilder = crate::ClientBuilder<Client>;

/// A request being built for a blocking [`Client`]: the setters of
/// [`crate::RequestBuilder`]; [`send`](crate::RequestBuilder::<Client>::send) waits for the
/// response head.
pub type RequestBuilder = crate::RequestBuilder<Client>;

/// A blocking HTTP client: one pool and one runtime thread, shared by every clone. Dropping
/// the last clone (and every [`Response`] it gave) closes it, as
/// [`crate::Client::close`] does.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// The asynchronous client and the thread it runs on.
pub(crate) struct Shared {
    client: crate::Client,
    rt: runtime::Runtime,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let client = self.client.clone();
        // Inside an async runtime this is refused: the thread stops, dropping the connections.
        let _ = self.rt.block_on(async move { client.close().await });
    }
}

impl Client {
    /// A client with every default (see [`crate::ClientBuilder`]).
    pub fn new() -> Client {
        Client::builder()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to configure a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A POST request.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Sends a [`Request`] built earlier and waits for the response head.
    pub fn execute(&self, request: Request) -> Result<Response> {
        RequestBuilder::from_parts(self.clone(), request).send()
    }

    /// Runs `f` on the client's thread and waits for it.
    fn block_on<F>(&self, f: F) -> Result<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.rt.block_on(f)
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Client")
            .field(&self.shared.client)
            .finish()
    }
}

impl ClientBuilder {
    /// Builds the blocking client and starts its thread. Fails as
    /// [`crate::ClientBuilder::build`] does, or if the thread cannot start.
    pub fn build(self) -> Result<Client> {
        let client = self.build_async()?;
        let rt = runtime::Runtime::start()?;
        Ok(Client {
            shared: Arc::new(Shared { client, rt }),
        })
    }
}

impl RequestBuilder {
    /// Sends the request and waits for the response head (on the client's thread). Refused
    /// with [`Error::is_builder`](crate::Error::is_builder) inside an async runtime.
    pub fn send(self) -> Result<Response> {
        let (client, parts) = self.into_parts();
        let sending =
            crate::RequestBuilder::from_result(client.shared.client.clone(), parts).send();
        let res = client.block_on(sending)??;
        Ok(Response::new(res, client.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _assert_auto_traits() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>() {}
        is_send_sync::<Client>();
        is_send::<Response>();
        is_send::<RequestBuilder>();
    }
}
