//! Batches: many requests with bounded concurrency, results as each completes.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::origin::Origin;
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
    /// The request's origin, when the batch counts requests per host.
    origin: Option<Origin>,
    fut: Pin<Box<F>>,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, Option<Origin>, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        let out = ready!(self.fut.as_mut().poll(cx));
        Poll::Ready((index, self.origin.take(), out))
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
    per_host: Option<usize>,
    /// Requests running per host (with `per_host`).
    hosts: HashMap<Origin, usize>,
    /// Requests taken from the source whose host was at its limit, with their index: at most
    /// `concurrency` of them.
    deferred: VecDeque<(usize, Origin, RequestBuilder)>,
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
            per_host: None,
            hosts: HashMap::new(),
            deferred: VecDeque::new(),
        }
    }

    /// How many requests to one host (scheme, host and port) run at once, within
    /// `concurrency`. Requests for a host at its limit wait while later ones for other hosts
    /// start; at most `concurrency` requests are read ahead that way. Default is no limit
    /// per host.
    pub fn concurrency_per_host(mut self, n: usize) -> Self {
        self.per_host = Some(n.max(1));
        self
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

    /// Starts requests while there is room: deferred ones whose host has room first, then
    /// from the source while it has them ready.
    fn refill(&mut self, cx: &mut Context<'_>) {
        while self.running.len() < self.concurrency {
            if let Some(limit) = self.per_host {
                let hosts = &self.hosts;
                let ready = self
                    .deferred
                    .iter()
                    .position(|(_, o, _)| hosts.get(o).copied().unwrap_or(0) < limit);
                if let Some(i) = ready {
                    let (index, origin, req) = self.deferred.remove(i).expect("found above");
                    self.start(index, Some(origin), req);
                    continue;
                }
                if self.deferred.len() >= self.concurrency {
                    // Read no further ahead: wait for a host to have room.
                    return;
                }
            }
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
            let index = self.next;
            self.next += 1;
            let origin = self.per_host.and_then(|_| req.origin());
            if let (Some(limit), Some(o)) = (self.per_host, &origin)
                && self.hosts.get(o).copied().unwrap_or(0) >= limit
            {
                let o = origin.expect("checked");
                self.deferred.push_back((index, o, req));
                continue;
            }
            self.start(index, origin, req);
        }
    }

    fn start(&mut self, index: usize, origin: Option<Origin>, req: RequestBuilder) {
        let req = match self.deadline {
            Some(at) => req.deadline_at(at),
            None => req,
        };
        if let Some(o) = &origin {
            *self.hosts.entry(o.clone()).or_default() += 1;
        }
        self.running.push(Indexed {
            index,
            origin,
            fut: Box::pin((self.work)(req)),
        });
    }

    /// Counts a finished request out of its host.
    fn finished(&mut self, origin: Option<Origin>) {
        if let Some(o) = origin
            && let Some(n) = self.hosts.get_mut(&o)
        {
            *n -= 1;
            if *n == 0 {
                self.hosts.remove(&o);
            }
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
            Poll::Ready(Some((index, origin, out))) => {
                // A slot is free: start the next request before handing this one over.
                this.finished(origin);
                this.refill(cx);
                Poll::Ready(Some((index, out)))
            }
            Poll::Ready(None) if this.requests.is_none() && this.deferred.is_empty() => {
                Poll::Ready(None)
            }
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
