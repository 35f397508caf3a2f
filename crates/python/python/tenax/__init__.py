"""Tenax for Python: resilient asyncio HTTP and WebSocket clients on a Rust core, shaped like
httpx.

    import tenax

    async with tenax.AsyncClient(timeout=tenax.Timeout(connect=2, read=5)) as client:
        r = await client.get("https://example.org/", deadline=10)
        r.raise_for_status()
        print(r.status_code, r.json())

Every recipe of the httpx/aiohttp cookbook is a default or one argument here: phase
timeouts with a pool timeout, one reused client, pool limits and HTTP/2, an operation
deadline over retries, retries with backoff, jitter and a budget, bounded batches, streaming
and verified resumable downloads, size caps, a DNS cache, proxies and TLS pins, and a
WebSocket with heartbeat, read deadline, bounded outbox and reconnect.
"""

import atexit as _atexit

from . import _tenax, ws
from ._client import (
    AsyncClient,
    Download,
    Headers,
    Limits,
    Request,
    Response,
    Retry,
    StreamResponse,
    Timeout,
)
from ._deadline import deadline
from ._exceptions import *  # noqa: F401,F403
from ._exceptions import __all__ as _exception_names
from ._tenax import __version__

# Requests still in flight end before the interpreter finalizes (see `runtime.rs`).
_atexit.register(_tenax.shutdown)

__all__ = [
    "AsyncClient",
    "Download",
    "Headers",
    "Limits",
    "Request",
    "Response",
    "Retry",
    "StreamResponse",
    "Timeout",
    "deadline",
    "ws",
    "__version__",
    *_exception_names,
]
