//! The way results come back to Python without the GIL on the runtime's threads.
//!
//! A worker thread that finishes a request does not enter Python (that would contend for the
//! GIL with the event loop's thread, up to the interpreter's 5 ms switch interval, and crash if
//! the interpreter is finalizing). It queues the outcome and, if no wake is pending, writes one
//! byte to a socket the event loop watches (`loop.add_reader`). The loop's thread then drains
//! every queued outcome in one callback, building the Python objects there, with the GIL it
//! already holds. One `Bridge` per event loop (see `tenax/_bridge.py`).

use std::future::Future;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

/// Makes the Python value of an outcome, on the event loop's thread.
type Deliver = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

struct Shared {
    queue: Mutex<Vec<(Py<PyAny>, Deliver)>>,
    /// A wake byte is on its way.
    armed: AtomicBool,
    wake: UnixStream,
}

impl Shared {
    fn push(&self, fut: Py<PyAny>, deliver: Deliver) {
        if let Ok(mut q) = self.queue.lock() {
            q.push((fut, deliver));
        }
        if !self.armed.swap(true, Ordering::SeqCst) {
            // A full socket already holds a wake; nothing else can fail here that a retry
            // would fix.
            let _ = (&self.wake).write(&[1]);
        }
    }
}

/// Completions for one event loop.
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct Bridge {
    shared: Arc<Shared>,
    watch: UnixStream,
    event_loop: Py<PyAny>,
}

/// A request running on the runtime; `cancel()` drops it (and closes its connection).
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct Task {
    handle: tokio::task::AbortHandle,
}

#[pymethods]
impl Task {
    fn cancel(&self) {
        self.handle.abort();
    }
}

#[pymethods]
impl Bridge {
    #[new]
    fn new(event_loop: Py<PyAny>) -> PyResult<Self> {
        let (watch, wake) = UnixStream::pair()?;
        watch.set_nonblocking(true)?;
        wake.set_nonblocking(true)?;
        Ok(Bridge {
            shared: Arc::new(Shared {
                queue: Mutex::new(Vec::new()),
                armed: AtomicBool::new(false),
                wake,
            }),
            watch,
            event_loop,
        })
    }

    /// The descriptor the event loop watches.
    fn fileno(&self) -> i32 {
        self.watch.as_raw_fd()
    }

    /// Delivers every queued outcome to its future (called by the event loop).
    fn drain(&self, py: Python<'_>) -> PyResult<()> {
        // The socket first, then the flag, then the queue: a wake written after the read stays
        // for the next drain; an outcome queued before the flag was cleared is taken below.
        let mut buf = [0u8; 64];
        loop {
            match (&self.watch).read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        self.shared.armed.store(false, Ordering::SeqCst);
        let done = match self.shared.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return Ok(()),
        };
        for (fut, deliver) in done {
            let fut = fut.bind(py);
            // A cancelled awaiting task left its future done.
            if fut.call_method0("done")?.is_truthy()? {
                continue;
            }
            match deliver(py) {
                Ok(v) => fut.call_method1("set_result", (v,))?,
                Err(e) => fut.call_method1("set_exception", (e.into_value(py),))?,
            };
        }
        Ok(())
    }
}

/// Why a call failed: a Tenax error (made a Python exception on the loop's thread), or a
/// Python one.
pub(crate) enum Failure {
    Tenax(tenax::Error),
    Py(PyErr),
}

impl From<tenax::Error> for Failure {
    fn from(e: tenax::Error) -> Self {
        Failure::Tenax(e)
    }
}

impl From<PyErr> for Failure {
    fn from(e: PyErr) -> Self {
        Failure::Py(e)
    }
}

impl Bridge {
    /// Runs `fut` on the module's runtime: the Python future it completes, and its task.
    pub(crate) fn spawn<F, T, E, C>(
        &self,
        py: Python<'_>,
        fut: F,
        convert: C,
    ) -> PyResult<(Py<PyAny>, Task)>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<Failure> + Send + 'static,
        T: Send + 'static,
        C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
    {
        let pyfut = self
            .event_loop
            .bind(py)
            .call_method0("create_future")?
            .unbind();
        let shared = self.shared.clone();
        let target = pyfut.clone_ref(py);
        let counted = crate::runtime::Counted::new()?;
        let handle = pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
            let _counted = counted;
            let out = tokio::select! {
                out = fut => out.map_err(Into::into),
                () = crate::runtime::shutting_down() => Err(Failure::Py(crate::runtime::shut_down())),
            };
            let deliver: Deliver = Box::new(move |py| match out {
                Ok(v) => convert(py, v),
                Err(Failure::Tenax(e)) => Err(crate::errors::to_py(e)),
                Err(Failure::Py(e)) => Err(e),
            });
            shared.push(target, deliver);
        });
        Ok((
            pyfut,
            Task {
                handle: handle.abort_handle(),
            },
        ))
    }
}
