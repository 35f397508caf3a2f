//! Bodies: the request body a caller gives (`outgoing.rs`, the public [`Body`]) and the
//! response body a connection delivers (`incoming.rs`).

mod file;
mod incoming;
mod outgoing;

pub(crate) use incoming::RecvBody;
pub use outgoing::Body;
