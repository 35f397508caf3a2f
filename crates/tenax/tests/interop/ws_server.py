"""A Python `websockets` server for the interop suite: /echo echoes (permessage-deflate agreed
when the client offers it, as the library does by default), /close/CODE closes with that code
after the first message, /stats sends the bytes received on the wire so far (all
connections), to see compression from the server's side.
Prints its port on the first line, then serves until killed."""
import asyncio
import json
import sys

import websockets
from websockets.asyncio.server import ServerConnection

RECEIVED = {"wire": 0}


class Counting(ServerConnection):
    """Counts every byte read from the socket."""

    def data_received(self, data):
        RECEIVED["wire"] += len(data)
        super().data_received(data)


async def handler(ws):
    path = ws.request.path
    if path == "/stats":
        await ws.send(json.dumps(RECEIVED))
        return
    if path.startswith("/close/"):
        code = int(path.rsplit("/", 1)[1])
        await ws.recv()
        await ws.close(code, "closing as asked")
        return
    async for msg in ws:
        await ws.send(msg)


async def main():
    async with websockets.serve(
        handler, "127.0.0.1", 0, max_size=None, create_connection=Counting
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
