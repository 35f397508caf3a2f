//! One open connection: reading into the inbox, writing the outbox in coalesced flushes,
//! the heartbeat and the read and lag deadlines — all in one task, polled by hand so that
//! reading never waits on a write and a write never waits on the reader.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream as _;
use tokio::time::{Instant, Sleep};

use super::Shared;
use super::config::Config;
use super::event::DisconnectReason;
use super::frame::{Codec, CodecError, Wire};
use super::io::WsIo;
use super::message::{Message, from_wire};
use super::outbox::Item;
use crate::TimeoutPhase;
use crate::connect::Stream;
use crate::error::{Error, Kind, find_write_stall};

pub(crate) type Ws = Codec<WsIo<Stream>>;

/// How soon after a write a ping asks the peer to confirm it.
const ACK_PING: Duration = Duration::from_millis(25);

/// With at-least-once delivery, a ping after this many messages.
const REPLAY_PING_EVERY: u64 = 32;

/// Pings awaiting their pong that are remembered (older ones are forgotten: a later pong
/// confirms more).
const MAX_PINGS: usize = 64;

/// Frames read in one go before the writer gets a turn.
const READ_BATCH: usize = 256;

/// How a connection ended.
pub(crate) enum End {
    /// The user's close finished: everything flushed, the closing handshake done.
    User,
    Lost(DisconnectReason),
}

pub(crate) struct Session<'a> {
    ws: Ws,
    shared: &'a Shared,
    cfg: &'a Config,
    /// Taken from the outbox, not yet handed to the codec.
    pub(crate) pending: VecDeque<Item>,
    /// Handed to the codec; the flush has not finished.
    pub(crate) unflushed: Vec<Item>,
    /// Written, kept until a pong confirms them (at-least-once delivery only).
    pub(crate) unconfirmed: VecDeque<Item>,
    need_flush: bool,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    next_ping: Option<Instant>,
    /// When the first ping went out with no frame received since.
    unanswered_since: Option<Instant>,
    ping_seq: u64,
    /// Pings in flight: their number and how many messages had been handed to the codec.
    pings: VecDeque<(u64, u64)>,
    fed: u64,
    flushed: u64,
    /// Messages handed to the codec before the last ping that was answered.
    acked: u64,
    last_data: Instant,
    inbox_full_since: Option<Instant>,
    /// Messages read in this poll, handed to the inbox together.
    batch: Vec<Message>,
    close_sent: bool,
    /// When a requested close cuts the connection.
    close_by: Option<Instant>,
    peer_close: Option<(u16, String)>,
}

fn codec_error(e: CodecError) -> DisconnectReason {
    let err = match e {
        CodecError::Io(io) => match find_write_stall(&io) {
            Some(d) => Error::timeout(TimeoutPhase::Write, d, "writing to the WebSocket"),
            None => Error::new(Kind::Recv)
                .with_what("on the WebSocket")
                .with_source(io),
        },
        CodecError::TooLong { len, max } => Error::new(Kind::WebSocket).with_source(format!(
            "a message of {len} bytes or more is over the limit of {max}"
        )),
        other => Error::new(Kind::WebSocket).with_source(other),
    };
    DisconnectReason::Failed(Arc::new(err))
}

impl<'a> Session<'a> {
    pub(crate) fn new(ws: Ws, shared: &'a Shared, cfg: &'a Config, hello: Vec<Item>) -> Self {
        let now = Instant::now();
        Session {
            ws,
            shared,
            cfg,
            pending: hello.into(),
            unflushed: Vec::new(),
            unconfirmed: VecDeque::new(),
            need_flush: false,
            timer: Box::pin(tokio::time::sleep_until(now)),
            timer_at: None,
            next_ping: cfg.heartbeat.map(|i| now + i),
            unanswered_since: None,
            ping_seq: 0,
            pings: VecDeque::new(),
            fed: 0,
            flushed: 0,
            acked: 0,
            last_data: now,
            inbox_full_since: None,
            batch: Vec::new(),
            close_sent: false,
            close_by: None,
            peer_close: None,
        }
    }

