"""``tenax.AsyncClient``: httpx's ``AsyncClient`` shape on the Rust core.

A request crosses into Rust once: the Rust side runs it whole (pool, retries, redirects,
deadline, the body read, with the GIL released) and hands back one response.
"""

from __future__ import annotations

import json as _json
import os
import uuid
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)
from urllib.parse import urlencode

import asyncio

from . import _tenax
from ._bridge import bridge_for, wait
from ._deadline import remaining
from ._exceptions import HTTPStatusError, RequestError

__all__ = [
    "AsyncClient",
    "Timeout",
    "Limits",
    "Retry",
    "Request",
    "Response",
    "StreamResponse",
    "Headers",
    "Download",
]

_UNSET: Any = object()

HeaderTypes = Union[Mapping[str, str], Sequence[Tuple[str, str]], None]
QueryTypes = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], str, None]


class Timeout:
    """Time limits by phase, in seconds (``None``: no limit). As httpx:
    ``Timeout(5.0)`` sets every phase, ``Timeout(5.0, connect=2.0)`` all but one.

    Defaults (Tenax's): connect 10 s, read 30 s, write 30 s, pool 30 s.
    """

    def __init__(
        self,
        timeout: Optional[float] = _UNSET,
        *,
        connect: Optional[float] = _UNSET,
        read: Optional[float] = _UNSET,
        write: Optional[float] = _UNSET,
        pool: Optional[float] = _UNSET,
    ) -> None:
        def pick(v: Any, default: Any) -> Any:
            return default if v is _UNSET else v

        base = timeout
        self.connect = pick(connect, pick(base, 10.0))
        self.read = pick(read, pick(base, 30.0))
        self.write = pick(write, pick(base, 30.0))
        self.pool = pick(pool, pick(base, 30.0))

    def __repr__(self) -> str:
        return (
            f"Timeout(connect={self.connect}, read={self.read}, write={self.write}, "
            f"pool={self.pool})"
        )


class Limits:
    """Connection limits. Defaults: 100 connections in all, 32 idle kept per host, no limit
    per host."""

    def __init__(
        self,
        *,
        max_connections: Optional[int] = 100,
        max_keepalive_connections: Optional[int] = 32,
        max_connections_per_host: Optional[int] = None,
    ) -> None:
        self.max_connections = max_connections
        self.max_keepalive_connections = max_keepalive_connections
        self.max_connections_per_host = max_connections_per_host


class Retry:
    """Retries of idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, TRACE; POST/PATCH with
    an ``Idempotency-Key``): on connect errors, timeouts, 408, 429, 502, 503, 504, with
    full-jitter backoff and ``Retry-After``, within a per-host retry budget.
    Defaults: 2 retries, backoff from 0.05 s up to 20 s. ``Retry(0)`` turns retries off."""

    def __init__(self, retries: int = 2, *, backoff: float = 0.05, backoff_max: float = 20.0):
        if retries < 0:
            raise ValueError("retries is at least 0")
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max


class Headers:
    """Response headers: a case-insensitive, multi-valued mapping (``get`` joins repeated
    values with ``, ``; ``get_list`` gives them apart)."""

    def __init__(self, raw: Sequence[Tuple[str, bytes]]) -> None:
        self._raw = [(k.lower(), v.decode("latin-1")) for k, v in raw]

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        values = self.get_list(key)
        return ", ".join(values) if values else default

    def get_list(self, key: str) -> List[str]:
        key = key.lower()
        return [v for k, v in self._raw if k == key]

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.get_list(key))

    def __iter__(self):  # type: ignore[no-untyped-def]
        seen: List[str] = []
        for k, _ in self._raw:
            if k not in seen:
                seen.append(k)
        return iter(seen)

    def __len__(self) -> int:
        return len(set(k for k, _ in self._raw))

    def items(self) -> List[Tuple[str, str]]:
        return [(k, self[k]) for k in self]

    def multi_items(self) -> List[Tuple[str, str]]:
        return list(self._raw)

    def __repr__(self) -> str:
        return f"Headers({self.multi_items()!r})"


