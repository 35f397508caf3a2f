"""Recipe 05: retries with exponential backoff and jitter, for idempotent requests only —
on by default, with Retry-After and a per-host budget."""

import asyncio

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient(retries=tenax.Retry(2, backoff=0.05)) as client:
        r = await client.get(f"{base}/flaky/py05a?fail=2&status=502")
        print(f"GET: {r.status_code} after {r.attempts} attempts; retries: {r.retries}")
        assert r.status_code == 200 and r.attempts == 3
        r = await client.post(f"{base}/flaky/py05b?fail=1", content=b"pay")
        print(f"POST: {r.status_code} after {r.attempts} attempt (not idempotent)")
        assert r.attempts == 1
        r = await client.post(
            f"{base}/flaky/py05c?fail=1&status=502",
            content=b"pay",
            headers={"Idempotency-Key": "payment-1"},
        )
        print(f"POST with a key: {r.status_code} after {r.attempts} attempts")
        assert r.status_code == 200


asyncio.run(main())
