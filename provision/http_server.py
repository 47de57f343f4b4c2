"""serve's HTTP layer: uvicorn with the httptools (llhttp) parser, and a small ASGI app.

Why uvicorn + httptools rather than http.server, waitress or h11: llhttp (Node's parser) answers
a malformed request line, `Content-Length: abc`, or a second Content-Length with 400 and closes;
it decodes chunked bodies; the listen backlog is configurable (default 2048 here); one asyncio
loop holds thousands of idle or slow connections without a thread each; and it is the most
used Python ASGI server, released monthly. What it lacks is a deadline for a request that never
completes (slowloris: uvicorn times out only idle keep-alive connections), so
`DeadlineProtocol` adds one: a request must arrive whole within `request_timeout` seconds of
the connection or of its first byte, or the connection is closed.

Function executions run on a thread pool, several at once as Appwrite runs executions in
parallel containers; the SQLite store batches their commits (stores/sqlite.py).
"""
from __future__ import annotations

import asyncio
import json
import mimetypes
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A host name or IPv4 address, or a bracketed IPv6 literal, then an optional port (RFC 9110 7.2).
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?$")
SECRET_PARAMS = {"token", "access_token", "key", "api_key", "apikey", "secret", "password", "jwt", "signature", "sig"}
_CONTROL = {i: f"\\x{i:02x}" for i in [*range(0x20), 0x7f, *range(0x80, 0xa0)]}
_CONTROL.update({0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"})


def escape_log(text: str) -> str:
    """One log line stays one line: newlines, ESC and other control characters are shown escaped,
    so a label cannot forge a line or recolour the terminal."""
    return text.translate(_CONTROL)


def log_sink(say: Callable[[str], None]) -> Callable[[str, str], None]:
    """Where a function's context.log/error lines go in serve, however it was triggered
    (request, cron, row event): each line escaped, a traceback's lines indented under it."""
    def sink(kind: str, line: str) -> None:
        if kind == "error":
            say("  error: " + "\n    | ".join(escape_log(part) for part in line.split("\n")))
        else:
            say("  " + escape_log(line))
    return sink


def redact_url(target: str) -> str:
    """The request target with the values of secret-looking query parameters replaced."""
    path, sep, query = target.partition("?")
    if not sep:
        return path
    parts = []
    for param in query.split("&"):
        name, eq, _ = param.partition("=")
        parts.append(f"{name}=[redacted]" if eq and name.lower() in SECRET_PARAMS else param)
    return path + "?" + "&".join(parts)


def parse_host(value: str) -> tuple[str, int | None] | None:
    match = _HOST.match(value)
    if not match:
        return None
    port = match.group(1)
    if port is not None and not 0 < int(port) < 65536:
        return None
    host = value[: match.start(1) - 1] if port is not None else value
    return host, int(port) if port is not None else None


class DeadlineProtocol(HttpToolsProtocol):
    request_timeout = 30.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Headers and body leave in two writes; with Nagle on, the body waits for the
            # client's delayed ACK of the headers (~40 ms per request).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._deadline = None
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:
            self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_with(request_timeout: float) -> type:
    return type("DeadlineProtocol", (DeadlineProtocol,), {"request_timeout": request_timeout})


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, close: bool = False):
        self.status, self.headers, self.body, self.close = status, headers, body, close
        self.function = "-"  # what answered, for the log line


def json_reply(status: int, doc: dict, close: bool = False) -> Reply:
    return Reply(status, {"content-type": "application/json; charset=utf-8"},
                 json.dumps(doc, separators=(",", ":")).encode(), close)


class HttpRequest:
    """What the ASGI scope says, checked: one Host, at most one Authorization."""

    def __init__(self, scope: dict):
        self.method = scope["method"]
        self.path = scope["path"]
        raw_path = scope.get("raw_path") or scope["path"].encode()
        self.raw_path = raw_path.decode("latin-1")
        self.query = scope.get("query_string", b"").decode("latin-1")
        self.target = self.raw_path + ("?" + self.query if self.query else "")
        self.client_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        self.headers: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            self.counts[key] = self.counts.get(key, 0) + 1
            self.headers[key] = value.decode("latin-1")

    def problem(self) -> Reply | None:
        if self.counts.get("authorization", 0) > 1:
            # Which of two credentials counts is a guess a proxy and we could make differently.
            return json_reply(400, {"error": "duplicate_authorization"}, close=True)
        if self.counts.get("host", 0) != 1 or parse_host(self.headers["host"]) is None:
            return json_reply(400, {"error": "bad_host"}, close=True)
        return None


class App:
    """The ASGI application; `handle(request, body) -> Reply` is the serve host's router."""

    def __init__(self, handle: Callable[[HttpRequest, bytes], Reply], max_body: int, threads: int,
                 stream: Callable | None = None, log: Callable[[str], None] = print):
        self.handle = handle
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="alertwrite-exec")
        self.stream = stream  # async (request, send) for /stream, or None
        self.log = log

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request = HttpRequest(scope)
        reply = request.problem()
        if reply is None and self.stream is not None and request.path == "/stream" and request.method == "GET":
            request.receive = receive
            await self.stream(request, send)
            return
        body = b""
        if reply is None:
            body, reply = await self._body(request, receive)
        if reply is None:
            loop = asyncio.get_running_loop()
            gone = asyncio.ensure_future(receive())  # completes only when the client disconnects
            try:
                reply = await loop.run_in_executor(self.pool, self._run, request, body, gone)
            finally:
                gone.cancel()
        await self._send(send, reply)
        self.log(escape_log(f"{request.method} {redact_url(request.target)} -> {reply.function} "
                                f"{reply.status} ({(time.perf_counter() - started) * 1000:.1f} ms)"))

    def _run(self, request: HttpRequest, body: bytes, gone: asyncio.Future) -> Reply:
        # A client that gave up while its request queued (Alertmanager's notify deadline) will
        # retry: running it anyway would spend a storm's capacity on answers nobody reads.
        if gone.done():
            reply = Reply(499, {}, b"", close=True)
            reply.function = "skipped: client gone"
            return reply
        return self.handle(request, body)

    async def _body(self, request: HttpRequest, receive) -> tuple[bytes, Reply | None]:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return b"", self._too_large()
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"", Reply(499, {}, b"", close=True)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks), None

    def _too_large(self) -> Reply:
        # Connection: close, so the unread rest of the body is never parsed as another request.
        return json_reply(413, {"error": "body_too_large", "limit": self.max_body}, close=True)

    async def _send(self, send, reply: Reply) -> None:
        if reply.status == 499:
            return
        headers = [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in reply.headers.items()
                   if k.lower() not in ("content-length", "connection", "transfer-encoding")]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        if reply.close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket (port 0 picks one); several worker processes may share it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn on a socket bound here (port 0 works), in this thread or a background one."""

    def __init__(self, app: App, host: str, port: int, request_timeout: float = 30.0, backlog: int = 2048,
                 keep_alive: float = 75.0, sock: socket.socket | None = None):
        self.sock = sock or listen(host, port, backlog)
        # Keep-alive above Alertmanager's idle timeout (Go's default 90 s) would leave it
        # reusing a connection we just closed; 75 s is below it (and nginx's default).
        config = uvicorn.Config(app, http=protocol_with(request_timeout), loop="asyncio", lifespan="on",
                                backlog=backlog, timeout_keep_alive=int(keep_alive), log_level="warning",
                                access_log=False, server_header=False, date_header=True, ws="none")
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    def serve_forever(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> "HttpServer":
        self._thread = threading.Thread(target=self.serve_forever, name="alertwrite-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread:
            self._thread.join(10)
        self.sock.close()


def static_file(root: Path, path: str) -> Reply:
    """A file under root (index.html for a folder, and for an unknown page of a single-page app)."""
    base = root.resolve()
    target = (base / path.lstrip("/")).resolve()
    if target != base and base not in target.parents:
        return json_reply(404, {"error": "not_found"})
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        if "." in Path(path).name:
            return json_reply(404, {"error": "not_found"})
        target = base / "index.html"
        if not target.is_file():
            return json_reply(404, {"error": "not_found"})
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    return Reply(200, {"content-type": kind, "cache-control": "no-cache"}, target.read_bytes())
