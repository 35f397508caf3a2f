//! Tenax's errors as Python exceptions. The classes live in `tenax/_exceptions.py` (httpx's
//! names where httpx has one); this file names the class for an error by its predicates and
//! hands over what the exception carries (message, phase, attempts, URL, status).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

static MAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The exception class for an error, by name (see `_exceptions.py`).
fn class_of(e: &tenax::Error) -> &'static str {
    use tenax::TimeoutPhase;
    match e.timeout_phase() {
        Some(TimeoutPhase::Connect) => return "ConnectTimeout",
        Some(TimeoutPhase::Read) => return "ReadTimeout",
        Some(TimeoutPhase::Write) => return "WriteTimeout",
        Some(TimeoutPhase::Pool) => return "PoolTimeout",
        Some(TimeoutPhase::Deadline) => return "DeadlineExceeded",
        _ => {}
    }
    if e.is_circuit_open() {
        "CircuitOpen"
    } else if e.is_proxy() {
        "ProxyError"
    } else if e.is_tls() || e.is_certificate() || e.is_pin_mismatch() {
        "TLSError"
    } else if e.is_connect() || e.is_dns() {
        "ConnectError"
    } else if e.is_status() {
        "HTTPStatusError"
    } else if e.is_redirect() {
        "TooManyRedirects"
    } else if e.is_body_too_large() {
        "BodyTooLarge"
    } else if e.is_digest_mismatch() {
        "DigestMismatch"
    } else if e.is_decode() {
        "DecodingError"
    } else if e.is_empty_reply() || e.is_protocol() {
        "RemoteProtocolError"
    } else if e.is_send() {
        "WriteError"
    } else if e.is_recv() {
        "ReadError"
    } else if e.is_invalid_url() {
        "InvalidURL"
    } else if e.is_closed() {
        "ClientClosed"
    } else if e.is_websocket() {
        "WebSocketError"
    } else if e.is_write() {
        "LocalWriteError"
    } else if e.is_builder() {
        "RequestError"
    } else {
        "TransportError"
    }
}

/// The error and its causes on one line.
fn message(e: &tenax::Error) -> String {
    let mut text = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        let s_text = s.to_string();
        if !text.ends_with(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        next = s.source();
    }
    text
}

/// The Python exception for `e`.
pub(crate) fn to_py(e: tenax::Error) -> PyErr {
    Python::attach(|py| match make(py, &e) {
        Ok(err) => err,
        // The package's Python half is missing or broken: still an exception, with the text.
        Err(broken) => broken,
    })
}

fn make(py: Python<'_>, e: &tenax::Error) -> PyResult<PyErr> {
    let make = MAKE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("tenax._exceptions")?.getattr("_make")?.unbind())
    })?;
    let phase = e.timeout_phase().map(|p| p.as_str());
    let exc = make.bind(py).call1((
        class_of(e),
        message(e),
        phase,
        e.attempts(),
        e.is_retry_exhausted(),
        e.url(),
        e.status().map(|s| s.as_u16()),
        e.limit().map(|d| d.as_secs_f64()),
    ))?;
    Ok(PyErr::from_value(exc))
}

/// A Python `ValueError` for bad input found before any request (an option of the wrong kind).
pub(crate) fn value_error(msg: impl Into<String>) -> PyErr {
    pyo3::exceptions::PyValueError::new_err(msg.into())
}
