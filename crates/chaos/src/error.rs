//! The error type of the chaos server's own API (starting, binding, certificates).

use std::fmt;

type Source = Box<dyn std::error::Error + Send + Sync>;

/// Why a chaos server could not be started.
pub struct Error {
    context: String,
    source: Option<Source>,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        Error {
            context: context.into(),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn tls(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error {
            context: "generating the TLS certificates".into(),
            source: Some(Box::new(e)),
        }
    }

    pub(crate) fn msg(context: impl Into<String>) -> Self {
        Error {
            context: context.into(),
            source: None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(s) => write!(f, "tenax-chaos: {}: {s}", self.context),
            None => write!(f, "tenax-chaos: {}", self.context),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
