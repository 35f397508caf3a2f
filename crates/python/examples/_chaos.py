"""Scaffolding for the examples (not in your project): the tenax-chaos server to run against —
the one the test suite started (`TENAX_CHAOS_URL`), else one started here from the binary cargo
built."""

from __future__ import annotations

import atexit
import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _binary() -> str:
    given = os.environ.get("TENAX_CHAOS_BIN")
    if given:
        return given
    for profile in ("release", "debug"):
        path = ROOT / "target" / profile / "tenax-chaos"
        if path.exists():
            return str(path)
    subprocess.run(["cargo", "build", "-p", "tenax-chaos"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "tenax-chaos")


def start(*args: str) -> tuple:
    """A server of our own: (base URL, black hole address or None)."""
    proc = subprocess.Popen([_binary(), "--blackhole", *args], stdout=subprocess.PIPE, text=True)
    atexit.register(proc.terminate)
    assert proc.stdout is not None
    base = proc.stdout.readline().split(" on ", 1)[1].strip()
    hole = proc.stdout.readline().split(" on ", 1)[1].strip()
    return base.rstrip("/"), hole


def server() -> tuple:
    """(base URL, black hole address)."""
    base = os.environ.get("TENAX_CHAOS_URL")
    hole = os.environ.get("TENAX_CHAOS_BLACKHOLE")
    if base and hole:
        return base.rstrip("/"), hole
    return start()
