//! Structured concurrency: a group of tasks that share a deadline and a fate — the Rust shape
//! of Python's `asyncio.TaskGroup` under `asyncio.timeout`.
//!
//! Runnable: `cargo run -p tenax --example 16_scope`.
//!
//! ```no_run
//! # async fn demo(client: tenax::Client) {
//! use std::time::Duration;
//! use tenax::scope::{Outcome, Scope};
//!
//! let mut scope = Scope::new().deadline(Duration::from_secs(5)).owns(client.clone());
//! let c = client.clone();
//! scope.spawn("status", async move {
//!     c.get("http://127.0.0.1:8080/status").send().await?.error_for_status()?;
//!     Ok::<_, tenax::Error>(())
//! });
//! let ws = client.websocket("ws://127.0.0.1:8080/ws/echo");
//! scope.spawn("feed", async move {
//!     let mut socket = ws.connect().await?;
//!     while let Some(_msg) = socket.recv().await {}
//!     Ok::<_, tenax::Error>(())
//! });
//! let report = scope.join().await;
//! for task in report.tasks() {
//!     println!("{}: {}", task.name(), task.outcome());
//! }
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::{Id, JoinSet};

use crate::Client;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A group of tasks with a shared deadline in which, by default, the first failure cancels the
/// others. [`join`](Self::join) waits for every task and reports each one's [`Outcome`].
///
/// - Every request Tenax makes inside a task shares the scope's deadline (as with
///   [`deadline::scope`](crate::deadline::scope)); when it passes, the tasks still running are
///   cancelled.
/// - A task fails by returning `Err` (or panicking). Unless
///   [`collect_all`](Self::collect_all) was set, the others are then cancelled.
/// - Cancelling a task drops its future, and with it its requests and WebSockets (a dropped
///   WebSocket closes its connection at once). Clients handed to [`owns`](Self::owns) are
///   closed when the scope ends, cutting connections cancelled requests left.
/// - Dropping a scope without joining it cancels its tasks.
///
/// Tasks run on the Tokio runtime (`tokio::spawn`), so they must be `Send + 'static`.
#[must_use = "a scope does nothing unless joined"]
pub struct Scope<T = ()> {
    set: JoinSet<Result<T, BoxError>>,
    ids: HashMap<Id, usize>,
    names: Vec<String>,
    deadline: Option<Instant>,
    limit: Option<Duration>,
    fail_fast: bool,
    clients: Vec<Client>,
    started: Instant,
}

impl<T: Send + 'static> Default for Scope<T> {
    fn default() -> Self {
        Scope::new()
    }
}

impl<T> fmt::Debug for Scope<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("tasks", &self.names)
            .field("deadline", &self.limit)
            .field("fail_fast", &self.fail_fast)
            .finish()
    }
}

