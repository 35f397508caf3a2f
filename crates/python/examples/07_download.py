"""Recipe 07: a streaming download in bounded memory — verified, resumed after a failure,
put in place atomically; and a body read as it arrives."""

import asyncio
import os
import tempfile

import tenax
from _chaos import server


async def main() -> None:
    base, _ = server()
    async with tenax.AsyncClient() as client:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "file.bin")
            url = f"{base}/file/4000000?reset_after=1000000&reset_first=2&key=py07"
            done = await client.download(url, path)
            print(f"{done.bytes} bytes, resumed {done.resumes} times, sha256 {done.sha256[:16]}…")
            assert done.resumes == 2 and os.path.getsize(path) == 4000000
        total = 0
        async with client.stream("GET", f"{base}/stream/1000000?chunk=65536") as r:
            async for chunk in r.aiter_bytes():
                total += len(chunk)
        print("streamed", total, "bytes")


asyncio.run(main())
