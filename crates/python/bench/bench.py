"""Tenax for Python against the Python clients people use, one run, one tenax-chaos server:

- small GET (``/bytes/13``) at 64 in flight: requests a second and CPU per request of the
  whole client process (its threads included), each client in a fresh process at its best
  settings (aiohttp with uvloop too);
- a 1 GiB download to a file: rate, CPU and peak RSS;
- WebSocket echo of 64-byte messages, 100 in flight: messages a second and CPU.

    python crates/python/bench/bench.py [--n 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[3]


def usage() -> dict:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": r.ru_utime + r.ru_stime, "rss_kib": r.ru_maxrss}


# ===== the clients, each in its own process =====


async def get_tenax(url: str, n: int, conc: int) -> None:
    import tenax

    async with tenax.AsyncClient(limits=tenax.Limits(max_connections=conc)) as c:
        async def worker(k: int) -> None:
            for _ in range(k):
                r = await c.get(url)
                assert r.status_code == 200 and len(r.content) == 13

        await asyncio.gather(*(worker(n // conc) for _ in range(conc)))


async def get_aiohttp(url: str, n: int, conc: int) -> None:
    import aiohttp

    conn = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def worker(k: int) -> None:
            for _ in range(k):
                async with s.get(url) as r:
                    assert len(await r.read()) == 13

        await asyncio.gather(*(worker(n // conc) for _ in range(conc)))


async def get_httpx(url: str, n: int, conc: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(limits=limits) as c:
        async def worker(k: int) -> None:
            for _ in range(k):
                r = await c.get(url)
                assert len(r.content) == 13

        await asyncio.gather(*(worker(n // conc) for _ in range(conc)))


async def get_pyreqwest(url: str, n: int, conc: int) -> None:
    from pyreqwest.client import ClientBuilder

    async with ClientBuilder().max_connections(conc).build() as c:
        async def worker(k: int) -> None:
            for _ in range(k):
                r = await c.get(url).build().send()
                assert len(await r.bytes()) == 13

        await asyncio.gather(*(worker(n // conc) for _ in range(conc)))


async def download_tenax(url: str, path: str) -> None:
    import tenax

    async with tenax.AsyncClient() as c:
        await c.download(url, path, digest=False)


async def download_tenaxsha(url: str, path: str) -> None:
    import tenax

    async with tenax.AsyncClient() as c:
        await c.download(url, path)


async def download_aiohttp(url: str, path: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            with open(path, "wb") as f:
                async for chunk in r.content.iter_chunked(1 << 20):
                    f.write(chunk)


async def download_httpx(url: str, path: str) -> None:
    import httpx

    async with httpx.AsyncClient() as c:
        async with c.stream("GET", url) as r:
            with open(path, "wb") as f:
                async for chunk in r.aiter_bytes():
                    f.write(chunk)


async def echo_tenax(url: str, n: int) -> None:
    import tenax

    ws = await tenax.ws.connect(url, heartbeat=None)
    await _echo(ws.send, ws.recv, n)
    await ws.close()


async def echo_websockets(url: str, n: int) -> None:
    import websockets

    async with websockets.connect(url, compression=None, ping_interval=None) as ws:
        await _echo(ws.send, ws.recv, n)


async def echo_aiohttp(url: str, n: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, autoping=False) as ws:
            async def recv() -> str:
                return (await ws.receive()).data

            await _echo(ws.send_str, recv, n)


async def _echo(send, recv, n: int, window: int = 100) -> None:
    msg = "x" * 64
    for _ in range(window):
        await send(msg)
    for i in range(n):
        assert len(await recv()) == 64
        if i + window < n:
            await send(msg)


def child(args: argparse.Namespace) -> None:
    if args.uvloop:
        import uvloop

        uvloop.install()
    kind, name = args.child.split(":")
    fn = globals()[f"{kind}_{name}"]
    start = time.perf_counter()
    if kind == "get":
        asyncio.run(fn(args.url, args.n, 64))
    elif kind == "download":
        with tempfile.TemporaryDirectory() as d:
            asyncio.run(fn(args.url, os.path.join(d, "f.bin")))
    else:
        asyncio.run(fn(args.url, args.n))
    out = usage()
    out["wall"] = time.perf_counter() - start
    print(json.dumps(out))


# ===== the run =====


def run_child(spec: str, url: str, n: int, uvloop: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", spec, "--url", url, "--n", str(n)]
    if uvloop:
        cmd.append("--uvloop")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def chaos_binary() -> str:
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "tenax-chaos"
        if path.exists():
            return str(path)
    raise SystemExit("build tenax-chaos first: cargo build --release -p tenax-chaos")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child")
    p.add_argument("--url")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--uvloop", action="store_true")
    p.add_argument("--only", help="small_get, download or echo")
    args = p.parse_args()
    if args.child:
        return child(args)
    proc = subprocess.Popen([chaos_binary()], stdout=subprocess.PIPE, text=True)
    base = proc.stdout.readline().split(" on ", 1)[1].strip().rstrip("/")
    try:
        if args.only in (None, "small_get"):
            small_get(base, args.n)
        if args.only in (None, "download"):
            download(base)
        if args.only in (None, "echo"):
            echo(base.replace("http://", "ws://"), args.n)
    finally:
        proc.terminate()


def small_get(base: str, n: int) -> None:
    print(f"== small GET, 64 in flight ({n} requests; httpx {n // 10})")
    rows = []
    for name, uv, count in [
        ("httpx", False, n // 10),
        ("aiohttp", False, n),
        ("aiohttp", True, n),
        ("pyreqwest", False, n),
        ("tenax", False, n),
        ("tenax", True, n),
    ]:
        r = run_child(f"get:{name}", base + "/bytes/13", count, uv)
        label = name + (" + uvloop" if uv else "")
        if "error" in r:
            print(f"{label:>18}: not run ({r['error']})")
            continue
        rate, us = count / r["wall"], r["cpu"] / count * 1e6
        rows.append((label, rate, us))
        print(f"{label:>18}: {rate:8.0f} req/s  {us:7.1f} µs CPU/req")
    by = {label: (rate, us) for label, rate, us in rows}
    t = by.get("tenax")
    for peer in ("httpx", "aiohttp", "aiohttp + uvloop", "pyreqwest"):
        if t and peer in by:
            print(f"tenax vs {peer}: {t[0] / by[peer][0]:.2f}× the rate, {t[1] / by[peer][1]:.2f}× the CPU")


def download(base: str) -> None:
    size = 1 << 30
    print("== 1 GiB download to a file")
    for name in ("httpx", "aiohttp", "tenax", "tenaxsha"):
        r = run_child(f"download:{name}", f"{base}/bytes/{size}", 1)
        if "error" in r:
            print(f"{name:>18}: not run ({r['error']})")
            continue
        name = "tenax + SHA-256" if name == "tenaxsha" else name
        print(
            f"{name:>18}: {size / r['wall'] / (1 << 20):7.0f} MiB/s  CPU {r['cpu']:.2f} s  "
            f"peak RSS {r['rss_kib'] / 1024:.1f} MiB"
        )


def echo(base: str, n: int) -> None:
    print(f"== WebSocket echo, 64 B, 100 in flight ({n} messages)")
    for name in ("websockets", "aiohttp", "tenax"):
        r = run_child(f"echo:{name}", base + "/ws/echo", n)
        if "error" in r:
            print(f"{name:>18}: not run ({r['error']})")
            continue
        print(f"{name:>18}: {n / r['wall']:8.0f} msg/s  {r['cpu'] / n * 1e6:6.1f} µs CPU/msg")


if __name__ == "__main__":
    main()
