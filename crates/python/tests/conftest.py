"""Fixtures: a tenax-chaos server (the binary cargo built) for the whole session, and a way to
run a coroutine per test (no plugin needed)."""

from __future__ import annotations

import asyncio
import functools
import os
import pathlib
import subprocess
import sys
from typing import Any, Callable, Coroutine, Iterator

import pytest

# One way to find the tenax-chaos binary, the examples' own.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
from _chaos import _binary as chaos_binary  # noqa: E402


class Chaos:
    def __init__(self, base: str, blackhole: str) -> None:
        self.base = base.rstrip("/")
        self.blackhole = blackhole

    def url(self, path: str) -> str:
        return self.base + path

    def ws_url(self, path: str) -> str:
        return self.base.replace("http://", "ws://") + path

    def stats(self) -> Any:
        import json
        import urllib.request

        with urllib.request.urlopen(self.url("/_stats"), timeout=5) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def chaos() -> Iterator[Chaos]:
    proc = subprocess.Popen(
        [chaos_binary(), "--blackhole"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().split("listening on ", 1)[1].strip()
    hole = proc.stdout.readline().split("blackhole on ", 1)[1].strip()
    os.environ["TENAX_CHAOS_URL"] = base
    try:
        yield Chaos(base, hole)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(f: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    """Runs an async test on a fresh event loop, bounded to 60 s."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return asyncio.run(asyncio.wait_for(f(*args, **kwargs), 60))

    return wrapper
