"""``tenax.ws``: a resilient WebSocket client — heartbeat, read deadline, bounded outbox,
reconnect with backoff — on Tenax's Rust core.

    ws = await tenax.ws.connect("wss://feed.example/ticks", heartbeat=20, read_deadline=60)
    await ws.send("subscribe")
    async for message in ws:       # str or bytes; ends when closed for good
        ...
    await ws.close()
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Mapping, Optional, Sequence, Tuple, Union

import asyncio

from . import _tenax
from ._bridge import bridge_for, wait

__all__ = ["connect", "WebSocket"]


class WebSocket:
    """A WebSocket that reconnects; see ``connect``."""

    def __init__(self, core: Any) -> None:
        self._core = core

    async def send(self, message: Union[str, bytes]) -> None:
        """Queues a message; waits while the outbox is full (back-pressure)."""
        if not self._core.try_send(message):
            await wait(self._core.send(message))

    async def recv(self) -> Optional[Union[str, bytes]]:
        """The next message; ``None`` once closed for good."""
        ready, message = self._core.try_recv()
        if ready:
            return message
        return await wait(self._core.recv())

    def __aiter__(self) -> "WebSocket":
        return self

    async def __anext__(self) -> Union[str, bytes]:
        message = await self.recv()
        if message is None:
            raise StopAsyncIteration
        return message

    async def events(self) -> AsyncIterator[Tuple[str, str]]:
        """State changes as ``(kind, detail)``: connecting, connected, disconnected,
        reconnecting, closed."""
        while True:
            event = await self._core.next_event()
            if event is None:
                return
            yield event

    async def close(self, timeout: float = 5.0) -> int:
        """Closes, letting the outbox drain for up to ``timeout`` seconds; returns how many
        messages were never sent."""
        return await self._core.close(timeout)

    @property
    def is_connected(self) -> bool:
        return self._core.is_connected()

    async def __aenter__(self) -> "WebSocket":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def connect(
    url: str,
    *,
    headers: Optional[Mapping[str, str]] = None,
    heartbeat: Optional[float] = 20.0,
    pong_timeout: float = 20.0,
    read_deadline: Optional[float] = None,
    outbox: Tuple[int, int] = (1024, 16 << 20),
    reconnect: bool = True,
    max_attempts: Optional[int] = None,
    backoff: Tuple[float, float] = (0.5, 30.0),
    compression: bool = False,
    subprotocols: Sequence[str] = (),
    connect_timeout: Optional[float] = None,
) -> WebSocket:
    """Connects to ``url`` (``ws://`` or ``wss://``). Defaults: a ping every 20 s (any frame
    counts as liveness) with a 20 s pong timeout, no read deadline, an outbox of 1,024
    messages / 16 MiB, reconnect with full-jitter backoff from 0.5 s to 30 s, no compression.
    ``heartbeat=None`` turns pings off."""
    options = {
        "headers": list((headers or {}).items()),
        "heartbeat": 0.0 if heartbeat is None else float(heartbeat),
        "pong_timeout": pong_timeout,
        "read_deadline": read_deadline,
        "outbox": outbox,
        "reconnect": reconnect,
        "max_attempts": max_attempts,
        "backoff": backoff,
        "compression": compression,
        "subprotocols": list(subprotocols),
        "connect_timeout": connect_timeout,
    }
    bridge = bridge_for(asyncio.get_running_loop())
    return WebSocket(await _tenax.ws_connect(url, options, bridge))
