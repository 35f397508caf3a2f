//! An error's chain of causes: walked through the wrappers that hide theirs, written as one
//! line, searched for our write-stall marker and for the `io::Error` underneath.

use std::fmt;
use std::time::Duration;

use super::Error;

/// The marker our socket wrapper puts inside the `io::Error` it returns when a write stalls
/// past the write timeout, so the error that hyper hands back can be recognised.
#[derive(Debug)]
pub(crate) struct WriteStalled(pub(crate) Duration);

impl fmt::Display for WriteStalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the socket accepted no bytes for {:?}", self.0)
    }
}

impl std::error::Error for WriteStalled {}

/// Every error in `err`'s chain, looking through the wrappers that hide their cause from
/// `source()`: an `io::Error` carrying a custom error (rustls's, our write-stall marker) and an
/// h2 error carrying an `io::Error`.
pub(crate) fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| {
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            return Some(inner as &(dyn std::error::Error + 'static));
        }
        if let Some(io) = e.downcast_ref::<h2::Error>().and_then(h2::Error::get_io) {
            return Some(io as &(dyn std::error::Error + 'static));
        }
        e.source()
    })
}

/// `err`'s message followed by its causes', joined by ": ".
pub(crate) fn message_chain(err: &Error) -> String {
    let mut out = String::new();
    for e in chain(err) {
        let text = e.to_string();
        if !out.is_empty() {
            // A cause already quoted by its wrapper is not repeated.
            if out.ends_with(&text) {
                continue;
            }
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Finds a [`WriteStalled`] marker anywhere in an error's chain.
pub(crate) fn find_write_stall(err: &(dyn std::error::Error + 'static)) -> Option<Duration> {
    chain(err).find_map(|e| e.downcast_ref::<WriteStalled>().map(|w| w.0))
}

/// Finds the first `io::Error` in an error's chain.
pub(crate) fn find_io<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a std::io::Error> {
    chain(err).find_map(|e| e.downcast_ref::<std::io::Error>())
}
