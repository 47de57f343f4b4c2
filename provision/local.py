"""`alertwrite serve` and `alertwrite run`: the bundle's functions on this machine, as a local Appwrite.

The functions are the built bundles, imported as Appwrite's runtime imports them (runtime.py),
and configured the way a container is: through environment variables. Storage is the
embedded SQLite file by default, or a real Appwrite project with `--backend appwrite`.

serve does what Appwrite around the functions does (contracts §4): HTTP executions (the webhook
at `/`, others under `/functions/<id>/`), cron executions (scheduler.py), row events after a
commit and the console's /stream (events.py), and the console's static files at /console/.
"""
from __future__ import annotations

import importlib
import os
import sqlite3
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from alertwrite.schema import Schema

from .bundle import build_bundle
from .connection import Connection
from .http_server import App, HttpRequest, HttpServer, Reply, json_reply, log_sink, parse_host, static_file
from .project import Project
from .runtime import Request, Result, execution_headers, invoke, load_entrypoint

WEBHOOK_FUNCTION = "alert-processor"
MAX_BODY = 20 * 1024 * 1024  # the runtime's aiohttp client_max_size
CONSOLE_DIR = Path("sites") / "alert-console"
PUBLIC_ROLES = {"any", "guests"}


class StartupError(Exception):
    """serve or run cannot start as asked; the message says what to fix."""


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

    def check(self, schema: Schema, create: bool) -> None:
        """Before listening: the SQLite file opens, takes a write, and has the schema's tables.
        `create=False` (run) refuses a file that does not exist: a mistyped --db must not
        quietly become a new, empty store."""
        if self.kind != "sqlite":
            return
        path = self.db_path
        if not path.parent.is_dir():
            raise StartupError(f"--db {path}: folder {path.parent} does not exist")
        if not create and not path.exists():
            raise StartupError(f"--db {path}: no such store (serve creates one; check the path)")
        from alertwrite.stores.sqlite import prepare
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=3)
            try:
                prepare(conn, schema)
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                missing = [t.id for t in schema.tables
                           if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                               (t.id,)).fetchone()]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StartupError(f"--db {path}: cannot write the store: {exc}") from None
        if missing:
            raise StartupError(f"--db {path}: tables missing: {', '.join(missing)}")


class Functions:
    """The bundle's functions, built and imported once, executed several at a time."""

    def __init__(self, project: Project, schema: Schema, backend: Backend, tokens: tuple[str, ...],
                 build_dir: Path | None = None):
        if not schema.functions:
            raise StartupError(f"{project.schema_dir / 'functions.yaml'} declares no functions: nothing to serve")
        self.backend = backend
        self.schema = schema
        self.specs = {fn.id: fn for fn in schema.functions}
        self.events = {fn.id: fn.events for fn in schema.functions}
        self.build_dir = build_dir or Path(tempfile.mkdtemp(prefix="alertwrite-bundles-"))
        os.environ.update(backend.environment())
        os.environ["ALERTWRITE_WEBHOOK_TOKENS"] = ",".join(tokens)
        self.modules = {}
        self.store_modules = []
        for fn in schema.functions:
            bundle = build_bundle(project, fn.id, self.build_dir, schema)
            module = self.modules[fn.id] = load_entrypoint(bundle, fn.entrypoint)
            package = module.__name__.rsplit(".", 2)[0]  # the bundle's package; main is <package>.src.main
            try:
                self.store_modules.append(importlib.import_module(package + ".src.alertwrite.stores.sqlite"))
            except ImportError:
                pass

    def on_commit(self, callback: Callable[[str], None]) -> None:
        """Call back after every commit any bundle's SQLite store makes in this process."""
        for store in self.store_modules:
            if hasattr(store, "on_commit"):
                store.on_commit.append(callback)

    def public(self, function_id: str) -> bool:
        return bool(PUBLIC_ROLES & set(self.specs[function_id].execute))

    def call(self, function_id: str, req: Request, sink=None) -> Result:
        return invoke(self.modules[function_id], req, sink)

    def run_scheduled(self, function_id: str, sink=None) -> Result:
        """What a cron execution gets: POST / with an empty body, trigger `schedule`."""
        headers = execution_headers(trigger="schedule", key=self.backend.key)
        return self.call(function_id, Request("POST", "/", "", headers, b""), sink)

    def run_event(self, function_id: str, event: str, body: bytes, sink=None) -> Result:
        """What an event execution gets: POST / with the row as JSON, trigger `event`."""
        headers = {"content-type": "application/json",
                   **execution_headers(trigger="event", key=self.backend.key, event=event)}
        return self.call(function_id, Request("POST", "/", "", headers, body), sink)


