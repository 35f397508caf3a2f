"""Recipe 10: TLS with your own CA (and a pinned key), and proxies."""

import asyncio
import os
import tempfile

import tenax
from _chaos import start


async def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        ca = os.path.join(d, "ca.pem")
        base, _ = start("--tls", "--ca-out", ca)  # Scaffolding: a TLS server and its CA.
        async with tenax.AsyncClient(verify=ca) as client:
            r = await client.get(f"{base}/bytes/13")
            print("trusted with our CA:", r.status_code, r.http_version)
        async with tenax.AsyncClient(retries=0) as client:
            try:
                await client.get(f"{base}/bytes/13")
            except tenax.TLSError as e:
                print("with the built-in roots:", e)
        # A proxy: tenax.AsyncClient(proxy="http://user:pass@proxy:3128"); HTTP_PROXY,
        # HTTPS_PROXY and NO_PROXY are read unless trust_env=False.


asyncio.run(main())
