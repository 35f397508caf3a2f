//! One host's circuit (closed, open, half-open) and the client's table of them.

use std::time::{Duration, Instant};

use super::{CircuitState, Policy};
use crate::host_map::{HostMap, HostState};
use crate::origin::Origin;
use crate::window::Window;

/// What an attempt's outcome means to the circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    /// Says nothing of the host (the caller's deadline, a cancelled attempt).
    Ignored,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: u32, passed: u32 },
}

/// One host's circuit.
#[derive(Debug)]
pub(crate) struct Circuit {
    phase: Phase,
    /// Counts transitions: a probe's ticket belongs to the half-open phase it was given in.
    generation: u64,
    /// Attempts (`a`) and failures (`b`) while closed.
    counts: Window,
    /// Failures in a row while closed.
    in_a_row: u32,
    last_change: Instant,
}

/// The answer to an attempt that asks to go through.
#[derive(Debug)]
pub(crate) enum Admission<T> {
    /// Go; report the outcome with the ticket.
    Pass(T),
    /// Refused: the circuit is open (until the probe in `Some`), or its probes are in flight.
    Refused { probe_in: Option<Duration> },
}

/// What a circuit hands an attempt it lets through: the half-open generation, for a probe.
type Probe = Option<u64>;

/// An attempt let through; a probe's slot is given back when the ticket is recorded or
/// dropped (a cancelled request must not hold the circuit half-open for ever).
pub(crate) struct Ticket<'a> {
    breakers: &'a Breakers,
    origin: &'a Origin,
    probe: Probe,
}

impl Ticket<'_> {
    /// Counts the attempt's outcome; a change of state to tell.
    pub(crate) fn record(mut self, outcome: Outcome) -> Option<Change> {
        let now = Instant::now();
        let p = &self.breakers.policy;
        let probe = self.probe.take();
        self.breakers
            .hosts
            .get(self.origin, |c| c.record(probe, outcome, now, p))
            .flatten()
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.probe {
            self.breakers.hosts.get(self.origin, |c| c.release(g));
        }
    }
}

/// A change of state, to tell the observer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Change {
    pub(crate) state: CircuitState,
    /// Attempts and failures in the window, when it opened from closed.
    pub(crate) counted: (u64, u64),
}

impl Circuit {
    fn new(now: Instant, policy: &Policy) -> Circuit {
        Circuit {
            phase: Phase::Closed,
            generation: 0,
            counts: Window::new(now, policy.sampling_window),
            in_a_row: 0,
            last_change: now,
        }
    }