impl<T: Send + 'static> Scope<T> {
    /// An empty scope: no deadline, the first failure cancels the others.
    pub fn new() -> Self {
        Scope {
            set: JoinSet::new(),
            ids: HashMap::new(),
            names: Vec::new(),
            deadline: None,
            limit: None,
            fail_fast: true,
            clients: Vec::new(),
            started: Instant::now(),
        }
    }

    /// A deadline `limit` from now, shared by every task (set it before spawning: tasks see the
    /// deadline in force when they were spawned). Default is none.
    pub fn deadline(mut self, limit: Duration) -> Self {
        self.deadline = Some(Instant::now() + limit);
        self.limit = Some(limit);
        self
    }

    /// Lets every task run to its end even when some fail (the deadline still cancels).
    /// Default is off: the first failure cancels the others.
    pub fn collect_all(mut self) -> Self {
        self.fail_fast = false;
        self
    }

    /// Closes `client` when the scope ends, once its tasks are done: connections left by
    /// cancelled requests are cut. Default is none.
    pub fn owns(mut self, client: Client) -> Self {
        self.clients.push(client);
        self
    }

    /// Starts `task`, named `name` in the report.
    pub fn spawn<F, E>(&mut self, name: impl Into<String>, task: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let task = async move { task.await.map_err(Into::into) };
        let handle = match self.deadline {
            Some(at) => self.set.spawn(crate::deadline::within(at, task)),
            None => self.set.spawn(task),
        };
        self.ids.insert(handle.id(), self.names.len());
        self.names.push(name.into());
    }

    /// Waits for every task (cancelling them as the scope's rules say), closes the clients it
    /// owns, and reports each task's outcome, in the order they were spawned.
    pub async fn join(mut self) -> Report<T> {
        let mut outcomes: Vec<Option<(Outcome<T>, Duration)>> =
            self.names.iter().map(|_| None).collect();
        let mut cancel: Option<Cancel> = None;
        let mut expiry = self
            .deadline
            .map(|at| Box::pin(tokio::time::sleep_until(at.into())));
        loop {
            let next = tokio::select! {
                biased;
                () = async {
                    match expiry.as_mut() {
                        Some(s) => s.await,
                        None => std::future::pending().await,
                    }
                } => {
                    expiry = None;
                    cancel.get_or_insert(Cancel::Deadline);
                    self.set.abort_all();
                    continue;
                }
                next = self.set.join_next_with_id() => next,
            };
            let Some(next) = next else { break };
            let (id, outcome) = match next {
                Ok((id, Ok(v))) => (id, Outcome::Ok(v)),
                Ok((id, Err(e))) => (id, Outcome::Failed(e)),
                Err(e) if e.is_cancelled() => (
                    e.id(),
                    Outcome::Cancelled(cancel.clone().unwrap_or(Cancel::Deadline)),
                ),
                Err(e) => {
                    let id = e.id();
                    let msg = panic_message(e.into_panic());
                    (
                        id,
                        Outcome::Failed(format!("the task panicked: {msg}").into()),
                    )
                }
            };
            let i = self.ids[&id];
            if matches!(outcome, Outcome::Failed(_)) && self.fail_fast && cancel.is_none() {
                cancel = Some(Cancel::Failure {
                    task: self.names[i].clone(),
                });
                self.set.abort_all();
            }
            outcomes[i] = Some((outcome, self.started.elapsed()));
        }
        for client in &self.clients {
            client.shutdown().await;
        }
        let deadline_passed = matches!(cancel, Some(Cancel::Deadline));
        let tasks = std::mem::take(&mut self.names)
            .into_iter()
            .zip(outcomes)
            .map(|(name, o)| {
                let (outcome, elapsed) = o.expect("every task was joined");
                TaskReport {
                    name,
                    outcome,
                    elapsed,
                }
            })
            .collect();
        Report {
            tasks,
            deadline_passed,
            elapsed: self.started.elapsed(),
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match p.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => match p.downcast::<&'static str>() {
            Ok(s) => (*s).to_owned(),
            Err(_) => "(no message)".to_owned(),
        },
    }
}

/// How a task of a [`Scope`] ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<T> {
    /// It returned `Ok`.
    Ok(T),
    /// It returned `Err` (or panicked: the error says so).
    Failed(BoxError),
    /// It was cancelled before it ended.
    Cancelled(Cancel),
}

impl<T> Outcome<T> {
    /// It returned `Ok`.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// It returned `Err` or panicked.
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }

    /// It was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Outcome::Cancelled(_))
    }
}

impl<T> fmt::Display for Outcome<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(_) => f.write_str("ok"),
            Outcome::Failed(e) => write!(f, "failed: {e}"),
            Outcome::Cancelled(c) => write!(f, "cancelled: {c}"),
        }
    }
}

/// Why a task was cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cancel {
    /// The scope's deadline passed.
    Deadline,
    /// Another task failed first.
    Failure {
        /// The name of the task that failed.
        task: String,
    },
}

impl fmt::Display for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cancel::Deadline => f.write_str("the scope's deadline passed"),
            Cancel::Failure { task } => write!(f, "task {task:?} failed"),
        }
    }
}