    /// Messages flushed to the socket that no pong has confirmed.
    pub(crate) fn possibly_lost(&self) -> u64 {
        if self.cfg.replay {
            // The unconfirmed ones are sent again; only on-connect messages are not.
            return self.unconfirmed.iter().filter(|i| i.hello).count() as u64;
        }
        self.flushed.saturating_sub(self.acked)
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        self.shared.outbox.writer.register(cx.waker());
        loop {
            let now = Instant::now();
            if let Some(end) = self.check_deadlines(now) {
                return Poll::Ready(end);
            }
            let mut progress = false;
            if let Some(t) = self.next_ping
                && now >= t
            {
                match self.ws.poll_ready(cx) {
                    Poll::Ready(Ok(())) => {
                        self.send_ping(now);
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(End::Lost(codec_error(e))),
                    Poll::Pending => {}
                }
            }
            match self.poll_read(cx, now) {
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Ready(Ok(())) => progress = true,
                Poll::Pending => {}
            }
            match self.poll_write(cx) {
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Ready(Ok(())) => progress = true,
                Poll::Pending => {}
            }
            if let Some(at) = self.next_deadline() {
                if self.timer_at != Some(at) {
                    self.timer.as_mut().reset(at);
                    self.timer_at = Some(at);
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    self.timer_at = None;
                    progress = true;
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Queues a ping that will confirm every message handed to the codec before it.
    fn send_ping(&mut self, now: Instant) {
        self.ping_seq += 1;
        let seq = self.ping_seq;
        self.ws.queue_ping(&seq.to_be_bytes());
        if self.pings.len() == MAX_PINGS {
            self.pings.pop_front();
        }
        self.pings.push_back((seq, self.fed));
        self.unanswered_since.get_or_insert(now);
        self.next_ping = self.cfg.heartbeat.map(|i| now + i);
        self.need_flush = true;
    }

    fn check_deadlines(&mut self, now: Instant) -> Option<End> {
        if self.close_by.is_none() && self.shared.close_requested.load(Ordering::Acquire) {
            let by = *crate::sync::lock(&self.shared.close_deadline);
            self.close_by = Some(by.unwrap_or(now));
        }
        if let Some(by) = self.close_by
            && now >= by
        {
            // Out of time: what is not flushed goes back to the caller of `close`.
            return Some(End::User);
        }
        if let Some(t) = self.unanswered_since
            && now >= t + self.cfg.pong_timeout
        {
            return Some(End::Lost(DisconnectReason::HeartbeatTimeout));
        }
        if let Some(d) = self.cfg.read_deadline
            && now >= self.last_data + d
        {
            return Some(End::Lost(DisconnectReason::ReadDeadline));
        }
        if let Some(since) = self.inbox_full_since {
            if !self.shared.inbox.is_full() {
                self.inbox_full_since = None;
            } else if let Some(lag) = self.cfg.lag_timeout
                && now >= since + lag
            {
                return Some(End::Lost(DisconnectReason::Lagging));
            }
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        [
            self.next_ping,
            self.close_by,
            self.unanswered_since.map(|t| t + self.cfg.pong_timeout),
            self.cfg.read_deadline.map(|d| self.last_data + d),
            self.inbox_full_since
                .zip(self.cfg.lag_timeout)
                .map(|(s, l)| s + l),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Reads frames until the socket has no more, the inbox is full or the batch is done;
    /// `Ready(Ok)` when something was read.
    fn poll_read(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<Result<(), End>> {
        if self.inbox_full_since.is_some() {
            // Back-pressure: the socket's buffers fill and the peer's writes stall.
            return Poll::Pending;
        }
        let mut frames = 0;
        let mut data = false;
        let room = self.shared.inbox.room();
        if room == 0 {
            // Full (the consumer's unread cache counts): it wakes us when it takes more.
            self.inbox_full_since = Some(now);
            return Poll::Pending;
        }
        let result = self.read_frames(cx, room, &mut frames, &mut data);
        if !self.batch.is_empty() && self.shared.inbox.push_all(&mut self.batch) {
            self.inbox_full_since = Some(now);
        }
        if let Some(end) = result {
            return Poll::Ready(Err(end));
        }
        if frames == 0 {
            return Poll::Pending;
        }
        // Any frame at all shows the peer is alive.
        self.unanswered_since = None;
        if data {
            self.last_data = now;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads frames until the socket has no more, `room` messages were read or the batch is
    /// done; data messages go to `self.batch`. `Some` when the connection ended.
    fn read_frames(
        &mut self,
        cx: &mut Context<'_>,
        room: usize,
        frames: &mut usize,
        data: &mut bool,
    ) -> Option<End> {
        while *frames < READ_BATCH && self.batch.len() < room {
            let msg = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Ready(Some(Ok(m))) => m,
                Poll::Ready(Some(Err(e))) => {
                    // On a protocol violation the codec queued a close frame (1002, 1007,
                    // 1009) that tells the peer why: one attempt to send it, no waiting.
                    if !matches!(e, CodecError::Io(_)) {
                        let _ = self.ws.poll_flush(cx);
                    }
                    return Some(End::Lost(codec_error(e)));
                }
                Poll::Ready(None) => {
                    let end = if self.close_sent {
                        // The peer answered our close frame: it read everything before it.
                        self.shared.outbox.written(self.unconfirmed.drain(..));
                        End::User
                    } else {
                        match self.peer_close.take() {
                            Some((code, reason)) => {
                                End::Lost(DisconnectReason::ClosedByPeer { code, reason })
                            }
                            None => End::Lost(DisconnectReason::Eof),
                        }
                    };
                    return Some(end);
                }
                Poll::Pending => break,
            };
            *frames += 1;
            match msg {
                Wire::Pong(payload) => {
                    self.pong(&payload);
                    continue;
                }
                // The codec queued the pong; it goes out with the next flush.
                Wire::Ping(_) => {
                    self.need_flush = true;
                    continue;
                }
                Wire::Close(close) => {
                    self.peer_close = Some(close.unwrap_or((1005, String::new())));
                    self.need_flush = true;
                    continue;
                }
                _ => {}
            }
            if let Some(m) = from_wire(msg) {
                *data = true;
                self.batch.push(m);
            }
        }
        if !self.batch.is_empty() {
            self.shared
                .received
                .fetch_add(self.batch.len() as u64, Ordering::Relaxed);
        }
        None
    }

    /// A pong: every message handed to the codec before its ping is confirmed.
    fn pong(&mut self, payload: &[u8]) {
        let Ok(seq) = <[u8; 8]>::try_from(payload) else {
            return;
        };
        let seq = u64::from_be_bytes(seq);
        while let Some(&(s, fed)) = self.pings.front() {
            if s > seq {
                break;
            }
            self.acked = self.acked.max(fed);
            self.pings.pop_front();
        }
        let acked = self.acked;
        let n = self
            .unconfirmed
            .iter()
            .take_while(|i| i.seq < acked)
            .count();
        if n > 0 {
            self.shared.outbox.written(self.unconfirmed.drain(..n));
        }
    }

    /// Hands queued messages to the codec and flushes them in one write; `Ready(Ok)` when a
    /// flush finished or messages were handed over.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), End>> {
        let closing = self.shared.close_requested.load(Ordering::Acquire);
        if self.pending.is_empty() && !self.close_sent {
            self.shared.outbox.take_all(&mut self.pending);
        }
        let mut progress = self.feed(cx).map_err(End::Lost)?;
        if closing
            && !self.close_sent
            && self.pending.is_empty()
            && self.unflushed.is_empty()
            && self.shared.outbox.is_empty()
        {
            progress |= self.start_close(cx).map_err(End::Lost)?;
        }
        if self.need_flush {
            progress |= self.flush(cx).map_err(End::Lost)?;
        }
        if progress {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Hands the pending messages to the codec while it takes them (with the pings
    /// at-least-once delivery adds); whether any was handed over.
    #[inline]
    fn feed(&mut self, cx: &mut Context<'_>) -> Result<bool, DisconnectReason> {
        let mut progress = false;
        while !self.pending.is_empty() {
            match self.ws.poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(codec_error(e)),
                Poll::Pending => break,
            }
            let mut item = self.pending.pop_front().expect("not empty");
            item.seq = self.fed;
            self.ws.queue_data(item.msg.text, &item.msg.data);
            self.fed += 1;
            self.unflushed.push(item);
            // At-least-once: a ping among every few messages, so that a peer that reads
            // part of a burst and then fails confirms that part, and the replay makes
            // progress. (The codec only queues here; `poll_ready` matters before a flush.)
            if self.cfg.replay && self.fed.is_multiple_of(REPLAY_PING_EVERY) {
                self.send_ping(Instant::now());
            }
            self.need_flush = true;
            progress = true;
        }
        // At-least-once: a ping closes every batch, in the same write, so that the peer
        // confirms it as soon as it has read it.
        if self.cfg.replay && progress && self.pings.back().is_none_or(|&(_, fed)| fed < self.fed) {
            self.send_ping(Instant::now());
        }
        Ok(progress)
    }

    /// Starts the closing handshake once everything was written; whether the close frame was
    /// handed over.
    fn start_close(&mut self, cx: &mut Context<'_>) -> Result<bool, DisconnectReason> {
        match self.ws.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                self.ws.queue_close(Some((1000, "")));
                self.close_sent = true;
                // The peer's answer may never come: wait for it only briefly.
                let by = Instant::now() + CLOSE_HANDSHAKE;
                self.close_by = Some(self.close_by.map_or(by, |b| b.min(by)));
                self.need_flush = true;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(codec_error(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// Flushes what the codec holds; once written, messages count as sent (and, with
    /// at-least-once delivery, wait for a ping's answer to confirm them). Whether a flush
    /// finished with messages in it.
    #[inline]
    fn flush(&mut self, cx: &mut Context<'_>) -> Result<bool, DisconnectReason> {
        match self.ws.poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Err(codec_error(e)),
            Poll::Pending => return Ok(false),
        }
        self.need_flush = false;
        let n = self.unflushed.len() as u64;
        if n == 0 {
            return Ok(false);
        }
        self.flushed += n;
        self.shared.sent.fetch_add(n, Ordering::Relaxed);
        if self.cfg.replay {
            for mut item in self.unflushed.drain(..) {
                if let Some(c) = item.confirm.take() {
                    let _ = c.send(());
                }
                self.unconfirmed.push_back(item);
            }
        } else {
            self.shared.outbox.written(self.unflushed.drain(..));
        }
        // A ping soon after a write confirms it (it narrows what a failure may have lost, and
        // releases what at-least-once delivery keeps); one in flight at a time.
        if (self.cfg.heartbeat.is_some() || self.cfg.replay) && self.pings.is_empty() {
            let half = self.unconfirmed.len() * 2 >= self.cfg.outbox_messages;
            let soon = Instant::now() + if half { Duration::ZERO } else { ACK_PING };
            self.next_ping = Some(self.next_ping.map_or(soon, |t| t.min(soon)));
        }
        Ok(true)
    }
}

/// How long a closing handshake may take once everything is flushed, when the caller's
/// deadline allows more.
pub(crate) const CLOSE_HANDSHAKE: Duration = Duration::from_secs(2);
