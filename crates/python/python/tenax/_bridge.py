"""One ``Bridge`` per event loop: the Rust core queues finished requests and wakes the loop
through a socket it watches, so the runtime's threads never take the GIL (see
``src/bridge.rs``)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Tuple

from . import _tenax

_BRIDGES: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = (
    weakref.WeakKeyDictionary()
)


def bridge_for(loop: asyncio.AbstractEventLoop) -> Any:
    """The bridge of ``loop``, made (and watched by it) on first use."""
    b = _BRIDGES.get(loop)
    if b is None:
        b = _tenax.Bridge(loop)
        loop.add_reader(b.fileno(), b.drain)
        _BRIDGES[loop] = b
    return b


async def wait(pending: Tuple[Any, Any]) -> Any:
    """Awaits a core call's future; cancelling the awaiting task cancels the request."""
    fut, task = pending
    try:
        return await fut
    except asyncio.CancelledError:
        task.cancel()
        raise
