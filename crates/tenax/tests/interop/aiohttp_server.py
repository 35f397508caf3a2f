"""An aiohttp server for the interop suite: /json, /stream/N (N chunks of 1 KiB, chunked),
/gzip (a compressed text body), /ws (echo; compression offered), /ws-close/CODE,
/form (what aiohttp parsed of a form, multipart parts with sizes and SHA-256, the query and
Basic credentials), /cookies/set?NAME=VALUE (sets them) and /cookies (the request's cookies).
Prints its port on the first line, then serves until killed."""
import asyncio
import hashlib
import sys

import aiohttp

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


async def form_handler(request):
    report = {"query": dict(request.query)}
    auth = request.headers.get("Authorization")
    if auth and auth.startswith("Basic "):
        creds = aiohttp.BasicAuth.decode(auth)
        report["basic"] = [creds.login, creds.password]
    if request.content_type == "multipart/form-data":
        parts = []
        reader = await request.multipart()
        async for part in reader:
            digest, size = hashlib.sha256(), 0
            while True:
                chunk = await part.read_chunk(64 * 1024)
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
            parts.append({
                "name": part.name,
                "filename": part.filename,
                "content_type": part.headers.get("Content-Type"),
                "size": size,
                "sha256": digest.hexdigest(),
            })
        report["parts"] = parts
    else:
        report["form"] = [[k, v] for k, v in (await request.post()).items()]
    return web.json_response(report)


async def cookies_set_handler(request):
    resp = web.json_response({"set": dict(request.query)})
    for name, value in request.query.items():
        resp.set_cookie(name, value, path="/")
    return resp


async def cookies_handler(request):
    return web.json_response(dict(request.cookies))


async def main():
    app = web.Application()
    app.add_routes([
        web.get("/json", json_handler),
        web.get("/stream/{n}", stream_handler),
        web.get("/gzip", gzip_handler),
        web.get("/ws", ws_handler),
        web.get("/ws-close/{code}", ws_close_handler),
        web.post("/form", form_handler),
        web.get("/cookies/set", cookies_set_handler),
        web.get("/cookies", cookies_handler),
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
