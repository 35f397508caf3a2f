//! `tenax.ws`: the resilient WebSocket for Python — heartbeat, read deadline, bounded outbox,
//! reconnect — as one object whose methods are awaitables.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::{PyBytes, PyDict};
use tokio::sync::Mutex;

use crate::bridge::{Bridge, Task};
use crate::client::seconds;
use crate::errors::{to_py, value_error};
use crate::runtime::awaitable;

/// The options of `tenax.ws.connect`, as `tenax/ws.py` passes them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct WsOptions {
    headers: Vec<(String, String)>,
    heartbeat: Option<f64>,
    pong_timeout: Option<f64>,
    read_deadline: Option<f64>,
    outbox: Option<(usize, usize)>,
    reconnect: bool,
    max_attempts: Option<u32>,
    backoff: Option<(f64, f64)>,
    compression: bool,
    subprotocols: Vec<String>,
    connect_timeout: Option<f64>,
}

/// Connects to `url`: an awaitable of a `WebSocket`.
#[pyfunction]
pub(crate) fn ws_connect<'py>(
    py: Python<'py>,
    url: String,
    options: &Bound<'py, PyDict>,
    bridge: Py<Bridge>,
) -> PyResult<Bound<'py, PyAny>> {
    let o: WsOptions = options.extract()?;
    let mut cb = tenax::Client::builder();
    if let Some(t) = o.connect_timeout {
        cb = cb.connect_timeout(seconds(t, "connect_timeout")?);
    }
    let client = {
        let _guard = pyo3_async_runtimes::tokio::get_runtime().enter();
        cb.build().map_err(to_py)?
    };
    let mut b = client.websocket(url.as_str()).reconnect(o.reconnect);
    for (k, v) in &o.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b = match o.heartbeat {
        Some(0.0) => b.heartbeat(None),
        Some(s) => b.heartbeat(seconds(s, "heartbeat")?),
        None => b,
    };
    if let Some(s) = o.pong_timeout {
        b = b.pong_timeout(seconds(s, "pong_timeout")?);
    }
    if let Some(s) = o.read_deadline {
        b = b.read_deadline(seconds(s, "read_deadline")?);
    }
    if let Some((messages, bytes)) = o.outbox {
        b = b.outbox(messages, bytes);
    }
    if o.max_attempts.is_some() {
        b = b.max_attempts(o.max_attempts);
    }
    if let Some((base, max)) = o.backoff {
        b = b.backoff(seconds(base, "backoff")?, seconds(max, "backoff cap")?);
    }
    if o.compression {
        b = b.compression(tenax::ws::Compression::default());
    }
    if !o.subprotocols.is_empty() {
        b = b.subprotocols(o.subprotocols);
    }
    awaitable(py, async move {
        let mut ws = b.connect().await.map_err(to_py)?;
        let events = ws.events();
        Ok(WebSocket {
            sender: ws.sender(),
            socket: Arc::new(Mutex::new(Some(ws))),
            events: Arc::new(Mutex::new(events)),
            closing: Arc::new(tokio::sync::Notify::new()),
            bridge,
            _client: client,
        })
    })
}

/// A WebSocket connection that reconnects (see `tenax.ws.connect`).
#[pyclass(module = "tenax._tenax", frozen)]
pub(crate) struct WebSocket {
    sender: tenax::ws::WsSender,
    socket: Arc<Mutex<Option<tenax::ws::WebSocket>>>,
    events: Arc<Mutex<tenax::ws::Events>>,
    /// Wakes a `recv` waiting on the socket so that `close` can take it.
    closing: Arc<tokio::sync::Notify>,
    /// How results come back to the event loop (see `bridge.rs`).
    bridge: Py<Bridge>,
    _client: tenax::Client,
}

/// A received message as Python sees it: `str`, `bytes`, or `None` (closed for good).
fn message_to_py(py: Python<'_>, msg: Option<tenax::ws::Message>) -> PyResult<Py<PyAny>> {
    Ok(match msg {
        Some(tenax::ws::Message::Text(s)) => s.into_pyobject(py)?.into_any().unbind(),
        Some(tenax::ws::Message::Binary(b)) => PyBytes::new(py, &b).into_any().unbind(),
        _ => py.None(),
    })
}

