//! `tenax._tenax.Client`: a `tenax::Client` for Python. Options arrive already checked and
//! named by `tenax/_client.py` (httpx's names there, tenax's here).

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyDict;
use tokio::sync::mpsc;

use crate::bridge::{Bridge, Task};
use crate::errors::{to_py, value_error};
use crate::response::{Response, Stream};
use crate::runtime::{awaitable, block_on};

/// A time limit from Python: `None` keeps the default, `0` is no limit.
fn limit(secs: Option<f64>) -> PyResult<Option<Option<Duration>>> {
    match secs {
        None => Ok(None),
        Some(s) if !s.is_finite() || s < 0.0 => Err(value_error(format!(
            "a time limit is a number of seconds of at least 0 (0: none), not {s}"
        ))),
        Some(0.0) => Ok(Some(None)),
        Some(s) => Ok(Some(Some(Duration::from_secs_f64(s)))),
    }
}

/// Seconds above 0 from Python, as a `Duration`; `what` names the option in the error.
pub(crate) fn seconds(s: f64, what: &str) -> PyResult<Duration> {
    if s.is_finite() && s > 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(value_error(format!(
            "{what} is a number of seconds above 0, not {s}"
        )))
    }
}

fn read_file(path: &str, what: &str) -> PyResult<Vec<u8>> {
    std::fs::read(path).map_err(|e| value_error(format!("reading the {what} {path}: {e}")))
}

/// The client's options, as `_client.py` passes them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Options {
    connect_timeout: Option<f64>,
    read_timeout: Option<f64>,
    write_timeout: Option<f64>,
    pool_timeout: Option<f64>,
    max_connections: Option<usize>,
    max_keepalive_connections: Option<usize>,
    max_connections_per_host: Option<usize>,
    http2: bool,
    http1: bool,
    verify: bool,
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    proxy: Option<String>,
    trust_env: bool,
    headers: Vec<(String, String)>,
    follow_redirects: bool,
    max_redirects: usize,
    retries: Option<u32>,
    backoff: Option<(f64, f64)>,
    max_body_bytes: Option<u64>,
    pins: Vec<String>,
    dns_ttl: Option<f64>,
    breaker: bool,
    hedge_after: Option<f64>,
    hedge_quantile: Option<f64>,
    rate: Option<f64>,
}

impl Options {
    fn builder(self) -> PyResult<tenax::ClientBuilder> {
        let mut b = tenax::Client::builder();
        if let Some(t) = limit(self.connect_timeout)? {
            b = b.connect_timeout(t);
        }
        if let Some(t) = limit(self.read_timeout)? {
            b = b.read_timeout(t);
        }
        if let Some(t) = limit(self.write_timeout)? {
            b = b.write_timeout(t);
        }
        if let Some(t) = limit(self.pool_timeout)? {
            b = b.pool_timeout(t);
        }
        if let Some(n) = self.max_connections {
            b = b.max_connections(n);
        }
        if let Some(n) = self.max_keepalive_connections {
            b = b.max_idle_per_host(n);
        }
        if let Some(n) = self.max_connections_per_host {
            b = b.max_connections_per_host(n);
        }
        b = match (self.http1, self.http2) {
            (false, true) => b.http2_only(),
            (true, false) => b.http1_only(),
            _ => b,
        };
        b = self.tls(b)?;
        if let Some(p) = &self.proxy {
            b = b.proxy(tenax::Proxy::all(p).map_err(to_py)?);
        }
        b = b.proxy_from_env(self.trust_env);
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let name = http::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| value_error(format!("{k:?} is not a header name")))?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| value_error(format!("the value of {k} is not a header value")))?;
            headers.append(name, value);
        }
        b = b.default_headers(headers);
        b = b.redirect(if self.follow_redirects {
            tenax::redirect::Policy::limited(self.max_redirects)
        } else {
            tenax::redirect::Policy::none()
        });
        b = self.resilience(b)?;
        if let Some(n) = self.max_body_bytes {
            b = b.max_body_bytes(n);
        }
        if let Some(ttl) = self.dns_ttl {
            b = b.dns_ttl(seconds(ttl, "dns_ttl")?);
        }
        Ok(b)
    }

    fn tls(&self, mut b: tenax::ClientBuilder) -> PyResult<tenax::ClientBuilder> {
        if !self.verify {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(path) = &self.ca_file {
            let pem = read_file(path, "CA file")?;
            for cert in tenax::tls::Certificate::from_pem_bundle(&pem).map_err(to_py)? {
                b = b.add_root_certificate(cert);
            }
        }
        if let Some(cert) = &self.cert_file {
            let chain = read_file(cert, "client certificate")?;
            let key = match &self.key_file {
                Some(k) => read_file(k, "private key")?,
                None => chain.clone(),
            };
            b = b.identity(tenax::tls::Identity::from_pem(&chain, &key).map_err(to_py)?);
        }
        for pin in &self.pins {
            b = b.pin_sha256(pin);
        }
        Ok(b)
    }

    fn resilience(&self, mut b: tenax::ClientBuilder) -> PyResult<tenax::ClientBuilder> {
        let mut policy = tenax::retry::Policy::default();
        if let Some(n) = self.retries {
            policy = policy.max_attempts(n.saturating_add(1));
        }
        if let Some((base, cap)) = self.backoff {
            policy = policy.backoff(seconds(base, "backoff")?, seconds(cap, "backoff cap")?);
        }
        b = b.retry(policy);
        if self.breaker {
            b = b.circuit_breaker(tenax::breaker::Policy::default());
        }
        if let Some(s) = self.hedge_after {
            b = b.hedge(tenax::Hedge::after(seconds(s, "hedge_after")?));
        } else if let Some(q) = self.hedge_quantile {
            b = b.hedge(tenax::Hedge::quantile(q).initial_delay(Duration::from_millis(250)));
        }
        if let Some(r) = self.rate {
            b = b.rate_limit(tenax::RateLimit::per_host(r, 1));
        }
        Ok(b)
    }
}

