"""Recipe 06: many requests with bounded concurrency, results as they complete."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient() as client:
        urls = [f"{base}/delay/{5 + (i % 5) * 10}" for i in range(100)]
        ok = 0
        first = None
        async for i, res in client.batch(urls, concurrency=10):
            first = i if first is None else first
            ok += isinstance(res, tenax.Response) and res.status_code == 200
        print(f"100 requests, 10 at a time: {ok} ok, first done #{first}")
        assert ok == 100


asyncio.run(main())
