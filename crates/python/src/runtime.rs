//! The module's tokio runtime: two worker threads, made on import. Rust futures become Python
//! awaitables through `pyo3-async-runtimes` (cancelling the awaitable drops the future, and
//! with it the request and its connection).
//!
//! Interpreter shutdown: a worker thread that enters Python while the interpreter finalizes
//! crashes the process. So every awaitable is counted while it runs and ends at once when the
//! module shuts down; `shutdown()` (registered with `atexit` by `tenax/__init__.py`) ends what
//! is in flight, waits with the GIL released until every awaitable has handed its result to
//! Python, and lets the last hand-over finish.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::sync::Notify;

static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
static SHUTDOWN: Notify = Notify::const_new();
static LAST_DONE: Mutex<Option<Instant>> = Mutex::new(None);

/// How long after an awaitable's end its worker thread may still be handing the result over.
const HAND_OVER: Duration = Duration::from_millis(50);

pub(crate) fn init() {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder
        .worker_threads(2)
        .thread_name("tenax-python")
        .enable_all();
    pyo3_async_runtimes::tokio::init(builder);
}

/// Counts an awaitable out when its future ends (or is dropped).
pub(crate) struct Counted;

impl Counted {
    /// Counts one in; refused once the module is shutting down.
    pub(crate) fn new() -> PyResult<Counted> {
        if SHUTTING_DOWN.load(Ordering::SeqCst) {
            return Err(shut_down());
        }
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        Ok(Counted)
    }
}

/// Resolves when the module shuts down.
pub(crate) async fn shutting_down() {
    let stop = SHUTDOWN.notified();
    tokio::pin!(stop);
    stop.as_mut().enable();
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return;
    }
    stop.await
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Ok(mut last) = LAST_DONE.lock() {
            *last = Some(Instant::now());
        }
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A Python awaitable running `fut` on the module's runtime.
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    let counted = Counted::new()?;
    pyo3_async_runtimes::tokio::future_into_py(py, async move {
        let _counted = counted;
        tokio::select! {
            res = fut => res,
            () = shutting_down() => Err(shut_down()),
        }
    })
}

pub(crate) fn shut_down() -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err("tenax: the interpreter is shutting down")
}

/// Ends every awaitable in flight and waits (GIL released, up to 2 s) until they are gone.
#[pyfunction]
pub(crate) fn shutdown(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    SHUTDOWN.notify_waiters();
    py.detach(|| {
        let give_up = Instant::now() + Duration::from_secs(2);
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(1));
        }
        let last = LAST_DONE.lock().ok().and_then(|l| *l);
        if let Some(at) = last {
            let until = at + HAND_OVER;
            let now = Instant::now();
            if until > now {
                std::thread::sleep(until - now);
            }
        }
    });
}

/// Runs `fut` to its end on the module's runtime with the GIL released (for `close()` called
/// from synchronous code).
pub(crate) fn block_on<F>(py: Python<'_>, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| pyo3_async_runtimes::tokio::get_runtime().block_on(fut))
}