class Request:
    """A request as hooks and ``build_request`` see it."""

    def __init__(
        self,
        method: str,
        url: str,
        headers: List[Tuple[str, str]],
        content: Optional[bytes],
        deadline: Optional[float] = None,
        read_timeout: Optional[float] = None,
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.deadline = deadline
        self.read_timeout = read_timeout

    def _call(self) -> Tuple[Any, ...]:
        left = remaining(self.deadline)
        return (self.method, self.url, self.headers, self.content, left, self.read_timeout)

    def __repr__(self) -> str:
        # Never a password: the URL as given may carry one.
        return f"<Request [{self.method} {_tenax.redact_url(self.url)}]>"


class _ResponseBase:
    _core: Any
    request: Optional[Request]

    @property
    def status_code(self) -> int:
        return self._core.status_code

    @property
    def http_version(self) -> str:
        return self._core.http_version

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self._core.raw_headers)
        return self._headers

    @property
    def url(self) -> str:
        return self._core.url

    @property
    def attempts(self) -> int:
        return self._core.attempts

    @property
    def retries(self) -> List[Tuple[int, str, float]]:
        """The retries made: ``(attempt, reason, delay in seconds)``."""
        return self._core.retries

    @property
    def hedges(self) -> Tuple[int, bool]:
        """``(hedges sent, whether a hedge won)``."""
        return self._core.hedges

    @property
    def timings(self) -> Dict[str, Optional[float]]:
        """Per-phase timings in seconds: pool_wait, dns, connect, tls, write, ttfb, body,
        total."""
        return self._core.timings

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400

    @property
    def reason_phrase(self) -> str:
        from http import HTTPStatus

        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def encoding(self) -> str:
        ctype = self.headers.get("content-type") or ""
        for part in ctype.split(";")[1:]:
            k, _, v = part.strip().partition("=")
            if k.lower() == "charset" and v:
                return v.strip('"')
        return "utf-8"

    def raise_for_status(self) -> "_ResponseBase":
        """Raises ``HTTPStatusError`` for a 4xx or 5xx; returns the response otherwise."""
        if self.status_code >= 400:
            kind = "Client error" if self.status_code < 500 else "Server error"
            raise HTTPStatusError(
                f"{kind} '{self.status_code} {self.reason_phrase}' for url '{self.url}'",
                request=self.request,
                response=self,
                url=self.url,
                status=self.status_code,
                attempts=self.attempts,
            )
        return self

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason_phrase}]>"


class Response(_ResponseBase):
    """A response with its whole body (``content``, ``text``, ``json()``)."""

    def __init__(self, core: Any, request: Optional[Request] = None) -> None:
        self._core = core
        self._headers: Optional[Headers] = None
        self.request = request

    @property
    def content(self) -> bytes:
        return self._core.content

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        return _json.loads(self.content, **kwargs)

    @property
    def elapsed(self) -> float:
        """Seconds from the call to the end of the body."""
        return self._core.elapsed

    async def aread(self) -> bytes:
        return self.content


class StreamResponse(_ResponseBase):
    """A response whose body is read as it arrives (``client.stream(...)``)."""

    def __init__(self, core: Any, request: Optional[Request] = None) -> None:
        self._core = core
        self._headers: Optional[Headers] = None
        self.request = request
        self._content: Optional[bytes] = None

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._core.next_chunk()
            if chunk is None:
                return
            yield chunk

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        async for chunk in self.aiter_bytes():
            yield chunk

    async def aiter_text(self) -> AsyncIterator[str]:
        import codecs

        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        async for chunk in self.aiter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        pending = ""
        async for text in self.aiter_text():
            pending += text
            lines = pending.splitlines(keepends=True)
            pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            for line in lines:
                yield line.rstrip("\r\n")
        if pending:
            yield pending

    async def aread(self) -> bytes:
        if self._content is None:
            self._content = b"".join([c async for c in self.aiter_bytes()])
        return self._content

    @property
    def content(self) -> bytes:
        if self._content is None:
            raise RequestError("the body has not been read: call `await response.aread()`")
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding, errors="replace")

    def json(self, **kwargs: Any) -> Any:
        return _json.loads(self.content, **kwargs)

    async def aclose(self) -> None:
        self._core.close()


