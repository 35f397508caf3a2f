#!/usr/bin/env python3
"""A Python `websockets` echo server on 127.0.0.1 for the interop run: prints its port, then
echoes every message until killed."""
import asyncio

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


asyncio.run(main())