    fn state(&self, now: Instant) -> CircuitState {
        match self.phase {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { until } if now < until => CircuitState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    fn admit(&mut self, now: Instant, policy: &Policy) -> (Admission<Probe>, Option<Change>) {
        let mut change = None;
        if let Phase::Open { until } = self.phase {
            if now < until {
                let probe_in = Some(until - now);
                return (Admission::Refused { probe_in }, None);
            }
            self.enter(
                now,
                Phase::HalfOpen {
                    probing: 0,
                    passed: 0,
                },
            );
            change = Some(Change {
                state: CircuitState::HalfOpen,
                counted: (0, 0),
            });
        }
        let admission = match &mut self.phase {
            Phase::HalfOpen { probing, passed } if *probing + *passed < policy.probes => {
                *probing += 1;
                Admission::Pass(Some(self.generation))
            }
            Phase::HalfOpen { .. } => Admission::Refused { probe_in: None },
            _ => Admission::Pass(None),
        };
        (admission, change)
    }

    fn record(
        &mut self,
        probe: Probe,
        outcome: Outcome,
        now: Instant,
        policy: &Policy,
    ) -> Option<Change> {
        match (self.phase, probe) {
            (Phase::Closed, None) => {
                if outcome == Outcome::Ignored {
                    return None;
                }
                let failed = u32::from(outcome == Outcome::Failure);
                self.counts.add(now, 1, failed);
                self.in_a_row = if failed == 1 { self.in_a_row + 1 } else { 0 };
                let (total, failures) = self.counts.sums(now);
                let ratio = total >= u64::from(policy.min_throughput)
                    && failures as f64 >= policy.failure_ratio * total as f64;
                let in_a_row = policy.consecutive > 0 && self.in_a_row >= policy.consecutive;
                let trips = failed == 1 && (ratio || in_a_row);
                trips.then(|| {
                    self.open(now, policy);
                    Change {
                        state: CircuitState::Open,
                        counted: (total, failures),
                    }
                })
            }
            (Phase::HalfOpen { probing, passed }, Some(g)) if g == self.generation => match outcome
            {
                Outcome::Failure => {
                    self.open(now, policy);
                    Some(Change {
                        state: CircuitState::Open,
                        counted: (0, 0),
                    })
                }
                Outcome::Success if passed + 1 >= policy.probes => {
                    self.counts.clear();
                    self.enter(now, Phase::Closed);
                    Some(Change {
                        state: CircuitState::Closed,
                        counted: (0, 0),
                    })
                }
                Outcome::Success => {
                    self.phase = Phase::HalfOpen {
                        probing: probing - 1,
                        passed: passed + 1,
                    };
                    None
                }
                Outcome::Ignored => {
                    self.release(g);
                    None
                }
            },
            // An attempt let through in an earlier phase: it says nothing of this one.
            _ => None,
        }
    }

    /// Gives a probe's slot back without an outcome.
    fn release(&mut self, generation: u64) {
        if let Phase::HalfOpen { probing, .. } = &mut self.phase
            && generation == self.generation
        {
            *probing = probing.saturating_sub(1);
        }
    }

    fn open(&mut self, now: Instant, policy: &Policy) {
        let cut = policy
            .break_duration
            .mul_f64(policy.break_jitter * fastrand::f64());
        self.counts.clear();
        self.enter(
            now,
            Phase::Open {
                until: now + (policy.break_duration - cut),
            },
        );
    }

    fn enter(&mut self, now: Instant, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
        self.last_change = now;
    }
}

impl HostState for Circuit {
    fn idle(&self, now: Instant) -> bool {
        matches!(self.phase, Phase::Closed) && !self.counts.active(now)
    }
}

/// The circuits of the hosts a client sends to.
pub(crate) struct Breakers {
    pub(crate) policy: Policy,
    hosts: HostMap<Circuit>,
}

impl Breakers {
    pub(crate) fn new(policy: Policy) -> Breakers {
        Breakers {
            policy,
            hosts: HostMap::default(),
        }
    }

    /// Whether an attempt to `origin` may go now.
    pub(crate) fn admit<'a>(
        &'a self,
        origin: &'a Origin,
    ) -> (Admission<Ticket<'a>>, Option<Change>) {
        let now = Instant::now();
        let p = &self.policy;
        let (admission, change) =
            self.hosts
                .with(origin, now, || Circuit::new(now, p), |c| c.admit(now, p));
        let admission = match admission {
            Admission::Pass(probe) => Admission::Pass(Ticket {
                breakers: self,
                origin,
                probe,
            }),
            Admission::Refused { probe_in } => Admission::Refused { probe_in },
        };
        (admission, change)
    }

    /// The state of `origin`'s circuit (closed when it has none).
    pub(crate) fn state(&self, origin: &Origin) -> CircuitState {
        let now = Instant::now();
        self.hosts
            .get(origin, |c| c.state(now))
            .unwrap_or(CircuitState::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::default()
            .min_throughput(4)
            .failure_ratio(0.5)
            .break_duration(Duration::from_secs(1))
            .break_jitter(0.0)
    }

    fn pass(a: Admission<Probe>) -> Probe {
        match a {
            Admission::Pass(t) => t,
            Admission::Refused { .. } => panic!("refused"),
        }
    }

    #[test]
    fn opens_at_the_ratio_once_the_throughput_is_reached_then_probes_and_closes() {
        let p = policy();
        let t0 = Instant::now();
        let mut c = Circuit::new(t0, &p);
        // Three failures are under the minimum throughput: still closed.
        for _ in 0..3 {
            let t = pass(c.admit(t0, &p).0);
            assert!(c.record(t, Outcome::Failure, t0, &p).is_none());
        }
        let t = pass(c.admit(t0, &p).0);
        let change = c.record(t, Outcome::Failure, t0, &p).expect("opens");
        assert_eq!((change.state, change.counted), (CircuitState::Open, (4, 4)));
        match c.admit(t0 + Duration::from_millis(400), &p).0 {
            Admission::Refused { probe_in } => {
                assert_eq!(probe_in, Some(Duration::from_millis(600)))
            }
            Admission::Pass(_) => panic!("let through while open"),
        }
        // The break is over: one probe goes, the next waits for it.
        let later = t0 + Duration::from_secs(1);
        let (probe, change) = c.admit(later, &p);
        assert_eq!(change.unwrap().state, CircuitState::HalfOpen);
        let probe = pass(probe);
        assert!(matches!(
            c.admit(later, &p).0,
            Admission::Refused { probe_in: None }
        ));
        let change = c.record(probe, Outcome::Success, later, &p).unwrap();
        assert_eq!(change.state, CircuitState::Closed);
        pass(c.admit(later, &p).0);
    }

    #[test]
    fn failures_in_a_row_open_it_after_a_long_healthy_spell() {
        let p = policy().consecutive_failures(3);
        let t0 = Instant::now();
        let mut c = Circuit::new(t0, &p);
        for _ in 0..1000 {
            let t = pass(c.admit(t0, &p).0);
            c.record(t, Outcome::Success, t0, &p);
        }
        for i in 0..3 {
            let t = pass(c.admit(t0, &p).0);
            let change = c.record(t, Outcome::Failure, t0, &p);
            assert_eq!(change.is_some(), i == 2, "failure {i}");
        }
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_released_one_frees_its_slot() {
        let p = policy().min_throughput(1);
        let t0 = Instant::now();
        let mut c = Circuit::new(t0, &p);
        let t = pass(c.admit(t0, &p).0);
        c.record(t, Outcome::Failure, t0, &p).unwrap();
        let t1 = t0 + Duration::from_secs(1);
        let probe = pass(c.admit(t1, &p).0);
        c.release(probe.unwrap());
        let probe = pass(c.admit(t1, &p).0);
        let change = c.record(probe, Outcome::Failure, t1, &p).unwrap();
        assert_eq!(change.state, CircuitState::Open);
        assert_eq!(c.state(t1), CircuitState::Open);
    }

    #[test]
    fn ignored_outcomes_are_not_counted_and_a_minority_of_failures_keeps_it_closed() {
        let p = policy();
        let t0 = Instant::now();
        let mut c = Circuit::new(t0, &p);
        for i in 0..300 {
            let t = pass(c.admit(t0, &p).0);
            // One failure in three counted outcomes, and as many ignored ones as failures.
            let o = match i % 4 {
                1 => Outcome::Ignored,
                3 => Outcome::Failure,
                _ => Outcome::Success,
            };
            assert!(c.record(t, o, t0, &p).is_none(), "opened at {i}");
        }
        assert_eq!(c.counts.sums(t0), (225, 75));
    }
}
