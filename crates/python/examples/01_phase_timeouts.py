"""Recipe 01: time limits by phase — connect, read, write, pool — and an error that says
which one ran out."""

import asyncio
import time

import tenax
from _chaos import server


async def main() -> None:
    base, hole = server()  # Scaffolding: a fault-injecting server.
    # Your code:
    timeout = tenax.Timeout(connect=0.3, read=0.5, write=5, pool=2)
    async with tenax.AsyncClient(timeout=timeout, retries=0) as client:
        t = time.monotonic()
        try:
            await client.get(f"http://{hole}/")  # never accepts
        except tenax.ConnectTimeout as e:
            print(f"connect: {e.phase} after {time.monotonic() - t:.2f} s: {e}")
        try:
            await client.get(f"{base}/delay/3000")  # answers too late
        except tenax.ReadTimeout as e:
            print(f"read: {e}")
            assert e.phase == "read"


asyncio.run(main())
