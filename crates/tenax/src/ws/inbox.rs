//! The inbound buffer between the connection's task and the consumer.
//!
//! Both sides move messages in batches, one lock each: the connection's task hands over all
//! it read in one poll, the consumer takes everything waiting into a cache of its own.

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
    /// Messages the consumer took into its cache and has not read yet: they count against
    /// the capacity, so that back-pressure still reaches the socket.
    taken: usize,
    closed: bool,
}

impl Inbox {
    pub(crate) fn new(capacity: usize) -> Inbox {
        Inbox {
            queue: Mutex::new(State {
                messages: VecDeque::new(),
                taken: 0,
                closed: false,
            }),
            capacity: capacity.max(1),
            consumer: AtomicWaker::new(),
        }
    }

    /// How many more messages fit now.
    pub(crate) fn room(&self) -> usize {
        let q = crate::sync::lock(&self.queue);
        self.capacity.saturating_sub(q.messages.len() + q.taken)
    }

    /// Whether the buffer is full (the connection's task stops reading).
    pub(crate) fn is_full(&self) -> bool {
        self.room() == 0
    }

    /// Adds messages (emptying `batch`); returns whether the buffer is now full.
    pub(crate) fn push_all(&self, batch: &mut Vec<Message>) -> bool {
        let mut q = crate::sync::lock(&self.queue);
        q.messages.extend(batch.drain(..));
        let full = q.messages.len() + q.taken >= self.capacity;
        drop(q);
        self.consumer.wake();
        full
    }

    /// No more messages will come: the consumer sees the end once the buffer is empty.
    pub(crate) fn close(&self) {
        crate::sync::lock(&self.queue).closed = true;
        self.consumer.wake();
    }

    /// Moves every waiting message to the back of the consumer's `cache`, after accounting
    /// for the `read` messages the consumer used from it since. `Ready(false)` once closed
    /// and empty. `was_full` is set when the buffer was full (the connection's task must be
    /// woken to read again).
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        cache: &mut VecDeque<Message>,
        read: usize,
        was_full: &mut bool,
    ) -> Poll<bool> {
        let mut q = crate::sync::lock(&self.queue);
        *was_full = q.messages.len() + q.taken >= self.capacity;
        q.taken = q.taken.saturating_sub(read);
        if !q.messages.is_empty() {
            q.taken += q.messages.len();
            if cache.is_empty() {
                std::mem::swap(cache, &mut q.messages);
            } else {
                cache.extend(q.messages.drain(..));
            }
            return Poll::Ready(true);
        }
        if q.closed {
            return Poll::Ready(false);
        }
        // Registered under the lock: a push after this point wakes us.
        self.consumer.register(cx.waker());
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_the_consumers_cache_count_against_the_capacity() {
        let inbox = Inbox::new(3);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut batch = vec![Message::text("a"), Message::text("b")];
        assert!(!inbox.push_all(&mut batch));
        let mut cache = VecDeque::new();
        let mut was_full = false;
        assert_eq!(
            inbox.poll_take(&mut cx, &mut cache, 0, &mut was_full),
            Poll::Ready(true)
        );
        assert_eq!(cache.len(), 2);
        // Taken but unread: still two of three places used.
        assert_eq!(inbox.room(), 1);
        cache.pop_front();
        cache.pop_front();
        assert!(
            inbox
                .poll_take(&mut cx, &mut cache, 2, &mut was_full)
                .is_pending()
        );
        assert_eq!(inbox.room(), 3);
        inbox.close();
        assert_eq!(
            inbox.poll_take(&mut cx, &mut cache, 0, &mut was_full),
            Poll::Ready(false)
        );
    }

    #[test]
    fn a_poisoned_inbox_lock_still_delivers() {
        let inbox = Inbox::new(3);
        crate::sync::poison(&inbox.queue);
        assert!(!inbox.push_all(&mut vec![Message::text("a")]));
        assert_eq!(inbox.room(), 2);
    }
}
