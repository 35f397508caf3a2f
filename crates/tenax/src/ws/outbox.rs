//! The outbox: messages waiting for the socket, bounded by count and bytes.
//!
//! Producers take permits (one message, its length in bytes) before queueing, so a full outbox
//! makes `send` wait, fairly, in arrival order. The permits go back only when the message's
//! write has finished: a message queued, or written into a connection that died before the
//! write finished, still holds its room, and is sent again after the reconnect.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::task::AtomicWaker;
use tokio::sync::{Semaphore, oneshot};

use super::message::{Message, Outgoing};
use crate::error::{Error, Kind};

/// How many priority messages may wait at once.
pub(crate) const PRIORITY_LIMIT: usize = 64;

/// One queued message.
pub(crate) struct Item {
    pub(crate) msg: Outgoing,
    /// Bytes permits held (0 for priority and on-connect messages, which hold none).
    pub(crate) bytes: u32,
    /// Whether it holds a message permit.
    pub(crate) counted: bool,
    /// Sent messages from the on-connect hook belong to one connection: never replayed.
    pub(crate) hello: bool,
    /// Resolved once the message is flushed to the socket.
    pub(crate) confirm: Option<oneshot::Sender<()>>,
    /// Its number among the messages handed to the codec on its connection.
    pub(crate) seq: u64,
}

#[derive(Default)]
struct Queues {
    priority: VecDeque<Item>,
    data: VecDeque<Item>,
}

pub(crate) struct Outbox {
    queues: Mutex<Queues>,
    messages: Semaphore,
    bytes: Semaphore,
    max_bytes: u32,
    closed: AtomicBool,
    /// The connection's task, woken when something is queued.
    pub(crate) writer: AtomicWaker,
    /// Messages held against the limit (queued or being written), as a gauge (feature
    /// `metrics`: `tenax.websocket.outbox.messages`).
    #[cfg(feature = "metrics")]
    depth: std::sync::OnceLock<(metrics::Gauge, usize)>,
}

/// Why a message could not be queued; it comes back with the error.
#[derive(Debug)]
pub struct SendError {
    message: Message,
    error: Error,
}

impl SendError {
    /// The message that was not queued.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// The reason: [`Error::is_outbox_full`] or [`Error::is_closed`].
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The reason, owned (the message is dropped).
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

/// For `?` in functions returning [`crate::Result`]: the message is dropped.
impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        e.error
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

fn closed_error() -> Error {
    Error::new(Kind::Closed).with_what("(the WebSocket is closed)")
}

impl Outbox {
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Outbox {
        let max_bytes = u32::try_from(max_bytes.max(1)).unwrap_or(u32::MAX);
        Outbox {
            queues: Mutex::default(),
            messages: Semaphore::new(max_messages.clamp(1, Semaphore::MAX_PERMITS)),
            bytes: Semaphore::new(max_bytes as usize),
            max_bytes,
            closed: AtomicBool::new(false),
            writer: AtomicWaker::new(),
            #[cfg(feature = "metrics")]
            depth: std::sync::OnceLock::new(),
        }
    }

    /// Reports the outbox's depth under `url` (feature `metrics`; otherwise nothing).
    pub(crate) fn measure_as(&self, _url: &http::Uri, _max_messages: usize) {
        #[cfg(feature = "metrics")]
        {
            let g =
                metrics::gauge!("tenax.websocket.outbox.messages", "url.full" => _url.to_string());
            let _ = self
                .depth
                .set((g, _max_messages.clamp(1, Semaphore::MAX_PERMITS)));
        }
    }

    fn record_depth(&self) {
        #[cfg(feature = "metrics")]
        if let Some((g, max)) = self.depth.get() {
            g.set(max.saturating_sub(self.messages.available_permits()) as f64);
        }
    }

    /// The bytes permits a message takes: its length, at most the whole budget (so a message
    /// larger than the budget still goes, alone).
    fn weight(&self, msg: &Outgoing) -> u32 {
        u32::try_from(msg.data.len())
            .unwrap_or(u32::MAX)
            .min(self.max_bytes)
    }

