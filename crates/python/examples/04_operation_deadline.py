"""Recipe 04: one deadline over a whole operation — every request, retry and wait inside."""

import asyncio
import time

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient() as client:
        t = time.monotonic()
        try:
            async with tenax.deadline(1.0):
                for _ in range(3):
                    await client.get(f"{base}/delay/600")
        except tenax.DeadlineExceeded as e:
            took = time.monotonic() - t
            print(f"ended on time after {took:.2f} s: {e}")
            assert 0.9 < took < 2.5
        # Or per request: `deadline=` covers its retries and their waits.
        try:
            await client.get(f"{base}/flaky/py04?fail=5&status=503&retry_after=1", deadline=0.5)
        except tenax.DeadlineExceeded as e:
            print("per request:", e)


asyncio.run(main())
