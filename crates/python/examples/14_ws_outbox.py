"""Recipe 14: a bounded outbox — send waits when it is full (back-pressure), close says what
was never sent."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    url = base.replace("http://", "ws://") + "/ws/silent"  # never reads
    ws = await tenax.ws.connect(url, outbox=(8, 1 << 20), reconnect=False)
    sent = 0
    try:
        while True:
            await asyncio.wait_for(ws.send(b"x" * 256 * 1024), 0.5)
            sent += 1
    except asyncio.TimeoutError:
        print(f"{sent} messages accepted, then send waited (back-pressure)")
    unsent = await ws.close(timeout=0.2)
    print(f"close handed back {unsent} unsent")
    assert unsent > 0


asyncio.run(main())