    /// Queues a message, waiting for room.
    pub(crate) async fn send(
        &self,
        message: Message,
        confirm: Option<oneshot::Sender<()>>,
    ) -> Result<(), SendError> {
        let msg = Outgoing::from(message);
        let weight = self.weight(&msg);
        let fail = |msg: Outgoing| SendError {
            message: msg.into_message(),
            error: closed_error(),
        };
        // Permits free now are taken without an await: tokio's cooperative budget would
        // otherwise make a producer yield every few dozen sends, and the connection's task
        // would flush each short run on its own (four times the writes, measured).
        match self.messages.try_acquire() {
            Ok(m) => m.forget(),
            Err(_) => match self.messages.acquire().await {
                Ok(m) => m.forget(),
                Err(_) => return Err(fail(msg)),
            },
        }
        match self.bytes.try_acquire_many(weight) {
            Ok(b) => b.forget(),
            Err(_) => match self.bytes.acquire_many(weight).await {
                Ok(b) => b.forget(),
                Err(_) => {
                    self.messages.add_permits(1);
                    return Err(fail(msg));
                }
            },
        }
        self.push(Item {
            msg,
            bytes: weight,
            counted: true,
            hello: false,
            confirm,
            seq: 0,
        });
        Ok(())
    }

    /// Queues a message if there is room now.
    pub(crate) fn try_send(&self, message: Message) -> Result<(), SendError> {
        let msg = Outgoing::from(message);
        let weight = self.weight(&msg);
        let err = |msg: Outgoing, full: bool| SendError {
            message: msg.into_message(),
            error: if full {
                Error::new(Kind::OutboxFull)
            } else {
                closed_error()
            },
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(err(msg, false));
        }
        let m = match self.messages.try_acquire() {
            Ok(m) => m,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(err(msg, false)),
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(err(msg, true)),
        };
        let b = match self.bytes.try_acquire_many(weight) {
            Ok(b) => b,
            Err(tokio::sync::TryAcquireError::Closed) => return Err(err(msg, false)),
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(err(msg, true)),
        };
        m.forget();
        b.forget();
        self.push(Item {
            msg,
            bytes: weight,
            counted: true,
            hello: false,
            confirm: None,
            seq: 0,
        });
        Ok(())
    }

    /// Queues a message ahead of the data, outside the data's bounds (at most
    /// [`PRIORITY_LIMIT`] wait at once).
    pub(crate) fn send_priority(&self, message: Message) -> Result<(), SendError> {
        let msg = Outgoing::from(message);
        if self.closed.load(Ordering::Acquire) {
            return Err(SendError {
                message: msg.into_message(),
                error: closed_error(),
            });
        }
        let mut q = crate::sync::lock(&self.queues);
        if q.priority.len() >= PRIORITY_LIMIT {
            return Err(SendError {
                message: msg.into_message(),
                error: Error::new(Kind::OutboxFull).with_what("(priority lane)"),
            });
        }
        q.priority.push_back(Item {
            msg,
            bytes: 0,
            counted: false,
            hello: false,
            confirm: None,
            seq: 0,
        });
        drop(q);
        self.writer.wake();
        Ok(())
    }

    fn push(&self, item: Item) {
        crate::sync::lock(&self.queues).data.push_back(item);
        self.record_depth();
        self.writer.wake();
    }

    /// Moves everything queued, priority first, to the back of `into`.
    pub(crate) fn take_all(&self, into: &mut VecDeque<Item>) {
        let mut q = crate::sync::lock(&self.queues);
        into.extend(q.priority.drain(..));
        if into.is_empty() {
            std::mem::swap(into, &mut q.data);
        } else {
            into.extend(q.data.drain(..));
        }
    }

    /// Puts messages that were taken but not written back at the front, in their order;
    /// on-connect messages are dropped (the next connection's hook sends its own).
    pub(crate) fn requeue_front(&self, items: impl DoubleEndedIterator<Item = Item>) {
        let mut q = crate::sync::lock(&self.queues);
        for item in items.rev() {
            if item.hello {
                continue;
            }
            if item.counted {
                q.data.push_front(item);
            } else {
                q.priority.push_front(item);
            }
        }
    }

