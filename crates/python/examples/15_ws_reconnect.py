"""Recipe 15: reconnect with backoff; the outbox survives the drops."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    url = base.replace("http://", "ws://") + "/ws/drop/3"  # drops after 3 echoes
    ws = await tenax.ws.connect(url, backoff=(0.05, 0.5))
    got = []
    # One message at a time, sent again if its echo was lost with a dropped connection.
    for i in range(10):
        while True:
            await ws.send(f"m{i}")
            try:
                got.append(await asyncio.wait_for(ws.recv(), 1.0))
                break
            except asyncio.TimeoutError:
                pass
    kinds = []
    events = ws.events()
    while "reconnecting" not in kinds:
        kind, _ = await asyncio.wait_for(events.__anext__(), 5)
        kinds.append(kind)
    print("received", len(got), "echoes across drops; events:", kinds)
    await ws.close()


asyncio.run(main())
