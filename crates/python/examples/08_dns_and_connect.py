"""Recipe 08: a DNS cache (names resolved once per TTL) and connection reuse."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    port = base.rsplit(":", 1)[1]
    async with tenax.AsyncClient(dns_ttl=60) as client:
        first = await client.get(f"http://localhost:{port}/bytes/1")
        again = await client.get(f"http://localhost:{port}/bytes/1")
        print("first: dns", first.timings["dns"], "connect", first.timings["connect"])
        print("again: dns", again.timings["dns"], "(a reused connection resolves nothing)")
        assert again.timings["dns"] is None


asyncio.run(main())
