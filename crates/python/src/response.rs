//! Responses as Python sees them: a whole one (`Response`, the body read in Rust before the
//! one crossing back), and a streamed one (`Stream`, each chunk a crossing).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict};
use tokio::sync::Mutex;

use crate::errors::to_py;
use crate::runtime::awaitable;

/// What a response head says, kept as Rust values until Python asks.
pub(crate) struct Head {
    status: u16,
    version: &'static str,
    headers: Vec<(String, Vec<u8>)>,
    url: String,
    attempts: u32,
    hedges: (u32, bool),
    retries: Vec<(u32, String, f64)>,
    timings: tenax::Timings,
    reused: bool,
}

fn version_str(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        http::Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

impl Head {
    pub(crate) fn of(r: &tenax::Response) -> Head {
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect();
        let retries = r
            .retries()
            .iter()
            .map(|x| (x.attempt, x.reason.to_string(), x.delay.as_secs_f64()))
            .collect();
        let h = r.hedges();
        Head {
            status: r.status().as_u16(),
            version: version_str(r.version()),
            headers,
            url: r.url().to_string(),
            attempts: r.attempts(),
            hedges: (h.sent, h.won),
            retries,
            timings: *r.timings(),
            reused: r.reused(),
        }
    }
}

fn secs(d: Option<Duration>) -> Option<f64> {
    d.map(|d| d.as_secs_f64())
}

/// The methods of a response class: the getters of the head both kinds share, and `$extra`.
/// (One `#[pymethods]` block per class, as PyO3 wants without `multiple-pymethods`.)
macro_rules! response_methods {
    ($t:ty, { $($extra:tt)* }) => {
        #[pymethods]
        impl $t {
            $($extra)*

            /// The status code.
            #[getter]
            fn status_code(&self) -> u16 {
                self.head.status
            }

            /// `"HTTP/1.1"` or `"HTTP/2"`.
            #[getter]
            fn http_version(&self) -> &'static str {
                self.head.version
            }

            /// The headers as `(name, value)` pairs, names lowercase, in order.
            #[getter]
            fn raw_headers<'py>(&self, py: Python<'py>) -> Vec<(String, Bound<'py, PyBytes>)> {
                (self.head.headers.iter())
                    .map(|(k, v)| (k.clone(), PyBytes::new(py, v)))
                    .collect()
            }

            /// The final URL (after redirects).
            #[getter]
            fn url(&self) -> &str {
                &self.head.url
            }

            /// Attempts the request took (1 without retries).
            #[getter]
            fn attempts(&self) -> u32 {
                self.head.attempts
            }

            /// `(hedges sent, whether a hedge won)`.
            #[getter]
            fn hedges(&self) -> (u32, bool) {
                self.head.hedges
            }

            /// The retries: `(attempt, reason, delay in seconds)`.
            #[getter]
            fn retries(&self) -> Vec<(u32, String, f64)> {
                self.head.retries.clone()
            }

            /// Whether the connection had served requests before.
            #[getter]
            fn reused(&self) -> bool {
                self.head.reused
            }

            /// Per-phase timings in seconds (`None` for phases that did not happen).
            #[getter]
            fn timings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let t = &self.head.timings;
                let d = PyDict::new(py);
                d.set_item("pool_wait", t.pool_wait.as_secs_f64())?;
                d.set_item("dns", secs(t.dns))?;
                d.set_item("connect", secs(t.connect))?;
                d.set_item("tls", secs(t.tls))?;
                d.set_item("write", secs(t.write))?;
                d.set_item("ttfb", t.ttfb.as_secs_f64())?;
                d.set_item("body", secs(t.body))?;
                d.set_item("total", secs(t.total))?;
                Ok(d)
            }
        }
    };
}

/// A response with its whole body.
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct Response {
    head: Head,
    body: Bytes,
    elapsed: f64,
    content: PyOnceLock<Py<PyBytes>>,
}

impl Response {
    /// Reads `r`'s body to its end (within the body cap) and keeps it.
    pub(crate) async fn read(
        r: tenax::Response,
        started: Instant,
    ) -> Result<Response, tenax::Error> {
        let head = Head::of(&r);
        let body = r.bytes().await?;
        Ok(Response {
            head,
            body,
            elapsed: started.elapsed().as_secs_f64(),
            content: PyOnceLock::new(),
        })
    }
}

response_methods!(Response, {
    /// The body (made into `bytes` once).
    #[getter]
    fn content<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.content
            .get_or_init(py, || PyBytes::new(py, &self.body).unbind())
            .bind(py)
            .clone()
    }

    /// Seconds from the call to the end of the body.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.elapsed
    }
});

/// A response whose body is read as it arrives.
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct Stream {
    head: Head,
    body: Arc<Mutex<Option<tenax::Response>>>,
}

impl Stream {
    pub(crate) fn new(r: tenax::Response) -> Stream {
        Stream {
            head: Head::of(&r),
            body: Arc::new(Mutex::new(Some(r))),
        }
    }
}

response_methods!(Stream, {
    /// The next chunk of the body (`None` at its end): an awaitable.
    fn next_chunk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let body = self.body.clone();
        awaitable(py, async move {
            let mut guard = body.lock().await;
            let Some(r) = guard.as_mut() else {
                return Ok(None);
            };
            match r.chunk().await {
                Ok(Some(c)) => Ok(Some(Python::attach(|py| PyBytes::new(py, &c).unbind()))),
                Ok(None) => {
                    *guard = None;
                    Ok(None)
                }
                Err(e) => {
                    *guard = None;
                    Err(to_py(e))
                }
            }
        })
    }

    /// Drops the body (its connection is closed, or reused if the body had ended).
    fn close(&self) {
        if let Ok(mut guard) = self.body.try_lock() {
            guard.take();
        }
    }
});
