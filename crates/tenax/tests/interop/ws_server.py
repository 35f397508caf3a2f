"""A Python `websockets` server for the interop suite: /echo echoes (permessage-deflate offered
as the library does by default), /close/CODE closes with that code after the first message.
Prints its port on the first line, then serves until killed."""
import asyncio
import sys

import websockets


async def handler(ws):
    path = ws.request.path
    if path.startswith("/close/"):
        code = int(path.rsplit("/", 1)[1])
        await ws.recv()
        await ws.close(code, "closing as asked")
        return
    async for msg in ws:
        await ws.send(msg)


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
