//! Batches: many requests with bounded concurrency (fixed or adaptive), results as each
//! completes.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

mod adaptive;

use adaptive::Limiter;
pub use adaptive::{Adaptive, Concurrency};
pub(crate) use adaptive::{Overload, overloaded};

use futures_core::Stream;
use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::events::EventKind;
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
    /// When it started and what the request path says of overload, for an adaptive limit.
    watch: Option<(Instant, Overload)>,
    fut: Pin<Box<F>>,
}

/// A finished request: what the batch needs to count it out.
struct Finished {
    origin: Option<Origin>,
    /// Its latency and whether it met overload, for an adaptive limit.
    feedback: Option<(Duration, bool)>,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, Finished, F::Output);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        let out = ready!(self.fut.as_mut().poll(cx));
        let feedback = (self.watch.take())
            .map(|(start, overload)| (start.elapsed(), overload.load(Ordering::Relaxed)));
        let origin = self.origin.take();
        Poll::Ready((index, Finished { origin, feedback }, out))
    }
}

/// A limit on requests at once: fixed, or adapting as they complete.
#[derive(Debug)]
enum Slots {
    Fixed(usize),
    Adaptive(Limiter),
}

impl Slots {
    fn new(c: Concurrency) -> Slots {
        match c {
            Concurrency::Fixed(n) => Slots::Fixed(n.max(1)),
            Concurrency::Adaptive(a) => Slots::Adaptive(Limiter::new(a)),
        }
    }

    fn limit(&self) -> usize {
        match self {
            Slots::Fixed(n) => *n,
            Slots::Adaptive(l) => l.limit(),
        }
    }

    fn completed(&mut self, feedback: Option<(Duration, bool)>, in_flight: usize, now: Instant) {
        if let (Slots::Adaptive(l), Some((latency, overload))) = (self, feedback) {
            l.completed(latency, overload, in_flight, now);
        }
    }
}

/// The requests running to one host, and its own adaptive limit.
#[derive(Debug)]
struct Host {
    running: usize,
    limiter: Option<Limiter>,
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
    slots: Slots,
    deadline: Option<Instant>,
    per_host: Option<Concurrency>,
    /// Requests running per host (with `per_host`), and their adaptive limits.
    hosts: HashMap<Origin, Host>,
    /// The observer of the requests' client, told when an adaptive limit changes.
    observer: Option<std::sync::Arc<crate::events::Observer>>,
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
            slots: Slots::Fixed(50),
            deadline: None,
            per_host: None,
            hosts: HashMap::new(),
            observer: None,
            deferred: VecDeque::new(),
        }
    }

    /// How many requests to one host (scheme, host and port) run at once, within
    /// `concurrency`: a number, or [`Adaptive`] (each host its own limit). Requests for a
    /// host at its limit wait while later ones for other hosts start; at most `concurrency`
    /// requests are read ahead that way. Default is no limit per host.
    pub fn concurrency_per_host(mut self, c: impl Into<Concurrency>) -> Self {
        self.per_host = Some(c.into());
        self
    }

    /// How many requests run at once: a number, or [`Adaptive`] for a limit that follows
    /// the server's latency and push-back. Default is 50.
    pub fn concurrency(mut self, c: impl Into<Concurrency>) -> Self {
        self.slots = Slots::new(c.into());
        self
    }

    /// The concurrency limit now: the fixed one, or where an adaptive one stands.
    pub fn limit(&self) -> usize {
        self.slots.limit()
    }

    /// The limit of one host (with [`concurrency_per_host`](Self::concurrency_per_host)).
    fn host_limit(&self, o: &Origin) -> usize {
        match (&self.per_host, self.hosts.get(o)) {
            (None, _) => usize::MAX,
            (Some(Concurrency::Fixed(n)), _) => *n,
            (
                Some(_),
                Some(Host {
                    limiter: Some(l), ..
                }),
            ) => l.limit(),
            (Some(Concurrency::Adaptive(a)), _) => a.initial.clamp(a.min, a.max),
        }
    }

    fn host_running(&self, o: &Origin) -> usize {
        self.hosts.get(o).map_or(0, |h| h.running)
    }

    fn adaptive(&self) -> bool {
        matches!(self.slots, Slots::Adaptive(_))
            || matches!(self.per_host, Some(Concurrency::Adaptive(_)))
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
        while self.running.len() < self.slots.limit() {
            if self.per_host.is_some() {
                let ready = (self.deferred.iter())
                    .position(|(_, o, _)| self.host_running(o) < self.host_limit(o));
                if let Some(i) = ready {
                    let (index, origin, req) = self.deferred.remove(i).expect("found above");
                    self.start(index, Some(origin), req);
                    continue;
                }
                if self.deferred.len() >= self.slots.limit() {
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
            if let Some(o) = &origin
                && self.host_running(o) >= self.host_limit(o)
            {
                let o = origin.expect("checked");
                self.deferred.push_back((index, o, req));
                continue;
            }
            self.start(index, origin, req);
        }
    }

    fn start(&mut self, index: usize, origin: Option<Origin>, mut req: RequestBuilder) {
        if let Some(at) = self.deadline {
            req = req.deadline_at(at);
        }
        if self.observer.is_none() && self.adaptive() {
            self.observer = req.client().observer_handle();
        }
        let watch = self.adaptive().then(|| {
            let overload = Overload::new(AtomicBool::new(false));
            req.watch_overload(overload.clone());
            (Instant::now(), overload)
        });
        if let Some(o) = &origin {
            let per_host = self.per_host;
            let host = self.hosts.entry(o.clone()).or_insert_with(|| Host {
                running: 0,
                limiter: match per_host {
                    Some(Concurrency::Adaptive(a)) => Some(Limiter::new(a)),
                    _ => None,
                },
            });
            host.running += 1;
        }
        self.running.push(Indexed {
            index,
            origin,
            watch,
            fut: Box::pin((self.work)(req)),
        });
    }

    /// Counts a finished request out (of its host too), telling adaptive limits how it went.
    fn finished(&mut self, done: Finished) {
        let now = Instant::now();
        // The request was running with the ones still running.
        let in_flight = self.running.len() + 1;
        let before = self.slots.limit();
        self.slots.completed(done.feedback, in_flight, now);
        self.limit_changed(None, before, self.slots.limit());
        if let Some(o) = done.origin
            && let Some(h) = self.hosts.get_mut(&o)
        {
            if let (Some(l), Some((latency, overload))) = (&mut h.limiter, done.feedback) {
                let before = l.limit();
                l.completed(latency, overload, h.running, now);
                let after = l.limit();
                if before != after
                    && let Some(obs) = &self.observer
                {
                    let host = Some(o.host_port());
                    obs.emit(None, EventKind::ConcurrencyLimit { host, limit: after });
                }
            }
            h.running -= 1;
            // A fixed limit keeps nothing of an idle host; an adaptive one keeps what it learnt.
            if h.running == 0 && h.limiter.is_none() {
                self.hosts.remove(&o);
            }
        }
    }
}

impl<S, F, Fut: Future> Batch<S, F, Fut> {
    /// Tells the observer, if any, that an adaptive limit moved.
    fn limit_changed(&self, host: Option<String>, before: usize, after: usize) {
        if before != after
            && let Some(obs) = &self.observer
        {
            obs.emit(None, EventKind::ConcurrencyLimit { host, limit: after });
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
            Poll::Ready(Some((index, done, out))) => {
                // A slot is free: start the next request before handing this one over.
                this.finished(done);
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
            .field("limit", &self.slots.limit())
            .finish_non_exhaustive()
    }
}

pub(crate) fn default_work() -> SendFn {
    send
}