/// One request as `_client.py` hands it over: a tuple of method, URL, headers, body, the rest
/// of the operation deadline (seconds) and this request's read timeout.
#[derive(FromPyObject)]
pub(crate) struct Call(
    String,
    String,
    Vec<(String, String)>,
    Option<PyBackedBytes>,
    Option<f64>,
    Option<f64>,
);

impl Call {
    fn build(self, client: &tenax::Client) -> PyResult<tenax::RequestBuilder> {
        let Call(method, url, headers, body, deadline, read_timeout) = self;
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| value_error(format!("{method:?} is not a method")))?;
        let mut req = client.request(method, url.as_str());
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        if let Some(body) = body {
            req = req.body(Bytes::from_owner(body));
        }
        if let Some(d) = deadline {
            // A deadline already passed still gets its error from the request path.
            req = req.deadline(Duration::from_secs_f64(d.max(0.0)));
        }
        if let Some(t) = limit(read_timeout)? {
            req = req.read_timeout(t);
        }
        Ok(req)
    }
}

/// The Rust client behind `tenax.AsyncClient`.
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct Client {
    inner: tenax::Client,
}

#[pymethods]
impl Client {
    #[new]
    fn new(options: &Bound<'_, PyDict>) -> PyResult<Self> {
        let options: Options = options.extract()?;
        let builder = options.builder()?;
        // The pool's reaper and DNS cache live on the module's runtime.
        let _guard = pyo3_async_runtimes::tokio::get_runtime().enter();
        let inner = builder.build().map_err(to_py)?;
        Ok(Client { inner })
    }

    /// Sends a request and reads its whole body: the future of a `Response` on `bridge`'s
    /// event loop, and the task (to cancel).
    fn request(&self, py: Python<'_>, bridge: &Bridge, call: Call) -> PyResult<(Py<PyAny>, Task)> {
        let req = call.build(&self.inner)?;
        let fut = async move {
            let started = Instant::now();
            let res = req.send().await?;
            Response::read(res, started).await
        };
        bridge.spawn(py, fut, |py, r| Ok(Py::new(py, r)?.into_any()))
    }

