"""Recipe 16: structured concurrency — tasks under one deadline; the first failure cancels
the rest, and nothing is left running."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient() as client:

        async def fetch_all() -> int:
            results = [r async for r in client.batch([f"{base}/bytes/10"] * 50, concurrency=10)]
            return len(results)

        async def failing() -> None:
            await asyncio.sleep(0.1)
            raise RuntimeError("one part failed")

        async def slow() -> None:
            await client.get(f"{base}/delay/5000")

        try:
            async with tenax.deadline(3.0):
                async with asyncio.TaskGroup() as group:
                    group.create_task(fetch_all())
                    group.create_task(failing())
                    group.create_task(slow())
        except* RuntimeError as e:
            print("the failure cancelled the rest:", e.exceptions[0])
    # The client's scope ended: every connection is closed.
    print("connections left open:", client.open_connections())
    assert client.open_connections() == 0


asyncio.run(main())
