//! `tenax._tenax`: the Rust core of the Python package. The Python side (`python/tenax/`)
//! gives it httpx's shape; this side keeps each request to one crossing: Python hands over the
//! method, URL, headers and body, Rust runs the whole request (retries, redirects, the body
//! read) on the module's tokio runtime with the GIL released, and hands back one response.

use pyo3::prelude::*;

mod bridge;
mod client;
mod errors;
mod response;
mod runtime;
mod ws;

/// `url` with the password of its user information replaced (the library's one rule).
#[pyfunction]
fn redact_url(url: &str) -> String {
    tenax::redact_url(url).into_owned()
}

#[pymodule]
fn _tenax(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init();
    m.add_class::<bridge::Bridge>()?;
    m.add_class::<bridge::Task>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<response::Response>()?;
    m.add_class::<response::Stream>()?;
    m.add_class::<client::BatchResults>()?;
    m.add_class::<ws::WebSocket>()?;
    m.add_function(wrap_pyfunction!(ws::ws_connect, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(redact_url, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
