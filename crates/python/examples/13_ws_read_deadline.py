"""Recipe 13: a read deadline — no message for too long ends the connection (pongs do not
count)."""

import asyncio
import time

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    url = base.replace("http://", "ws://") + "/ws/echo"
    ws = await tenax.ws.connect(url, read_deadline=0.4, reconnect=False)
    t = time.monotonic()
    assert await ws.recv() is None
    print(f"no message for {time.monotonic() - t:.2f} s: connection dropped")


asyncio.run(main())
