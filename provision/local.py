"""`alertwrite serve` and `alertwrite run`: the bundle's functions on this machine.

The functions are the built bundles, imported as Appwrite's runtime imports them (runtime.py),
and configured the way a container is: through environment variables. Storage is the
embedded SQLite file by default, or a real Appwrite project with `--backend appwrite`.
"""
from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, TextIO
from urllib.parse import urlsplit

from alertwrite.schema import Schema

from .bundle import build_bundle
from .connection import Connection
from .project import Project
from .runtime import Request, Result, execution_headers, invoke, load_entrypoint

WEBHOOK_FUNCTION = "alert-processor"
MAX_BODY = 20 * 1024 * 1024  # the runtime's aiohttp client_max_size


@dataclass
class Backend:
    kind: str  # sqlite | appwrite
    db_path: Path | None = None
    connection: Connection | None = None

    def environment(self) -> dict[str, str]:
        if self.kind == "sqlite":
            return {"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(self.db_path)}
        assert self.connection
        return {"ALERTWRITE_BACKEND": "appwrite", "APPWRITE_FUNCTION_API_ENDPOINT": self.connection.endpoint,
                "APPWRITE_FUNCTION_PROJECT_ID": self.connection.project}

    @property
    def key(self) -> str:
        # Locally the project API key stands in for the per-execution dynamic key.
        return self.connection.key if self.connection else ""


class Functions:
    """The bundle's functions, built and imported once."""

    def __init__(self, project: Project, schema: Schema, backend: Backend, tokens: tuple[str, ...],
                 build_dir: Path | None = None):
        self.backend = backend
        self.build_dir = build_dir or Path(tempfile.mkdtemp(prefix="alertwrite-bundles-"))
        os.environ.update(backend.environment())
        os.environ["ALERTWRITE_WEBHOOK_TOKENS"] = ",".join(tokens)
        self.modules = {}
        self._running: dict[str, threading.Lock] = {}
        for fn in schema.functions:
            bundle = build_bundle(project, fn.id, self.build_dir, schema)
            self.modules[fn.id] = load_entrypoint(bundle, fn.entrypoint)
            self._running[fn.id] = threading.Lock()

    def call(self, function_id: str, req: Request, sink=None) -> Result:
        # One execution at a time per function, as in an Appwrite container: open-runtimes v5
        # calls a synchronous main() on its aiohttp event loop (server.py `execute`). It also
        # spares the GIL the contention of several deliveries parsing at once.
        with self._running[function_id]:
            return invoke(self.modules[function_id], req, sink)

    def run_scheduled(self, function_id: str, sink=None) -> Result:
        """What a cron execution gets: POST / with an empty body, trigger `schedule`."""
        headers = execution_headers(trigger="schedule", key=self.backend.key)
        return self.call(function_id, Request("POST", "/", "", headers, b""), sink)


class LocalServer:
    def __init__(self, functions: Functions, host: str, port: int, out: TextIO = sys.stdout):
        self.functions = functions
        self.out = out
        self._lock = threading.Lock()
        handler = _handler_class(self)
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def say(self, line: str) -> None:
        with self._lock:
            print(line, file=self.out, flush=True)

    def start(self) -> "LocalServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="alertwrite-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, path: str) -> tuple[str, str]:
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "functions" and parts[2] in self.functions.modules:
            return parts[2], "/" + "/".join(parts[3:])
        return WEBHOOK_FUNCTION, path


def _handler_class(server: LocalServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Alertmanager reuses its connection
        # Headers and body go out in two writes; with Nagle on, the second waits for the
        # client's delayed ACK (~40 ms per request). Go's HTTP stack sets TCP_NODELAY too.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, {"content-type": "text/plain"}, b"body too large")
                return
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            function_id, path = server.route(url.path)
            host, _, port = (self.headers.get("Host") or "localhost").partition(":")
            headers = {**dict(self.headers.items()),
                       **execution_headers(key=server.functions.backend.key, client_ip=self.client_address[0])}
            req = Request(self.command, path, url.query, headers, body, host, int(port or 80))

            def sink(kind: str, line: str) -> None:
                server.say(("  error: " if kind == "error" else "  ") + line)
            result = server.functions.call(function_id, req, sink)
            self._reply(result.status, result.headers, result.body)
            server.say(f"{self.command} {self.path} -> {function_id} {result.status} "
                       f"({(time.perf_counter() - started) * 1000:.0f} ms)")

        def _reply(self, status: int, headers: dict, body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format, *args):  # one line per request is printed by _serve
            pass

    return Handler


def banner(server: LocalServer, backend: Backend, generated_token: str | None,
           receiver_block: Callable[..., str]) -> str:
    where = f"SQLite {backend.db_path}" if backend.kind == "sqlite" else f"Appwrite {backend.connection.endpoint}"
    lines = [f"Alertwrite is listening on {server.url} (store: {where})",
             f"  webhook:   POST {server.url}  (any path reaches {WEBHOOK_FUNCTION})"]
    for fn in server.functions.modules:
        if fn != WEBHOOK_FUNCTION:
            lines.append(f"  function:  {server.url}functions/{fn}/   (or: alertwrite run {fn})")
    if generated_token:
        lines.append("No ALERTWRITE_WEBHOOK_TOKENS set, so this run uses a generated token (shown once):")
        lines.append(f"  {generated_token}")
    lines.append("Paste into alertmanager.yml:")
    lines.append(receiver_block(server.url, generated_token))
    lines.append("Try it:  alertwrite send-test " + server.url + ("" if generated_token else "  (token from .env)"))
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)
