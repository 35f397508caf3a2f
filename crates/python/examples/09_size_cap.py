"""Recipe 09: a cap on the body, counted on decoded bytes (a gzip bomb stops at it)."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient(max_body_bytes=1 << 20, headers={"accept-encoding": "gzip"}) as client:
        try:
            await client.get(f"{base}/gzip-bomb/100000000")
        except tenax.BodyTooLarge as e:
            print("cut at the cap:", e)
        try:
            await client.get(f"{base}/bytes/5000000")
        except tenax.BodyTooLarge as e:
            print("refused before the body:", e)


asyncio.run(main())
