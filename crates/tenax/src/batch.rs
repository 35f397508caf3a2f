//! Batches: many requests with bounded concurrency, results as each completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::{RequestBuilder, Response, Result};

/// A request sent, as a batch runs it by default.
pub type Sending = Pin<Box<dyn Future<Output = Result<Response>> + std::marker::Send>>;

/// What each request of a batch does by default: send it and return the response (its body
/// still to read).
pub type SendFn = fn(RequestBuilder) -> Sending;

/// The batch of [`Client::batch`](crate::Client::batch): requests from an iterator, sent.
pub type Sends<I> = Batch<futures_util::stream::Iter<I>, SendFn, Sending>;

fn send(req: RequestBuilder) -> Sending {
    Box::pin(req.send())
}

struct Indexed<F> {
    index: usize,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        self.fut.as_mut().poll(cx).map(|out| (index, out))
    }
}

/// Requests run at most `concurrency` at a time, yielded as `(index, result)` in the order they
/// complete; from [`Client::batch`](crate::Client::batch),
/// [`Client::batch_with`](crate::Client::batch_with) or
/// [`Client::batch_stream`](crate::Client::batch_stream). `S` is the source of requests, a
/// `Stream` (an iterator is made one).
///
/// The requests are taken from their source only as slots free up, so a batch of ten million
/// holds only those in flight. One failure does not stop the others. Dropping the batch
/// cancels what is in flight.
#[must_use = "a batch does nothing until it is polled"]
pub struct Batch<S, F, Fut>
where
    Fut: Future,
{
    requests: Option<S>,
    work: F,
    running: FuturesUnordered<Indexed<Fut>>,
    next: usize,
    concurrency: usize,
    deadline: Option<Instant>,
}

impl<S, F, Fut> Batch<S, F, Fut>
where
    S: Stream<Item = RequestBuilder> + Unpin,
    F: FnMut(RequestBuilder) -> Fut,
    Fut: Future,
{
    pub(crate) fn new(requests: S, work: F) -> Self {
        Batch {
            requests: Some(requests),
            work,
            running: FuturesUnordered::new(),
            next: 0,
            concurrency: 50,
            deadline: None,
        }
    }

    /// How many requests run at once. Default is 50.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// A deadline for the whole batch, `limit` from now: each request gets it as its
    /// operation deadline (its error then says so). Default is none.
    pub fn deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some(Instant::now() + limit);
        self
    }

    /// How many requests are running now.
    pub fn in_flight(&self) -> usize {
        self.running.len()
    }

    /// Starts requests from the source while there is room and it has them ready.
    fn refill(&mut self, cx: &mut Context<'_>) {
        while self.running.len() < self.concurrency {
            let Some(source) = self.requests.as_mut() else {
                return;
            };
            let req = match source.poll_next_unpin(cx) {
                Poll::Ready(Some(req)) => req,
                Poll::Ready(None) => {
                    self.requests = None;
                    return;
                }
                // The source wakes the batch when it has more.
                Poll::Pending => return,
            };
            let req = match self.deadline {
                Some(at) => req.deadline_at(at),
                None => req,
            };
            let index = self.next;
            self.next += 1;
            self.running.push(Indexed {
                index,
                fut: Box::pin((self.work)(req)),
            });
        }
    }
}

impl<S, F, Fut> Stream for Batch<S, F, Fut>
where
    S: Stream<Item = RequestBuilder> + Unpin,
    F: FnMut(RequestBuilder) -> Fut + Unpin,
    Fut: Future,
{
    type Item = (usize, Fut::Output);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.refill(cx);
        match this.running.poll_next_unpin(cx) {
            Poll::Ready(Some(done)) => {
                // A slot is free: start the next request before handing this one over.
                this.refill(cx);
                Poll::Ready(Some(done))
            }
            Poll::Ready(None) if this.requests.is_none() => Poll::Ready(None),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

impl<S, F, Fut: Future> std::fmt::Debug for Batch<S, F, Fut> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("in_flight", &self.running.len())
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

pub(crate) fn default_work() -> SendFn {
    send
}