/// A message to send: text or bytes.
#[derive(FromPyObject)]
enum Outgoing {
    Text(PyBackedStr),
    Binary(PyBackedBytes),
}

impl From<Outgoing> for tenax::ws::Message {
    fn from(o: Outgoing) -> Self {
        match o {
            Outgoing::Text(s) => tenax::ws::Message::Text(s.to_string()),
            Outgoing::Binary(b) => tenax::ws::Message::Binary(bytes::Bytes::from_owner(b)),
        }
    }
}

#[pymethods]
impl WebSocket {
    /// Queues a message (waits while the outbox is full): the future and its task.
    fn send(&self, py: Python<'_>, message: Outgoing) -> PyResult<(Py<PyAny>, Task)> {
        let sender = self.sender.clone();
        let message = tenax::ws::Message::from(message);
        let fut = async move {
            (sender.send(message).await)
                .map_err(|e| value_error(format!("the WebSocket is closed: {e}")))
        };
        self.bridge.get().spawn(py, fut, |py, ()| Ok(py.None()))
    }

    /// Queues a message if the outbox has room now: `True`; `False` when it is full (then
    /// `send` waits for room). Without a crossing to the runtime: the common case.
    fn try_send(&self, message: Outgoing) -> PyResult<bool> {
        match self.sender.try_send(tenax::ws::Message::from(message)) {
            Ok(()) => Ok(true),
            Err(e) if e.error().is_outbox_full() => Ok(false),
            Err(e) => Err(to_py(e.into_error())),
        }
    }

    /// The next message if one has arrived: `(True, message)`, else `(False, None)` (then
    /// `recv` waits). Without a crossing to the runtime: the common case under load.
    fn try_recv(&self, py: Python<'_>) -> PyResult<(bool, Py<PyAny>)> {
        let Ok(mut guard) = self.socket.try_lock() else {
            return Ok((false, py.None()));
        };
        let Some(ws) = guard.as_mut() else {
            return Ok((true, py.None()));
        };
        match futures_util::FutureExt::now_or_never(ws.recv()) {
            None => Ok((false, py.None())),
            Some(m) => Ok((true, message_to_py(py, m)?)),
        }
    }

    /// The next message (`str` or `bytes`; `None` once closed for good): the future and its
    /// task.
    fn recv(&self, py: Python<'_>) -> PyResult<(Py<PyAny>, Task)> {
        let (socket, closing) = (self.socket.clone(), self.closing.clone());
        let fut = async move {
            let mut guard = socket.lock().await;
            let Some(ws) = guard.as_mut() else {
                return Ok::<_, PyErr>(None);
            };
            Ok(tokio::select! {
                m = ws.recv() => m,
                () = closing.notified() => None,
            })
        };
        self.bridge.get().spawn(py, fut, message_to_py)
    }

    /// The next state change as `(kind, detail)`, `None` once closed: an awaitable.
    fn next_event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let events = self.events.clone();
        awaitable(py, async move {
            let e = events.lock().await.recv().await;
            Ok(e.map(|e| {
                let detail = format!("{e:?}");
                let kind = detail
                    .split(|c: char| !c.is_alphanumeric())
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                (kind, detail)
            }))
        })
    }

    /// Closes (a close frame, then the connection), waiting up to `timeout` seconds for the
    /// outbox to drain; returns the messages never sent.
    #[pyo3(signature = (timeout=5.0))]
    fn close<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let (socket, closing) = (self.socket.clone(), self.closing.clone());
        let wait = seconds(timeout, "timeout")?;
        awaitable(py, async move {
            closing.notify_waiters();
            let ws = socket.lock().await.take();
            let unsent = match ws {
                Some(ws) => ws.close(wait).await,
                None => Vec::new(),
            };
            Ok(unsent.len())
        })
    }

    /// Whether a connection is up now.
    fn is_connected(&self) -> bool {
        self.socket
            .try_lock()
            .map(|g| g.as_ref().is_some_and(|ws| ws.is_connected()))
            .unwrap_or(true)
    }
}