class LocalServer:
    def __init__(self, functions: Functions, host: str, port: int, out: TextIO = sys.stdout,
                 request_timeout: float = 30.0, threads: int = 128, console_dir: Path | None = None,
                 background: bool = True, max_body: int = MAX_BODY, sock=None, primary: bool = True):
        from .events import ChangeFeed
        from .scheduler import Scheduler

        self.functions = functions
        self.out = out
        self._lock = threading.Lock()
        functions.backend.check(functions.schema, create=True)  # not "listening", then 503 for ever
        self.console_dir = console_dir
        # Every worker streams; only the primary process fires row events and runs schedules.
        self.feed = (ChangeFeed(functions, self.say, fire_events=primary)
                     if functions.backend.kind == "sqlite" else None)
        self.scheduler = Scheduler(functions, self.say)
        self.background = background and primary

        app = App(self.handle, max_body, threads, stream=self.feed.stream if self.feed else None, log=self.say)
        self.http = HttpServer(app, host, port, request_timeout=request_timeout, sock=sock)

    @property
    def url(self) -> str:
        return self.http.url

    def say(self, line: str) -> None:
        # One write per line: worker processes share stdout, and two writes could interleave.
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def _start_background(self) -> None:
        if self.feed:
            self.feed.start()
        if self.background:
            self.scheduler.start()

    def start(self) -> "LocalServer":
        self._start_background()
        self.http.start()
        return self

    def serve_forever(self) -> None:
        self._start_background()
        self.http.serve_forever()

    def stop(self) -> None:
        self.http.stop()
        self.scheduler.stop()
        if self.feed:
            self.feed.stop()

    def route(self, path: str) -> tuple[str, str]:
        if path == "/metrics":
            # The one /metrics (stats/metrics.py through alert-api): same series, same token rule.
            return "alert-api", "/metrics"
        parts = path.split("/")
        if len(parts) > 2 and parts[1] == "functions" and parts[2] in self.functions.modules:
            return parts[2], "/" + "/".join(parts[3:])
        return WEBHOOK_FUNCTION, path

    def handle(self, request: HttpRequest, body: bytes) -> Reply:
        """Runs on an executor thread: one HTTP execution, or a console file."""
        if self.console_dir and (request.path == "/console" or request.path.startswith("/console/")):
            reply = static_file(self.console_dir, request.path[len("/console"):] or "/")
            reply.function = "console"
            return reply
        function_id, path = self.route(request.raw_path)
        if not self.functions.public(function_id):
            # Appwrite refuses an HTTP execution whose execute permissions name neither any nor guests.
            reply = json_reply(401, {"message": f"{function_id} cannot be executed over HTTP (execute: "
                                                f"{list(self.functions.specs[function_id].execute)}); "
                                                f"run it with `alertwrite run {function_id}`",
                                     "code": 401, "type": "function_execute_permission_missing"})
            reply.function = function_id
            return reply
        host, port = parse_host(request.headers["host"])
        headers = {**request.headers, **execution_headers(key=self.functions.backend.key, client_ip=request.client_ip)}
        req = Request(request.method, path, request.query, headers, body, host.strip("[]"), port or 80)
        result = self.functions.call(function_id, req, self.sink)
        reply = Reply(result.status, result.headers, result.body)
        reply.function = function_id
        return reply

    def sink(self, kind: str, line: str) -> None:
        log_sink(self.say)(kind, line)


def start_workers(count: int, run_worker: Callable[[], None]) -> list[int]:
    """Fork count-1 more processes running `run_worker` (each serves the shared listening
    socket). Call before any thread starts: a fork copies only the calling thread."""
    children = []
    for _ in range(count - 1):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _exit_with_parent()
                run_worker()
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    return children


def stop_workers(children: list[int]) -> None:
    import signal

    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _exit_with_parent() -> None:
    """A worker gets SIGTERM when serve's main process dies, however it dies (prctl(2) PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))
    except (OSError, AttributeError):
        pass


def banner(server: LocalServer, backend: Backend, generated_token: str | None,
           receiver_block: Callable[..., str]) -> str:
    where = f"SQLite {backend.db_path}" if backend.kind == "sqlite" else f"Appwrite {backend.connection.endpoint}"
    lines = [f"Alertwrite is listening on {server.url} (store: {where})",
             f"  webhook:   POST {server.url}  (any path reaches {WEBHOOK_FUNCTION})"]
    for fn in server.functions.modules:
        if fn == WEBHOOK_FUNCTION:
            continue
        spec = server.functions.specs[fn]
        how = f"{server.url}functions/{fn}/" if server.functions.public(fn) else f"alertwrite run {fn}"
        extra = f", every {spec.schedule!r}" if spec.schedule else ""
        lines.append(f"  function:  {fn}: {how}{extra}")
    if server.console_dir:
        lines.append(f"  console:   {server.url}console/")
    if server.feed:
        lines.append(f"  stream:    {server.url}stream  (server-sent events of row changes)")
    if generated_token:
        lines.append("No ALERTWRITE_WEBHOOK_TOKENS set, so this run uses a generated token (shown once):")
        lines.append(f"  {generated_token}")
    lines.append("Paste into alertmanager.yml:")
    lines.append(receiver_block(server.url, generated_token))
    lines.append("Try it:  alertwrite send-test " + server.url + ("" if generated_token else "  (token from .env)"))
    lines.append("Stop with Ctrl-C.")
    return "\n".join(lines)
