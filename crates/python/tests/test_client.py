"""The client as an httpx user meets it, against tenax-chaos."""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import time

import pytest
import tenax

from conftest import run


@run
async def test_get_reads_the_whole_body_and_tells_the_exchange(chaos):
    async with tenax.AsyncClient() as c:
        r = await c.get(chaos.url("/bytes/13"))
        assert r.status_code == 200 and r.http_version == "HTTP/1.1"
        assert len(r.content) == 13 and r.headers["Content-Length"] == "13"
        assert r.attempts == 1 and r.elapsed > 0 and r.timings["ttfb"] > 0
        assert r.is_success and not r.is_error


@run
async def test_params_json_data_and_files_reach_the_server_as_httpx_sends_them(chaos):
    async with tenax.AsyncClient(headers={"x-app": "t"}) as c:
        r = await c.post(chaos.url("/echo"), params={"q": "a b"}, json={"k": [1, 2]})
        doc = r.json()
        assert doc["uri"] == "/echo?q=a+b" and doc["body"] == '{"k":[1,2]}'
        assert doc["headers"]["content-type"] == "application/json"
        assert doc["headers"]["x-app"] == "t"
        r = await c.post(chaos.url("/echo"), data={"a": "1", "b": "x y"})
        assert r.json()["form"] == [["a", "1"], ["b", "x y"]]
        r = await c.post(
            chaos.url("/echo"),
            data={"note": "hi"},
            files={"up": ("f.bin", b"\x00" * 1000, "application/octet-stream")},
        )
        parts = {p["name"]: p for p in r.json()["parts"]}
        assert parts["up"]["size"] == 1000 and parts["up"]["filename"] == "f.bin"
        assert parts["up"]["sha256"] == hashlib.sha256(b"\x00" * 1000).hexdigest()


@run
async def test_a_stream_reads_the_body_as_it_arrives(chaos):
    async with tenax.AsyncClient() as c:
        total = 0
        async with c.stream("GET", chaos.url("/stream/100000?chunk=1000")) as r:
            assert r.status_code == 200
            async for chunk in r.aiter_bytes():
                total += len(chunk)
        assert total == 100000
        async with c.stream("POST", chaos.url("/echo?raw=1"), content=b"a\nb\nc") as r:
            assert [line async for line in r.aiter_lines()] == ["a", "b", "c"]


@run
async def test_a_download_is_verified_and_put_in_place(chaos, tmp_path: pathlib.Path):
    async with tenax.AsyncClient() as c:
        url = chaos.url("/file/200000?reset_after=50000&reset_first=1&key=dl1")
        d = await c.download(url, tmp_path / "f.bin")
        assert d.bytes == 200000 and d.resumes == 1
        assert hashlib.sha256((tmp_path / "f.bin").read_bytes()).hexdigest() == d.sha256
        with pytest.raises(tenax.DigestMismatch):
            await c.download(chaos.url("/file/1000"), tmp_path / "g.bin", sha256="00" * 32)
        assert not (tmp_path / "g.bin").exists()


@run
async def test_a_batch_yields_results_as_they_complete(chaos):
    async with tenax.AsyncClient() as c:
        urls = [chaos.url(f"/delay/{ms}") for ms in (300, 10, 100)] + ["http://127.0.0.1:1/"]
        order, failed = [], []
        async for i, res in c.batch(urls, concurrency=4):
            order.append(i)
            if isinstance(res, Exception):
                failed.append((i, type(res)))
        assert order[-1] == 0 and set(order) == {0, 1, 2, 3}
        assert [i for i, _ in failed] == [3] and issubclass(failed[0][1], tenax.ConnectError)


@run
async def test_one_deadline_is_shared_by_everything_inside(chaos):
    async with tenax.AsyncClient() as c:
        started = time.monotonic()
        with pytest.raises(tenax.DeadlineExceeded):
            async with tenax.deadline(0.5):
                await c.get(chaos.url("/delay/200"))
                await c.get(chaos.url("/delay/200"))
                await c.get(chaos.url("/delay/200"))
        assert 0.45 < time.monotonic() - started < 2.5


@run
async def test_hooks_see_each_request_and_response(chaos):
    seen = []

    async def on_request(req):
        seen.append(("request", req.method))

    async def on_response(res):
        seen.append(("response", res.status_code))

    hooks = {"request": [on_request], "response": [on_response]}
    async with tenax.AsyncClient(event_hooks=hooks) as c:
        await c.get(chaos.url("/status/204"))
    assert seen == [("request", "GET"), ("response", 204)]


@run
async def test_websocket_echo_with_events_and_close(chaos):
    ws = await tenax.ws.connect(chaos.ws_url("/ws/echo"), heartbeat=1.0)
    await ws.send("hello")
    await ws.send(b"\x01\x02")
    assert await ws.recv() == "hello"
    assert await ws.recv() == b"\x01\x02"
    events = ws.events()
    kind, _ = await events.__anext__()
    assert kind in ("connecting", "connected")
    assert await ws.close() == 0
    assert await ws.recv() is None


@run
async def test_resilience_options_reach_the_core(chaos):
    async with tenax.AsyncClient(hedge=0.05) as c:
        r = await c.get(chaos.url("/tail?every=100000&ms=20000"))
        assert r.hedges == (1, True)
    async with tenax.AsyncClient(rate_limit=20) as c:
        started = time.monotonic()
        for _ in range(4):
            await c.get(chaos.url("/bytes/1"))
        assert time.monotonic() - started >= 0.14


def test_a_request_never_shows_a_password():
    c = tenax.AsyncClient()
    req = c.build_request("GET", "http://user:s3cret@127.0.0.1:1/x")
    assert "s3cret" not in repr(req) and "user" in repr(req)
