//! The messages a WebSocket carries, and their wire form.

use super::frame::Wire;
use bytes::Bytes;

/// A WebSocket data message. Pings, pongs and close frames are handled by the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            Message::Binary(_) => None,
        }
    }

    /// The payload's bytes (UTF-8 for a text message).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Message {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Message {
        Message::Text(s.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Message {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Message {
        Message::Binary(b.into())
    }
}

/// A message as the outbox keeps it: its bytes shared, so that a copy can go to the socket
/// while the original stays queued until the write is known to have finished.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    pub(crate) text: bool,
    pub(crate) data: Bytes,
}

impl Outgoing {
    pub(crate) fn into_message(self) -> Message {
        if self.text {
            // The bytes came from a `String`: valid UTF-8 by construction.
            Message::Text(String::from_utf8_lossy(&self.data).into_owned())
        } else {
            Message::Binary(self.data)
        }
    }
}

impl From<Message> for Outgoing {
    fn from(m: Message) -> Outgoing {
        match m {
            Message::Text(t) => Outgoing {
                text: true,
                data: Bytes::from(t),
            },
            Message::Binary(b) => Outgoing {
                text: false,
                data: b,
            },
        }
    }
}

/// A data message from the wire (the codec checked its text); `None` for control frames.
pub(crate) fn from_wire(m: Wire) -> Option<Message> {
    match m {
        Wire::Text(t) => Some(Message::Text(t)),
        Wire::Binary(b) => Some(Message::Binary(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_outbox_form() {
        for m in [Message::text("héllo"), Message::binary(vec![0u8, 255, 7])] {
            let o = Outgoing::from(m.clone());
            assert_eq!(o.clone().into_message(), m);
            let wire = match &m {
                Message::Text(t) => Wire::Text(t.clone()),
                Message::Binary(b) => Wire::Binary(b.clone()),
            };
            assert_eq!(from_wire(wire), Some(m));
        }
        assert_eq!(from_wire(Wire::Ping(b"x".to_vec())), None);
    }
}
