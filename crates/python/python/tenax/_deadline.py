"""``tenax.deadline(seconds)``: one deadline shared by every Tenax operation inside it
(requests, their retries and waits, downloads), in this task and the tasks it creates. A
nested deadline can only shorten it."""

from __future__ import annotations

import contextvars
import time
from typing import Any, Optional

_DEADLINE: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar(
    "tenax_deadline", default=None
)


def remaining(own: Optional[float]) -> Optional[float]:
    """Seconds left for an operation: its own limit, or the enclosing deadline's rest."""
    at = _DEADLINE.get()
    left = None if at is None else max(0.0, at - time.monotonic())
    if own is None:
        return left
    return own if left is None else min(own, left)


class deadline:  # noqa: N801 (used as `async with tenax.deadline(5):`)
    """``async with tenax.deadline(5.0): ...`` (or ``with``)."""

    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a deadline is at least 0 seconds")
        self.seconds = seconds
        self._token: Any = None

    def __enter__(self) -> "deadline":
        at = time.monotonic() + self.seconds
        outer = _DEADLINE.get()
        self._token = _DEADLINE.set(at if outer is None else min(at, outer))
        return self

    def __exit__(self, *exc: Any) -> None:
        _DEADLINE.reset(self._token)

    async def __aenter__(self) -> "deadline":
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__()

    def remaining(self) -> Optional[float]:
        """Seconds left."""
        return remaining(None)
