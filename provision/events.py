"""Row changes after each commit: the console's /stream, and the row events functions subscribe to.

The SQLite store logs every row change in `_changes` inside the writing transaction
(stores/sqlite.py), so this feed sees what was committed, by any bundle or process, once, in
commit order. A commit wakes it at once: in this process directly, from serve's other worker
processes by a datagram on a Linux abstract socket named after the store (Linux only; elsewhere,
and as a fallback, the feed looks every half second).

Event names and matching follow Appwrite (src/Appwrite/Event/Event.php `generateEvents`): a row
change yields `databases.<db>.tables.<table>.rows.<id>.<action>` and the same with any of the
three IDs replaced by `*`, plus the forms without the action and the shorter
`databases.<db>.tables.<table>` and `databases.<db>`. A function runs when one of its `events`
is among them, with `x-appwrite-trigger: event`, `x-appwrite-event` set to the full name,
and the row as the JSON body.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import socket
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from alertwrite.errors import StoreMisconfigured, StoreUnavailable
from alertwrite.stores.sqlite_rows import decode_row

from .http_server import log_sink

STREAM_TABLES = {"alerts", "notifications", "audit_log", "audit"}
KEEP_CHANGES = 10_000  # rows of _changes kept after they were read
HEARTBEAT_S = 15


def event_names(database: str, table: str, row_id: str, action: str) -> set[str]:
    names = set()
    for db, tb, row in itertools.product((database, "*"), (table, "*"), (row_id, "*")):
        base = f"databases.{db}.tables.{tb}.rows.{row}"
        names.update((f"{base}.{action}", base, f"databases.{db}.tables.{tb}", f"databases.{db}"))
    return names


class ChangeFeed:
    def __init__(self, functions, say: Callable[[str], None], poll_s: float = 0.5, fire_events: bool = True):
        self.functions = functions
        self.say = say
        self.poll_s = poll_s
        self.path = str(functions.backend.db_path)
        self.database = functions.schema.database_id
        self.tables = {t.id: t for t in functions.schema.tables}
        self.subscriptions = {fid: set(events) for fid, events in functions.events.items()
                              if events and fid in functions.modules} if fire_events else {}
        self._matcher = Matcher(self.subscriptions, self.database)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="alertwrite-event")
        self._thread: threading.Thread | None = None
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA busy_timeout = 3000")
        self.last = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM _changes").fetchone()[0]
        self._address = _wake_address(self.path)
        self._listener = _bind(self._address) if fire_events else None
        # Only a process that does not fire the events tells the one that does.
        tells = self._address is not None and self._listener is None
        self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if tells else None
        if self._sender:
            self._sender.setblocking(False)
        functions.on_commit(self._committed)

    def _committed(self, path: str) -> None:
        self._wake.set()
        if self._sender:
            try:
                self._sender.sendto(b"c", self._address)
            except OSError:  # no primary listening, or its queue is full: it polls anyway
                pass

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alertwrite-changes", daemon=True)
        self._thread.start()
        if self._listener:
            threading.Thread(target=self._listen, name="alertwrite-changes-wake", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener:
            self._listener.close()
        if self._thread:
            self._thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                self._listener.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            self._wake.set()

    def _loop(self) -> None:
        reads = 0
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            try:
                while self.poll() == 1000:
                    pass
                reads += 1
                if reads % 120 == 0:
                    self._prune()
            except (sqlite3.Error, StoreUnavailable, StoreMisconfigured) as exc:
                self.say(f"change feed: {exc} (retrying)")

    def _prune(self) -> None:
        # Through the store's writer turn (its flock), like every other write: a DELETE on this
        # connection's own lock waited out the busy timeout against serve's other process and
        # stalled a delivery for 3 s about once in 40 (tests/bench/channels.py, 100 channels).
        from alertwrite.stores.sqlite import transaction
        with transaction(self.path, self.functions.schema) as conn:
            conn.execute("DELETE FROM _changes WHERE seq <= ?", (self.last - KEEP_CHANGES,))

    def poll(self) -> int:
        """Publish what was committed since the last look; returns how many changes."""
        rows = self._conn.execute("SELECT seq, tbl, row_id, action FROM _changes WHERE seq > ? ORDER BY seq LIMIT 1000",
                                  (self.last,)).fetchall()
        for change in rows:
            self.last = change["seq"]
            self.publish(change["tbl"], change["row_id"], change["action"])
        return len(rows)

    def publish(self, table: str, row_id: str, action: str) -> None:
        if table in STREAM_TABLES:
            item = {"table": table, "id": row_id, "action": action}
            with self._lock:
                subscribers = list(self._subscribers)
            for loop, queue in subscribers:
                loop.call_soon_threadsafe(_offer, queue, item)
        if not self.subscriptions:
            return
        for fid in self._matcher.functions_for(table, row_id, action):
            event = f"databases.{self.database}.tables.{table}.rows.{row_id}.{action}"
            self._pool.submit(self._execute, fid, event, table, row_id)

    def _execute(self, fid: str, event: str, table: str, row_id: str) -> None:
        body = json.dumps(self.row(table, row_id)).encode()
        result = self.functions.run_event(fid, event, body, log_sink(self.say))
        self.say(f"event {event} -> {fid} {result.status} ({result.duration_ms:.0f} ms)")

    def row(self, table: str, row_id: str) -> dict:
        """The row as Appwrite's event payload carries it (arrays and booleans decoded)."""
        with self._lock:
            found = self._conn.execute(f'SELECT * FROM "{table}" WHERE "$id" = ?', (row_id,)).fetchone()
        spec = self.tables.get(table)
        if found is None:
            doc = {"$id": row_id}
        else:
            doc = decode_row(spec, found) if spec else dict(found)
        doc.update({"$tableId": table, "$databaseId": self.database})
        return doc

    async def stream(self, request, send) -> None:
        """GET /stream: `event: rows` with `data: {"table","id","action"}` per changed row."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)
        entry = (loop, queue)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
                                (b"x-accel-buffering", b"no")]})
        await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
        with self._lock:
            self._subscribers.add(entry)
        receive = request.receive
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            while not gone.done():
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, gone}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    item = getter.result()
                    if item is None:  # the subscriber fell too far behind
                        break
                    chunk = f"event: rows\ndata: {json.dumps(item, separators=(',', ':'))}\n\n"
                else:
                    getter.cancel()
                    chunk = ": keep-alive\n\n"
                if not gone.done():
                    await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})
        finally:
            with self._lock:
                self._subscribers.discard(entry)
            gone.cancel()
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except Exception:
            pass


class Matcher:
    """Which functions a row change triggers. A storm writes tens of thousands of rows nobody
    subscribes to: unless a pattern names one row, the answer depends on (table, action)
    alone, so it is worked out once per pair."""

    def __init__(self, subscriptions: dict[str, set[str]], database: str):
        self.subscriptions, self.database = subscriptions, database
        self.per_row = any(_names_a_row(p) for events in subscriptions.values() for p in events)
        self._matched: dict[tuple[str, str], list[str]] = {}

    def functions_for(self, table: str, row_id: str, action: str) -> list[str]:
        if self.per_row:
            return self._match(event_names(self.database, table, row_id, action))
        key = (table, action)
        if key not in self._matched:
            self._matched[key] = self._match(event_names(self.database, table, "*", action))
        return self._matched[key]

    def _match(self, names: set[str]) -> list[str]:
        return [fid for fid, wanted in self.subscriptions.items() if wanted & names]


def _names_a_row(pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) > 5 and parts[4] == "rows" and parts[5] != "*"


def _wake_address(path: str) -> str | None:
    if not sys.platform.startswith("linux"):
        return None
    return "\0alertwrite-changes-" + hashlib.sha256(os.path.realpath(path).encode()).hexdigest()[:24]


def _bind(address: str | None) -> socket.socket | None:
    """The primary's wake socket; None when another serve on this store holds it, or off Linux."""
    if address is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        return None
    sock.settimeout(1.0)  # so stop() is seen
    return sock


def _offer(queue: asyncio.Queue, item: dict) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
