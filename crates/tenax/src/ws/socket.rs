//! The handles: `WebSocket` (receive, send, events, close) and `WsSender` (send only, cheap
//! to clone for other tasks).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use super::Shared;
use super::event::WsEvent;
use super::message::Message;
use super::outbox::SendError;
use crate::error::{Error, Kind};

/// A resilient WebSocket: messages in as a [`Stream`](futures_core::Stream) (or
/// [`recv`](Self::recv)), out through a bounded outbox, the connection kept alive and
/// reopened in the background. Made by [`WsBuilder::connect`](super::WsBuilder::connect).
///
/// Dropping it closes the connection at once, without flushing; call
/// [`close`](Self::close) to flush and get back what could not be sent.
pub struct WebSocket {
    sender: WsSender,
    /// Received messages taken from the inbox in one batch, and how many of them were read
    /// since the last take.
    cache: std::collections::VecDeque<Message>,
    read: usize,
    task: Option<JoinHandle<()>>,
    events: Option<broadcast::Receiver<WsEvent>>,
}

/// The sending half of a [`WebSocket`], for other tasks: cheap to clone.
#[derive(Clone)]
pub struct WsSender {
    shared: Arc<Shared>,
}

/// Counters of a WebSocket, from [`WebSocket::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsStats {
    /// Whether a connection is open now.
    pub connected: bool,
    /// Messages waiting in the outbox.
    pub queued: usize,
    /// Messages whose write to a socket finished.
    pub sent: u64,
    /// Data messages received.
    pub received: u64,
    /// Connections opened after the first.
    pub reconnects: u64,
    /// Messages written into connections that then failed before a pong confirmed them.
    pub possibly_lost: u64,
}

/// The state changes of a WebSocket, from [`WebSocket::events`].
pub struct Events {
    rx: broadcast::Receiver<WsEvent>,
}

impl Events {
    /// The next event; `None` once the WebSocket is gone and every event was read. A reader
    /// more than 16 events behind skips the oldest.
    pub async fn recv(&mut self) -> Option<WsEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Events {
    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<WsEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                Err(_) => return None,
            }
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

impl WsSender {
    /// Queues a message, waiting while the outbox is full (back-pressure). Fails, handing the
    /// message back, once the WebSocket is closed.
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.shared.outbox.send(message.into(), None).await
    }

    /// Queues a message if the outbox has room now; otherwise hands it back with an error
    /// ([`Error::is_outbox_full`] or [`Error::is_closed`]).
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.shared.outbox.try_send(message.into())
    }

    /// Queues a message and resolves once it was flushed to the socket (after a reconnect,
    /// if the connection failed first). Fails if the WebSocket closes before; the message is
    /// then among those [`close`](WebSocket::close) hands back.
    pub async fn send_confirmed(&self, message: impl Into<Message>) -> crate::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .outbox
            .send(message.into(), Some(tx))
            .await
            .map_err(|e| e.error().duplicate())?;
        rx.await.map_err(|_| {
            Error::new(Kind::Closed).with_what("(the WebSocket closed before the write)")
        })
    }

    /// Queues a message ahead of all queued data (a control message of the application:
    /// an unsubscribe, a cancel). At most 64 wait at once; the lane does not count against
    /// the outbox bounds.
    pub fn send_priority(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.shared.outbox.send_priority(message.into())
    }

    /// Whether the WebSocket closed for good.
    pub fn is_closed(&self) -> bool {
        // A requested close and the end of the task both close the outbox.
        self.shared.outbox.is_closed()
    }
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSender").finish_non_exhaustive()
    }
}

impl WebSocket {
    pub(crate) fn new(
        shared: Arc<Shared>,
        task: JoinHandle<()>,
        events: broadcast::Receiver<WsEvent>,
    ) -> WebSocket {
        WebSocket {
            sender: WsSender { shared },
            cache: std::collections::VecDeque::new(),
            read: 0,
            task: Some(task),
            events: Some(events),
        }
    }

    fn shared(&self) -> &Shared {
        &self.sender.shared
    }

    /// A sending handle for another task.
    pub fn sender(&self) -> WsSender {
        self.sender.clone()
    }

    /// See [`WsSender::send`].
    pub async fn send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.sender.send(message).await
    }

    /// See [`WsSender::try_send`].
    pub fn try_send(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.sender.try_send(message)
    }

    /// See [`WsSender::send_confirmed`].
    pub async fn send_confirmed(&self, message: impl Into<Message>) -> crate::Result<()> {
        self.sender.send_confirmed(message).await
    }

    /// See [`WsSender::send_priority`].
    pub fn send_priority(&self, message: impl Into<Message>) -> Result<(), SendError> {
        self.sender.send_priority(message)
    }

    /// The next message received; `None` once the WebSocket closed for good and every
    /// received message was read.
    pub async fn recv(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if let Some(m) = self.cache.pop_front() {
            self.read += 1;
            return Poll::Ready(Some(m));
        }
        let mut was_full = false;
        let read = std::mem::take(&mut self.read);
        let shared = self.sender.shared.clone();
        let r = shared
            .inbox
            .poll_take(cx, &mut self.cache, read, &mut was_full);
        if was_full {
            // The connection stopped reading when the buffer filled: there is room again.
            shared.outbox.writer.wake();
        }
        match r {
            Poll::Ready(true) => {
                self.read = 1;
                Poll::Ready(self.cache.pop_front())
            }
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The WebSocket's state changes: connecting, connected, disconnected (with the reason
    /// and how many messages may have been lost), reconnecting (with the delay), closed. The
    /// first call sees every event since `connect` (up to 16); later calls see new ones.
    pub fn events(&mut self) -> Events {
        let rx = match self.events.take() {
            Some(rx) => rx,
            None => self.shared().events.subscribe(),
        };
        Events { rx }
    }

    /// Whether a connection is open now.
    pub fn is_connected(&self) -> bool {
        self.shared().connected.load(Ordering::Acquire)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WsStats {
        let s = self.shared();
        WsStats {
            connected: s.connected.load(Ordering::Acquire),
            queued: s.outbox.len(),
            sent: s.sent.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            possibly_lost: s.possibly_lost.load(Ordering::Relaxed),
        }
    }

    /// Closes: no new messages are accepted, queued ones are flushed and the closing handshake
    /// made, all within `deadline` (the wait for the peer's close frame is at most 2 s of it).
    /// Returns the messages that could not be sent, in order (a message whose write had
    /// started may be among them and may also have reached the peer).
    pub async fn close(mut self, deadline: Duration) -> Vec<Message> {
        self.request_close(deadline);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        std::mem::take(&mut *self.shared().unsent.lock().await)
    }

    fn request_close(&self, deadline: Duration) {
        let s = self.shared();
        *crate::sync::lock(&s.close_deadline) = Some(tokio::time::Instant::now() + deadline);
        s.close_requested.store(true, Ordering::Release);
        s.outbox.close();
        s.outbox.writer.wake();
        s.close_notify.notify_one();
    }
}

impl futures_core::Stream for WebSocket {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.request_close(Duration::ZERO);
        }
    }
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("stats", &self.stats())
            .finish()
    }
}
