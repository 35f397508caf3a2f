"""Recipe 12: a WebSocket heartbeat — a silent peer is declared dead within ping + pong."""

import asyncio
import time

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    url = base.replace("http://", "ws://") + "/ws/silent"
    ws = await tenax.ws.connect(url, heartbeat=0.3, pong_timeout=0.3, reconnect=False)
    t = time.monotonic()
    assert await ws.recv() is None  # ends when the peer is declared dead
    took = time.monotonic() - t
    print(f"silent peer declared dead after {took:.2f} s")
    assert took < 2.5


asyncio.run(main())