/// One task's line in a [`Report`].
#[derive(Debug)]
pub struct TaskReport<T> {
    name: String,
    outcome: Outcome<T>,
    elapsed: Duration,
}

impl<T> TaskReport<T> {
    /// The name given to [`Scope::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it ended.
    pub fn outcome(&self) -> &Outcome<T> {
        &self.outcome
    }

    /// How it ended, owned.
    pub fn into_outcome(self) -> Outcome<T> {
        self.outcome
    }

    /// From the scope's creation to the task's end (or cancellation).
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

/// What [`Scope::join`] reports: each task's outcome, in spawn order.
#[derive(Debug)]
pub struct Report<T> {
    tasks: Vec<TaskReport<T>>,
    deadline_passed: bool,
    elapsed: Duration,
}

impl<T> Report<T> {
    /// Every task, in the order they were spawned.
    pub fn tasks(&self) -> &[TaskReport<T>] {
        &self.tasks
    }

    /// Every task, owned.
    pub fn into_tasks(self) -> Vec<TaskReport<T>> {
        self.tasks
    }

    /// The task named `name` (the first, if several share it).
    pub fn task(&self, name: &str) -> Option<&TaskReport<T>> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Every task returned `Ok`.
    pub fn is_ok(&self) -> bool {
        self.tasks.iter().all(|t| t.outcome.is_ok())
    }

    /// The scope's deadline passed before every task ended.
    pub fn deadline_passed(&self) -> bool {
        self.deadline_passed
    }

    /// From the scope's creation to the end of `join`.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_first_failure_cancels_the_others() {
        let mut s: Scope = Scope::new();
        s.spawn("slow", async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, BoxError>(())
        });
        s.spawn("bad", async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<(), _>("boom")
        });
        s.spawn("quick", async { Ok::<_, BoxError>(()) });
        let r = s.join().await;
        assert!(r.task("slow").unwrap().outcome().is_cancelled());
        assert!(r.task("bad").unwrap().outcome().is_failed());
        assert!(r.task("quick").unwrap().outcome().is_ok());
        assert!(!r.deadline_passed());
        let Outcome::Cancelled(why) = r.task("slow").unwrap().outcome() else {
            unreachable!()
        };
        assert_eq!(why, &Cancel::Failure { task: "bad".into() });
    }

    #[tokio::test(start_paused = true)]
    async fn collect_all_lets_the_others_finish() {
        let mut s = Scope::new().collect_all();
        s.spawn("bad", async { Err::<u32, _>("boom") });
        s.spawn("later", async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, BoxError>(7)
        });
        let r = s.join().await;
        assert!(matches!(r.task("later").unwrap().outcome(), Outcome::Ok(7)));
        assert!(!r.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_cancels_and_is_seen_inside() {
        let mut s: Scope = Scope::new().deadline(Duration::from_secs(2));
        s.spawn("sees it", async {
            let left = crate::deadline::remaining().expect("inside the scope's deadline");
            assert!(left <= Duration::from_secs(2));
            Ok::<_, BoxError>(())
        });
        s.spawn("forever", std::future::pending::<Result<(), BoxError>>());
        let r = s.join().await;
        assert!(r.deadline_passed());
        assert!(r.task("sees it").unwrap().outcome().is_ok());
        let Outcome::Cancelled(why) = r.task("forever").unwrap().outcome() else {
            unreachable!()
        };
        assert_eq!(why, &Cancel::Deadline);
    }

    #[tokio::test]
    async fn a_panic_is_a_failure() {
        let mut s: Scope = Scope::new();
        s.spawn("panics", async {
            if true {
                panic!("oops");
            }
            Ok::<_, BoxError>(())
        });
        let r = s.join().await;
        let Outcome::Failed(e) = r.task("panics").unwrap().outcome() else {
            unreachable!()
        };
        assert!(e.to_string().contains("oops"), "{e}");
    }
}
