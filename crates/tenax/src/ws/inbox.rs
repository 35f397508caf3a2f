//! The inbound buffer between the connection's task and the consumer.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use super::message::Message;

pub(crate) struct Inbox {
    queue: Mutex<State>,
    capacity: usize,
    consumer: AtomicWaker,
}

struct State {
    messages: VecDeque<Message>,
    closed: bool,
}

impl Inbox {
    pub(crate) fn new(capacity: usize) -> Inbox {
        Inbox {
            queue: Mutex::new(State {
                messages: VecDeque::new(),
                closed: false,
            }),
            capacity: capacity.max(1),
            consumer: AtomicWaker::new(),
        }
    }

    /// Whether the buffer is full (the connection's task stops reading).
    pub(crate) fn is_full(&self) -> bool {
        self.queue.lock().expect("inbox lock").messages.len() >= self.capacity
    }

    /// Adds a message; returns whether the buffer is now full.
    pub(crate) fn push(&self, m: Message) -> bool {
        let mut q = self.queue.lock().expect("inbox lock");
        q.messages.push_back(m);
        let full = q.messages.len() >= self.capacity;
        drop(q);
        self.consumer.wake();
        full
    }

    /// No more messages will come: the consumer sees the end once the buffer is empty.
    pub(crate) fn close(&self) {
        self.queue.lock().expect("inbox lock").closed = true;
        self.consumer.wake();
    }

    /// The next message; `Ready(None)` once closed and empty. `was_full` is set when the pop
    /// made room in a full buffer (the connection's task must be woken to read again).
    pub(crate) fn poll_pop(
        &self,
        cx: &mut Context<'_>,
        was_full: &mut bool,
    ) -> Poll<Option<Message>> {
        let mut q = self.queue.lock().expect("inbox lock");
        let len = q.messages.len();
        if let Some(m) = q.messages.pop_front() {
            *was_full = len >= self.capacity;
            return Poll::Ready(Some(m));
        }
        if q.closed {
            return Poll::Ready(None);
        }
        // Registered under the lock: a push after this point wakes us.
        self.consumer.register(cx.waker());
        Poll::Pending
    }
}