    /// Sends a request and returns when its head arrives: an awaitable of a `Stream`.
    fn stream<'py>(&self, py: Python<'py>, call: Call) -> PyResult<Bound<'py, PyAny>> {
        let req = call.build(&self.inner)?;
        awaitable(py, async move {
            let res = req.send().await.map_err(to_py)?;
            Ok(Stream::new(res))
        })
    }

    /// A download to `path` (see `AsyncClient.download`): an awaitable of a dict.
    #[pyo3(signature = (url, path, *, sha256=None, digest=true, resume=true, min_speed=None, headers=Vec::new(), deadline=None))]
    #[allow(clippy::too_many_arguments)]
    fn download<'py>(
        &self,
        py: Python<'py>,
        url: String,
        path: std::path::PathBuf,
        sha256: Option<String>,
        digest: bool,
        resume: bool,
        min_speed: Option<(u64, f64)>,
        headers: Vec<(String, String)>,
        deadline: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut d = self.inner.download(url.as_str(), &path).resume(resume);
        if let Some(hex) = &sha256 {
            d = d.sha256(hex);
        } else {
            d = d.compute_sha256(digest);
        }
        if let Some((bytes, window)) = min_speed {
            d = d.min_speed(bytes, seconds(window, "min_speed window")?);
        }
        for (k, v) in &headers {
            let name = http::header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| value_error(format!("{k:?} is not a header name")))?;
            let value = http::HeaderValue::from_str(v)
                .map_err(|_| value_error(format!("the value of {k} is not a header value")))?;
            d = d.header(name, value);
        }
        if let Some(s) = deadline {
            d = d.deadline(Duration::from_secs_f64(s.max(0.0)));
        }
        awaitable(py, async move {
            let done = d.send().await.map_err(to_py)?;
            Python::attach(|py| {
                let out = PyDict::new(py);
                out.set_item("path", done.path)?;
                out.set_item("bytes", done.bytes)?;
                out.set_item("sha256", done.sha256)?;
                out.set_item("resumes", done.resumes)?;
                out.set_item("restarts", done.restarts)?;
                out.set_item("elapsed", done.elapsed.as_secs_f64())?;
                Ok(out.unbind())
            })
        })
    }

    /// Runs `calls` at most `concurrency` at a time; the results come from the returned
    /// `BatchResults` as each completes.
    fn batch(&self, calls: Vec<Call>, concurrency: usize) -> PyResult<BatchResults> {
        let reqs = calls
            .into_iter()
            .map(|c| c.build(&self.inner))
            .collect::<PyResult<Vec<_>>>()?;
        let (tx, rx) = mpsc::channel(concurrency.max(1));
        let client = self.inner.clone();
        let task = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
            let mut results = client
                .batch_with(reqs, |req| async move {
                    let started = Instant::now();
                    match req.send().await {
                        Ok(r) => Response::read(r, started).await,
                        Err(e) => Err(e),
                    }
                })
                .concurrency(concurrency.max(1));
            while let Some(item) = results.next().await {
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        Ok(BatchResults {
            rx: std::sync::Arc::new(tokio::sync::Mutex::new(rx)),
            task,
        })
    }

    /// Closes the client: requests in flight may finish for up to 10 s, then every
    /// connection is closed. An awaitable.
    fn aclose<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.inner.clone();
        awaitable(py, async move {
            client.close().await;
            Ok(())
        })
    }

    /// Closes the client from synchronous code (at once: no wait for requests in flight).
    fn close(&self, py: Python<'_>) {
        let client = self.inner.clone();
        block_on(py, async move {
            let _ = tokio::time::timeout(Duration::from_secs(1), client.close()).await;
        });
    }

    /// Connections open now.
    fn open_connections(&self) -> usize {
        self.inner.open_connections()
    }
}

type BatchItem = (usize, Result<Response, tenax::Error>);

/// The results of `Client.batch`, as they complete.
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct BatchResults {
    rx: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<BatchItem>>>,
    task: tokio::task::JoinHandle<()>,
}

#[pymethods]
impl BatchResults {
    /// The next `(index, Response or exception)`, or `None` when every request is done.
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rx = self.rx.clone();
        awaitable(py, async move {
            let item = rx.lock().await.recv().await;
            Python::attach(|py| -> PyResult<Option<(usize, Py<PyAny>)>> {
                Ok(match item {
                    None => None,
                    Some((i, Ok(r))) => Some((i, Py::new(py, r)?.into_any())),
                    Some((i, Err(e))) => Some((i, to_py(e).into_value(py).into_any())),
                })
            })
        })
    }

    /// Cancels the requests still running.
    fn cancel(&self) {
        self.task.abort();
    }
}

impl Drop for BatchResults {
    fn drop(&mut self) {
        self.task.abort();
    }
}
