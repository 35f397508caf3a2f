"""Recipe 02: one client for the whole program, reused by every request, closed at the end."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient() as client:
        for _ in range(20):
            r = await client.get(f"{base}/bytes/13")
            assert r.status_code == 200
        print("20 requests over", client.open_connections(), "connection")
        assert client.open_connections() == 1
    print("closed:", client.open_connections(), "connections open")
    assert client.open_connections() == 0


asyncio.run(main())
