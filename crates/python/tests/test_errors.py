"""Each exception class, raised by the fault it names."""

from __future__ import annotations

import pytest
import tenax

from conftest import run


def no_retry(**kw):
    return tenax.AsyncClient(retries=0, **kw)


@run
async def test_connect_error_and_retry_exhausted(chaos):
    async with tenax.AsyncClient(retries=tenax.Retry(2, backoff=0.01)) as c:
        with pytest.raises(tenax.ConnectError) as e:
            await c.get("http://127.0.0.1:1/")
    assert isinstance(e.value, tenax.RetryExhausted) and e.value.attempts == 3
    assert isinstance(e.value, tenax.TransportError) and e.value.url == "http://127.0.0.1:1/"


@run
async def test_timeouts_by_phase(chaos):
    async with no_retry(timeout=tenax.Timeout(connect=0.3)) as c:
        with pytest.raises(tenax.ConnectTimeout) as e:
            await c.get(f"http://{chaos.blackhole}/")
        assert e.value.phase == "connect"
    async with no_retry(timeout=tenax.Timeout(read=0.3)) as c:
        with pytest.raises(tenax.ReadTimeout) as e:
            await c.get(chaos.url("/delay/3000"))
        assert e.value.phase == "read"
    async with no_retry(timeout=tenax.Timeout(write=0.3)) as c:
        with pytest.raises(tenax.WriteTimeout):
            await c.post(chaos.url("/slow-read?bps=1000"), content=b"x" * (8 << 20))
    limits = tenax.Limits(max_connections=1)
    async with no_retry(limits=limits, timeout=tenax.Timeout(pool=0.3)) as c:
        import asyncio

        stalled = asyncio.ensure_future(c.get(chaos.url("/delay/3000")))
        await asyncio.sleep(0.1)
        with pytest.raises(tenax.PoolTimeout):
            await c.get(chaos.url("/bytes/1"))
        stalled.cancel()


@run
async def test_status_redirect_size_and_url_errors(chaos):
    async with no_retry(follow_redirects=True, max_redirects=2, max_body_bytes=1000) as c:
        r = await c.get(chaos.url("/status/503"))
        with pytest.raises(tenax.HTTPStatusError) as e:
            r.raise_for_status()
        assert e.value.response is r and e.value.status == 503
        with pytest.raises(tenax.TooManyRedirects):
            await c.get(chaos.url("/redirect/5"))
        with pytest.raises(tenax.BodyTooLarge):
            await c.get(chaos.url("/bytes/5000"))
        with pytest.raises(tenax.InvalidURL):
            await c.get("http://127.0.0.1:99999/")


@run
async def test_broken_answers(chaos):
    async with no_retry() as c:
        with pytest.raises(tenax.ReadError):
            await c.get(chaos.url("/truncate/10"))
        with pytest.raises((tenax.ReadError, tenax.RemoteProtocolError)):
            await c.get(chaos.url("/reset/10"))


@run
async def test_circuit_open(chaos):
    async with tenax.AsyncClient(retries=0, breaker=True) as c:
        for _ in range(10):
            with pytest.raises(tenax.ConnectError):
                await c.get("http://127.0.0.1:1/")
        with pytest.raises(tenax.CircuitOpen) as e:
            await c.get("http://127.0.0.1:1/")
        assert e.value.attempts == 0 and "next probe" in str(e.value)
