"""Recipe 11: hooks on each request and response, per-phase timings, attempts."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    log = []

    async def on_request(request: tenax.Request) -> None:
        log.append(f"> {request.method} {request.url}")

    async def on_response(response: tenax.Response) -> None:
        t = response.timings
        log.append(f"< {response.status_code} in {t['ttfb'] * 1e3:.1f} ms, {response.attempts} attempts")

    hooks = {"request": [on_request], "response": [on_response]}
    async with tenax.AsyncClient(event_hooks=hooks, retries=tenax.Retry(2, backoff=0.01)) as client:
        await client.get(f"{base}/flaky/py11?fail=1&status=503")
    print("\n".join(log))
    assert len(log) == 2


asyncio.run(main())