    /// Gives back the room of written messages and confirms them.
    pub(crate) fn written(&self, items: impl Iterator<Item = Item>) {
        let (mut n, mut bytes) = (0usize, 0usize);
        for item in items {
            if item.counted {
                n += 1;
                bytes += item.bytes as usize;
            }
            if let Some(c) = item.confirm {
                let _ = c.send(());
            }
        }
        if n > 0 {
            self.messages.add_permits(n);
            self.bytes.add_permits(bytes);
            self.record_depth();
        }
    }

    /// Whether nothing waits to be written.
    pub(crate) fn is_empty(&self) -> bool {
        let q = crate::sync::lock(&self.queues);
        q.priority.is_empty() && q.data.is_empty()
    }

    /// Messages waiting (priority and data).
    pub(crate) fn len(&self) -> usize {
        let q = crate::sync::lock(&self.queues);
        q.priority.len() + q.data.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Refuses new messages; producers waiting for room fail with the message.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.messages.close();
        self.bytes.close();
    }

    /// Empties the outbox, for the caller of `close`.
    pub(crate) fn drain(&self) -> Vec<Message> {
        let mut q = crate::sync::lock(&self.queues);
        let q = &mut *q;
        let items: Vec<Item> = q.priority.drain(..).chain(q.data.drain(..)).collect();
        items
            .into_iter()
            .filter(|i| !i.hello)
            .map(|i| i.msg.into_message())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_outbox_blocks_the_producer_until_a_write_finishes() {
        let out = std::sync::Arc::new(Outbox::new(2, 1 << 20));
        out.send(Message::text("a"), None).await.unwrap();
        out.send(Message::text("b"), None).await.unwrap();
        let e = out.try_send(Message::text("c")).unwrap_err();
        assert!(e.error().is_outbox_full());
        assert_eq!(e.into_message(), Message::text("c"));
        let o = out.clone();
        let blocked = tokio::spawn(async move { o.send(Message::text("c"), None).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!blocked.is_finished(), "the producer must wait for room");
        let mut taken = VecDeque::new();
        out.take_all(&mut taken);
        assert_eq!(taken.len(), 2);
        out.written(taken.drain(..1));
        tokio::time::timeout(Duration::from_secs(2), blocked)
            .await
            .expect("room made by a finished write wakes the producer")
            .unwrap()
            .unwrap();
        out.requeue_front(taken.drain(..));
        let mut again = VecDeque::new();
        out.take_all(&mut again);
        let texts: Vec<_> = again.iter().map(|i| i.msg.data.clone()).collect();
        assert_eq!(
            texts,
            vec!["b", "c"],
            "requeued messages keep their order, first"
        );
    }

    #[tokio::test]
    async fn bytes_bound_and_close() {
        let out = Outbox::new(100, 10);
        out.try_send(Message::binary(vec![0u8; 8])).unwrap();
        assert!(
            out.try_send(Message::binary(vec![0u8; 4]))
                .unwrap_err()
                .error()
                .is_outbox_full()
        );
        // Larger than the whole budget: takes all of it once the outbox is empty.
        out.close();
        let e = out.send(Message::text("late"), None).await.unwrap_err();
        assert!(e.error().is_closed());
        assert_eq!(out.drain().len(), 1);
    }

    #[test]
    fn priority_passes_queued_data() {
        let out = Outbox::new(100, 1 << 20);
        out.try_send(Message::text("data")).unwrap();
        out.send_priority(Message::text("urgent")).unwrap();
        let mut taken = VecDeque::new();
        out.take_all(&mut taken);
        assert_eq!(taken[0].msg.data, "urgent");
        assert_eq!(taken[1].msg.data, "data");
    }

    #[tokio::test]
    async fn a_poisoned_outbox_lock_still_queues() {
        let out = Outbox::new(2, 1 << 20);
        crate::sync::poison(&out.queues);
        out.send(Message::text("a"), None).await.unwrap();
        assert!(out.try_send(Message::text("b")).is_ok());
    }
}