class _StreamContext:
    def __init__(self, client: "AsyncClient", request: Request) -> None:
        self._client = client
        self._request = request
        self._response: Optional[StreamResponse] = None

    async def __aenter__(self) -> StreamResponse:
        self._response = await self._client.send(self._request, stream=True)
        return self._response

    async def __aexit__(self, *exc: Any) -> None:
        if self._response is not None:
            await self._response.aclose()


class Download:
    """What ``client.download`` did: ``path``, ``bytes``, ``sha256`` (hex), ``resumes``
    (ranged requests that continued it), ``restarts``, ``elapsed`` (seconds)."""

    def __init__(self, d: Dict[str, Any]) -> None:
        self.path: str = str(d["path"])
        self.bytes: int = d["bytes"]
        self.sha256: Optional[str] = d["sha256"]
        self.resumes: int = d["resumes"]
        self.restarts: int = d["restarts"]
        self.elapsed: float = d["elapsed"]

    def __repr__(self) -> str:
        return f"<Download {self.path} ({self.bytes} bytes, {self.resumes} resumes)>"


def _headers_list(headers: HeaderTypes) -> List[Tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _with_params(url: str, params: QueryTypes) -> str:
    if not params:
        return url
    query = params if isinstance(params, str) else urlencode(params, doseq=True)
    fragment = ""
    if "#" in url:
        url, fragment = url.split("#", 1)
        fragment = "#" + fragment
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{query}{fragment}"


def _multipart(data: Any, files: Any) -> Tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out: List[bytes] = []
    for name, value in (data or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            out.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            )
            out.append(v if isinstance(v, bytes) else str(v).encode())
            out.append(b"\r\n")
    items = files.items() if isinstance(files, Mapping) else files
    for name, spec in items:
        if isinstance(spec, tuple):
            filename, body, ctype = (list(spec) + [None, None])[:3]
        else:
            filename, body, ctype = os.path.basename(getattr(spec, "name", name)), spec, None
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        ctype = ctype or "application/octet-stream"
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        out.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {ctype}\r\n\r\n".encode()
        )
        out.append(body)
        out.append(b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def _encode(
    content: Any, data: Any, files: Any, json: Any
) -> Tuple[Optional[bytes], Optional[str]]:
    """The body and its content type, from httpx's arguments."""
    if json is not None:
        return _json.dumps(json, separators=(",", ":")).encode(), "application/json"
    if files:
        return _multipart(data, files)
    if isinstance(data, Mapping):
        return urlencode(data, doseq=True).encode(), "application/x-www-form-urlencoded"
    body = content if content is not None else data
    if body is None:
        return None, None
    if isinstance(body, str):
        return body.encode(), None
    return bytes(body), None


Hook = Callable[[Any], Any]


class AsyncClient:
    """An asyncio HTTP client on Tenax's Rust core, with httpx's names.

    Make one and reuse it (``async with tenax.AsyncClient() as client:``); every request
    shares its pool. Beyond httpx: ``retries=`` (on by default for idempotent requests),
    ``max_body_bytes=``, ``pins=`` (SHA-256 of the server's public key), ``dns_ttl=``,
    ``breaker=True`` (a circuit breaker per host), ``hedge=`` (seconds, or ``"p95"``),
    ``rate_limit=`` (requests a second per host), and ``deadline=`` on each request.
    """

    def __init__(
        self,
        *,
        timeout: Union[Timeout, float, None] = _UNSET,
        limits: Optional[Limits] = None,
        http1: bool = True,
        http2: bool = False,
        verify: Union[bool, str] = True,
        cert: Union[str, Tuple[str, str], None] = None,
        proxy: Optional[str] = None,
        trust_env: bool = True,
        headers: HeaderTypes = None,
        follow_redirects: bool = False,
        max_redirects: int = 20,
        event_hooks: Optional[Mapping[str, Sequence[Hook]]] = None,
        base_url: str = "",
        retries: Union[Retry, int, None] = None,
        max_body_bytes: Optional[int] = None,
        pins: Sequence[str] = (),
        dns_ttl: Optional[float] = None,
        breaker: bool = False,
        hedge: Union[float, str, None] = None,
        rate_limit: Optional[float] = None,
    ) -> None:
        if timeout is _UNSET:
            t = Timeout()
        elif isinstance(timeout, Timeout):
            t = timeout
        else:
            t = Timeout(timeout)
        limits = limits or Limits()
        if isinstance(retries, int):
            retries = Retry(retries)
        retry = retries or Retry()
        hooks = event_hooks or {}
        self._request_hooks = list(hooks.get("request", ()))
        self._response_hooks = list(hooks.get("response", ()))
        self.base_url = base_url.rstrip("/")
        cert_file, key_file = (cert, None) if isinstance(cert, str) or cert is None else cert
        hedge_after = hedge if isinstance(hedge, (int, float)) else None
        hedge_q = None
        if isinstance(hedge, str):
            if not hedge.startswith("p"):
                raise ValueError("hedge is seconds, or a percentile such as 'p95'")
            hedge_q = float(hedge[1:]) / 100.0

        def secs(v: Optional[float]) -> float:
            return 0.0 if v is None else float(v)

        options = {
            "connect_timeout": secs(t.connect),
            "read_timeout": secs(t.read),
            "write_timeout": secs(t.write),
            "pool_timeout": secs(t.pool),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "max_connections_per_host": limits.max_connections_per_host,
            "http2": http2,
            "http1": http1,
            "verify": verify is not False,
            "ca_file": verify if isinstance(verify, str) else None,
            "cert_file": cert_file,
            "key_file": key_file,
            "proxy": proxy,
            "trust_env": trust_env,
            "headers": _headers_list(headers),
            "follow_redirects": follow_redirects,
            "max_redirects": max_redirects,
            "retries": retry.retries,
            "backoff": (retry.backoff, retry.backoff_max),
            "max_body_bytes": max_body_bytes,
            "pins": list(pins),
            "dns_ttl": dns_ttl,
            "breaker": breaker,
            "hedge_after": hedge_after,
            "hedge_quantile": hedge_q,
            "rate": rate_limit,
        }
        self._core = _tenax.Client(options)
        self._closed = False
        self._loop: Any = None
        self._bridge: Any = None

    def _bridge_now(self) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._bridge = loop, bridge_for(loop)
        return self._bridge

    # ===== requests =====

    def build_request(
        self,
        method: str,
        url: str,
        *,
        params: QueryTypes = None,
        headers: HeaderTypes = None,
        content: Any = None,
        data: Any = None,
        files: Any = None,
        json: Any = None,
        timeout: Optional[float] = _UNSET,
        deadline: Optional[float] = None,
    ) -> Request:
        """A request to send later (``send``, ``batch``)."""
        if self.base_url and "://" not in url:
            url = self.base_url + "/" + url.lstrip("/")
        body, ctype = _encode(content, data, files, json)
        hs = _headers_list(headers)
        if ctype and not any(k.lower() == "content-type" for k, _ in hs):
            hs.append(("content-type", ctype))
        read = None
        if timeout is not _UNSET:
            read = 0.0 if timeout is None else float(timeout)
        return Request(method.upper(), _with_params(url, params), hs, body, deadline, read)

    async def send(self, request: Request, *, stream: bool = False) -> Any:
        """Sends a built request."""
        for hook in self._request_hooks:
            await hook(request)
        if stream:
            core = await self._core.stream(request._call())
            response: Any = StreamResponse(core, request)
        else:
            core = await wait(self._core.request(self._bridge_now(), request._call()))
            response = Response(core, request)
        for hook in self._response_hooks:
            await hook(response)
        return response

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        """Sends a request and reads its whole body. Keyword arguments as httpx's:
        ``params``, ``headers``, ``content``, ``data``, ``files``, ``json``, ``timeout`` (the
        read timeout of this request); and ``deadline`` (seconds for the whole request,
        retries included)."""
        if not self._request_hooks and not self._response_hooks and not kwargs:
            # The common case, kept short: one crossing into Rust.
            if self.base_url and "://" not in url:
                url = self.base_url + "/" + url.lstrip("/")
            call = (method.upper(), url, [], None, remaining(None), None)
            return Response(await wait(self._core.request(self._bridge_now(), call)))
        return await self.send(self.build_request(method, url, **kwargs))

    async def get(self, url: str, **kwargs: Any) -> Response:
        return await self.request("GET", url, **kwargs)

    async def head(self, url: str, **kwargs: Any) -> Response:
        return await self.request("HEAD", url, **kwargs)

    async def options(self, url: str, **kwargs: Any) -> Response:
        return await self.request("OPTIONS", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Response:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> Response:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> Response:
        return await self.request("DELETE", url, **kwargs)

    def stream(self, method: str, url: str, **kwargs: Any) -> _StreamContext:
        """``async with client.stream("GET", url) as r: async for chunk in
        r.aiter_bytes(): ...`` — the body as it arrives, in bounded memory."""
        return _StreamContext(self, self.build_request(method, url, **kwargs))

    async def download(
        self,
        url: str,
        path: Union[str, "os.PathLike[str]"],
        *,
        sha256: Optional[str] = None,
        digest: bool = True,
        resume: bool = True,
        min_speed: Optional[int] = None,
        min_speed_window: float = 10.0,
        headers: HeaderTypes = None,
        deadline: Optional[float] = None,
    ) -> Download:
        """Streams ``url`` to ``path``: a temporary file beside it, resumed with ``Range``
        after a failure mid-body, SHA-256 computed (and checked against ``sha256``;
        ``digest=False`` skips it when none is expected), synced and renamed into place.
        Nothing is left behind on failure. ``min_speed``: bytes a
        second under which (for ``min_speed_window`` seconds) the transfer is restarted."""
        speed = (min_speed, min_speed_window) if min_speed else None
        done = await self._core.download(
            url,
            os.fspath(path),
            sha256=sha256,
            digest=digest,
            resume=resume,
            min_speed=speed,
            headers=_headers_list(headers),
            deadline=remaining(deadline),
        )
        return Download(done)

    async def batch(
        self,
        requests: Iterable[Union[Request, str]],
        *,
        concurrency: int = 50,
    ) -> AsyncIterator[Tuple[int, Union[Response, Exception]]]:
        """Sends ``requests`` (built requests, or URLs to GET) at most ``concurrency`` at a
        time; yields ``(index, response or exception)`` as each completes. Leaving the loop
        early cancels the rest."""
        calls = [
            (r if isinstance(r, Request) else self.build_request("GET", r))._call()
            for r in requests
        ]
        results = self._core.batch(calls, concurrency)
        try:
            while True:
                item = await results.next()
                if item is None:
                    return
                index, outcome = item
                if isinstance(outcome, Exception):
                    yield index, outcome
                else:
                    yield index, Response(outcome)
        finally:
            results.cancel()

    # ===== lifecycle =====

    async def aclose(self) -> None:
        """Closes every connection (requests in flight may finish for up to 10 s)."""
        if not self._closed:
            self._closed = True
            await self._core.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def open_connections(self) -> int:
        """Connections open now."""
        return self._core.open_connections()
