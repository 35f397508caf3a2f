"""An aiohttp server for the interop suite: /json, /stream/N (N chunks of 1 KiB, chunked),
/gzip (a compressed text body), /ws (echo; compression offered), /ws-close/CODE.
Prints its port on the first line, then serves until killed."""
import asyncio
import sys

from aiohttp import WSMsgType, web


async def json_handler(request):
    return web.json_response({"hello": "tenax", "n": 42})


async def stream_handler(request):
    n = int(request.match_info["n"])
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for i in range(n):
        await resp.write(bytes([i % 256]) * 1024)
    await resp.write_eof()
    return resp


async def gzip_handler(request):
    resp = web.Response(text="tenax interop " * 5000)
    resp.enable_compression(web.ContentCoding.gzip)
    return resp


async def ws_handler(request):
    ws = web.WebSocketResponse(compress=True)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


async def ws_close_handler(request):
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.receive()
    await ws.close(code=int(request.match_info["code"]), message=b"bye")
    return ws


async def main():
    app = web.Application()
    app.add_routes([
        web.get("/json", json_handler),
        web.get("/stream/{n}", stream_handler),
        web.get("/gzip", gzip_handler),
        web.get("/ws", ws_handler),
        web.get("/ws-close/{code}", ws_close_handler),
    ])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
