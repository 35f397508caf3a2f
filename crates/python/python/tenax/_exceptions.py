"""Exceptions: httpx's classes where httpx has one, and Tenax's own.

Every exception raised for a failed request is a ``HTTPError`` with ``phase`` (the timeout's
phase, or ``None``), ``attempts`` (how many were made), ``url`` and ``retries_exhausted``.
When retries ran out, the exception is also a ``RetryExhausted`` (so ``except
tenax.ConnectError`` and ``except tenax.RetryExhausted`` both catch a refused connection that
was retried to the end).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

__all__ = [
    "HTTPError",
    "RequestError",
    "TransportError",
    "TimeoutException",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "DeadlineExceeded",
    "NetworkError",
    "ConnectError",
    "TLSError",
    "ReadError",
    "WriteError",
    "ProtocolError",
    "RemoteProtocolError",
    "ProxyError",
    "DecodingError",
    "TooManyRedirects",
    "HTTPStatusError",
    "InvalidURL",
    "BodyTooLarge",
    "DigestMismatch",
    "RetryExhausted",
    "CircuitOpen",
    "ClientClosed",
    "WebSocketError",
    "LocalWriteError",
]


class HTTPError(Exception):
    """Base class of every error of a request."""

    phase: Optional[str] = None
    attempts: int = 1
    url: Optional[str] = None
    retries_exhausted: bool = False
    limit: Optional[float] = None

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message)
        self.message = message
        for k, v in kwargs.items():
            setattr(self, k, v)


class RequestError(HTTPError):
    """The request could not be made or completed (also: invalid input)."""


class TransportError(RequestError):
    """Something went wrong on the way to or from the server."""


class TimeoutException(TransportError):
    """A time limit ran out; ``phase`` says which."""


class ConnectTimeout(TimeoutException):
    """Opening the connection took too long."""


class ReadTimeout(TimeoutException):
    """The server took too long to answer (the head, or a body chunk)."""


class WriteTimeout(TimeoutException):
    """Sending the request took too long."""


class PoolTimeout(TimeoutException):
    """No connection of the pool came free in time."""


class DeadlineExceeded(TimeoutException):
    """The operation deadline (``deadline=`` or ``tenax.deadline()``) ran out."""


class NetworkError(TransportError):
    """The connection failed."""


class ConnectError(NetworkError):
    """The connection could not be opened (refused, no route, name not resolved)."""


class TLSError(ConnectError):
    """The TLS handshake failed (certificate, pin, versions)."""


class ReadError(NetworkError):
    """The connection broke while the response was read."""


class WriteError(NetworkError):
    """The connection broke while the request was sent."""


class ProtocolError(TransportError):
    """The exchange broke HTTP's rules."""


class RemoteProtocolError(ProtocolError):
    """The server answered with something that is not HTTP, or closed without an answer."""


class ProxyError(TransportError):
    """The proxy refused or failed."""


class DecodingError(RequestError):
    """The body could not be decoded."""


class TooManyRedirects(RequestError):
    """Too many redirects, or one that may not be followed."""


class HTTPStatusError(HTTPError):
    """``raise_for_status()`` on a 4xx or 5xx response."""

    request: Any = None
    response: Any = None
    status: Optional[int] = None


class InvalidURL(RequestError):
    """The URL cannot be used."""


class BodyTooLarge(RequestError):
    """The body was larger than ``max_body_bytes``."""


class DigestMismatch(RequestError):
    """A download's SHA-256 differed from the one expected."""


class RetryExhausted(TransportError):
    """The request failed after using up its attempts or the host's retry budget."""


class CircuitOpen(TransportError):
    """The host's circuit breaker is open: refused at once, no connection made."""


class ClientClosed(RequestError):
    """The client was closed."""


class WebSocketError(TransportError):
    """The WebSocket failed (handshake answer, protocol violation, message too large)."""


class LocalWriteError(RequestError):
    """Writing a download's file failed."""


_COMBINED: Dict[Tuple[Type[HTTPError], Type[HTTPError]], Type[HTTPError]] = {}


def _combined(cls: Type[HTTPError]) -> Type[HTTPError]:
    key = (cls, RetryExhausted)
    if key not in _COMBINED:
        if issubclass(cls, RetryExhausted):
            _COMBINED[key] = cls
        else:
            _COMBINED[key] = type(cls.__name__, (cls, RetryExhausted), {"__module__": __name__})
    return _COMBINED[key]


def _make(
    name: str,
    message: str,
    phase: Optional[str],
    attempts: int,
    exhausted: bool,
    url: Optional[str],
    status: Optional[int],
    limit: Optional[float],
) -> HTTPError:
    """The exception for an error of the Rust core (called by it)."""
    cls = globals().get(name, TransportError)
    if exhausted:
        cls = _combined(cls)
    return cls(
        message,
        phase=phase,
        attempts=attempts,
        url=url,
        retries_exhausted=exhausted,
        status=status,
        limit=limit,
    )
