"""Recipe 03: connection limits with a bounded wait for a connection, and HTTP/2."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    limits = tenax.Limits(max_connections=4, max_keepalive_connections=4)
    async with tenax.AsyncClient(limits=limits, timeout=tenax.Timeout(pool=10)) as client:
        peak = 0

        async def one() -> None:
            nonlocal peak
            r = await client.get(f"{base}/delay/50")
            peak = max(peak, client.open_connections())
            assert r.status_code == 200

        await asyncio.gather(*(one() for _ in range(50)))
        print(f"50 requests at once, at most {peak} connections (limit 4)")
        assert peak <= 4
    # HTTP/2 (by prior knowledge on http://; over https it is chosen with ALPN).
    async with tenax.AsyncClient(http1=False, http2=True) as client:
        r = await client.get(f"{base}/bytes/13")
        print("HTTP/2:", r.http_version)
        assert r.http_version == "HTTP/2"


asyncio.run(main())
