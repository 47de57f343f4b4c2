"""The embedded default: the schema's tables in one SQLite file, plus a `messages` outbox.

Tables, columns and indexes are derived from the same `Schema` that provisions Appwrite, so
the names match (`alerts.fingerprint`, `alerts.status`, ...).

Group commit. Each delivery runs in its own SAVEPOINT inside a transaction it may share with
the deliveries that arrive together: they take turns on one connection (so each one reads
what the ones before it wrote, and two deliveries of one fingerprint apply in arrival order),
and the last of a burst commits for all of them, with one fsync. A delivery is answered only
after that COMMIT, so "2xx only once durably stored" holds; a failed delivery rolls back to
its savepoint alone; a failed COMMIT fails every delivery of the batch (503, retried).
This is the classic group commit of durable single-writer stores (e.g. PostgreSQL's
commit_delay, SQLite's own advice to batch writes in one transaction:
https://www.sqlite.org/faq.html#q19).

Changes. Triggers write (table, row ID, action) of every row change into `_changes`, in the
same transaction, so whoever reads it (serve's /stream and row events) sees exactly what was
committed, from any process or bundle. `on_commit` callbacks only wake such readers early.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import StoreMisconfigured, StoreUnavailable
from ..notify import OutboundMessage
from ..records import ALERTS_TABLE, AlertRecord, fit_row
from ..schema import Column, Schema, Table
from ..timeutil import format_ms, utcnow

OUTBOX_TABLE = "messages"
CHANGES_TABLE = "_changes"  # Appwrite IDs cannot start with "_", so no schema table clashes
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "double": "REAL", "boolean": "INTEGER", "datetime": "TEXT"}
SYSTEM_COLUMNS = ('"$id" TEXT PRIMARY KEY', '"$createdAt" TEXT', '"$updatedAt" TEXT')
OUTBOX_COLUMNS = ("medium", "topics", "subject", "content", "html", "data")
# Long enough to ride out a neighbour's transaction, short enough to answer 503 well inside
# Alertmanager's 10 s flush deadline when the file is really stuck.
BUSY_TIMEOUT_MS = 3000
# A batch closes at this size even under a continuous stream, which bounds each delivery's wait.
MAX_BATCH = 256
_prepared: set[str] = set()
_prepare_lock = threading.Lock()
# Called with the file path after every COMMIT that changed rows (serve wakes its readers).
on_commit: list[Callable[[str], None]] = []


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_type(col: Column) -> str:
    return "TEXT" if col.array else SQL_TYPES[col.type]  # arrays are kept as JSON text


def table_ddl(table: Table) -> list[str]:
    """CREATE TABLE first, then one CREATE INDEX per index."""
    cols = list(SYSTEM_COLUMNS) + [
        f"{q(c.key)} {_sql_type(c)}{' NOT NULL' if c.required else ''}" for c in table.columns
    ]
    statements = [f"CREATE TABLE IF NOT EXISTS {q(table.id)} ({', '.join(cols)})"]
    for index in table.indexes:
        if index.type == "fulltext":
            continue
        unique = "UNIQUE " if index.type == "unique" else ""
        statements.append(f"CREATE {unique}INDEX IF NOT EXISTS {q(table.id + '_' + index.key)} "
                          f"ON {q(table.id)} ({', '.join(q(c) for c in index.columns)})")
    return statements


def outbox_ddl() -> str:
    cols = ", ".join(f"{q(c)} TEXT" for c in OUTBOX_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {q(OUTBOX_TABLE)} ({SYSTEM_COLUMNS[0]}, {SYSTEM_COLUMNS[1]}, {cols})"


def changes_ddl(table: str) -> list[str]:
    """The change log and the triggers that feed it for one table. An upsert that updates
    fires the UPDATE trigger, an insert the INSERT one (https://www.sqlite.org/lang_upsert.html)."""
    # No AUTOINCREMENT (a write per commit to sqlite_sequence): the feed prunes only the oldest
    # rows and keeps the newest, so a seq is never reused.
    out = [f"CREATE TABLE IF NOT EXISTS {q(CHANGES_TABLE)} (seq INTEGER PRIMARY KEY, "
           "tbl TEXT NOT NULL, row_id TEXT NOT NULL, action TEXT NOT NULL)"]
    for event, action, ref in (("INSERT", "create", "NEW"), ("UPDATE", "update", "NEW"), ("DELETE", "delete", "OLD")):
        out.append(f"CREATE TRIGGER IF NOT EXISTS {q(f'_changes_{table}_{action}')} AFTER {event} ON {q(table)} "
                   f"BEGIN INSERT INTO {q(CHANGES_TABLE)} (tbl, row_id, action) "
                   f"VALUES ('{table}', {ref}.\"$id\", '{action}'); END")
    return out


_connections = threading.local()


def connect(path: str, schema: Schema) -> sqlite3.Connection:
    """One connection per thread and file, kept open: closing the last connection to a WAL
    database checkpoints it, which cost more than the rest of a delivery."""
    cache = _connections.__dict__.setdefault("by_path", {})
    conn = cache.get(path)
    try:
        if conn is None:
            conn = _open(path, schema)
            cache[path] = conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.OperationalError as exc:
        cache.pop(path, None)
        raise StoreUnavailable(f"SQLite {path}: {exc}") from None
    return conn


def _open(path: str, schema: Schema) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    with _prepare_lock:
        if path not in _prepared:
            prepare(conn, schema)
            _prepared.add(path)
    return conn


def prepare(conn: sqlite3.Connection, schema: Schema) -> None:
    """Create what the schema declares; add columns the schema gained since the file was made."""
    conn.execute("PRAGMA journal_mode = WAL")
    for table in schema.tables:
        create_table, *create_indexes = table_ddl(table)
        conn.execute(create_table)
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({q(table.id)})")}
        for col in table.columns:
            if col.key not in have:
                conn.execute(f"ALTER TABLE {q(table.id)} ADD COLUMN {q(col.key)} {_sql_type(col)}")
        for statement in create_indexes:
            conn.execute(statement)
        for statement in changes_ddl(table.id):
            conn.execute(statement)
    conn.execute(outbox_ddl())


class _Batch:
    def __init__(self):
        self.members = 0
        self.error: Exception | None = None
        self.done = threading.Event()


class GroupCommit:
    """One writer connection per file; deliveries take turns on it (see the module doc)."""

    def __init__(self, path: str, schema: Schema):
        self.path, self.schema = path, schema
        self._turn = threading.Lock()  # whose delivery runs on the connection now
        self._count = threading.Lock()
        self._waiting = 0
        self._batch: _Batch | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._busy_timeout: int | None = None

    @contextmanager
    def unit(self) -> Iterator[sqlite3.Connection]:
        with self._count:
            self._waiting += 1
        got = self._turn.acquire(timeout=BUSY_TIMEOUT_MS / 1000)
        with self._count:
            self._waiting -= 1
        if not got:
            raise StoreUnavailable(f"SQLite {self.path}: busy for {BUSY_TIMEOUT_MS} ms")
        batch = None
        ok = False
        try:
            conn = self._connection()
            if self._batch is None:
                self._begin(conn)
                self._batch = _Batch()
            batch = self._batch
            with _sqlite_errors(self.path):
                conn.execute("SAVEPOINT delivery")
            try:
                yield conn
            except BaseException:
                self._undo(conn, batch)
                raise
            with _sqlite_errors(self.path):
                conn.execute("RELEASE delivery")
            batch.members += 1
            ok = True
        finally:
            # The last of a burst commits for all; a batch also closes when it is full.
            if batch is not None and batch is self._batch and (self._waiting == 0 or batch.members >= MAX_BATCH):
                self._batch = None
                self._commit(batch)
            self._turn.release()
        if ok:
            while not batch.done.wait(0.05):
                self._commit_if_abandoned(batch)
            if batch.error is not None:
                raise batch.error

    def _commit_if_abandoned(self, batch: _Batch) -> None:
        # The delivery expected to commit gave up waiting for its turn: commit for it.
        if self._turn.acquire(blocking=False):
            try:
                if batch is self._batch and self._waiting == 0:
                    self._batch = None
                    self._commit(batch)
            finally:
                self._turn.release()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            with _sqlite_errors(self.path):
                self._conn = _open(self.path, self.schema)
        if self._busy_timeout != BUSY_TIMEOUT_MS:  # a statement per delivery saved
            with _sqlite_errors(self.path):
                self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._busy_timeout = BUSY_TIMEOUT_MS
        return self._conn

    def _begin(self, conn: sqlite3.Connection) -> None:
        # Writers in other processes (serve's workers) queue on an flock, which hands over at
        # once; left to SQLite's busy handler they would sleep in steps of up to 100 ms.
        if self._lock_fd is None:
            self._lock_fd = os.open(self.path + ".writer-lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            raise StoreUnavailable(f"SQLite {self.path}: {exc}") from None

    def _end(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _undo(self, conn: sqlite3.Connection, batch: _Batch) -> None:
        try:
            conn.execute("ROLLBACK TO delivery")
            conn.execute("RELEASE delivery")
        except sqlite3.Error:
            pass
        if not conn.in_transaction:
            # SQLite rolled the whole transaction back (disk full, I/O error): the batch is lost.
            batch.error = StoreUnavailable(f"SQLite {self.path}: transaction aborted")
            self._batch = None
            self._end()
            batch.done.set()

    def _commit(self, batch: _Batch) -> None:
        conn = self._conn
        if batch.error is None:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                batch.error = (StoreUnavailable if isinstance(exc, sqlite3.OperationalError)
                               else StoreMisconfigured)(f"SQLite {self.path}: {exc}")
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        self._end()
        batch.done.set()
        if batch.error is None and batch.members:
            for callback in list(on_commit):
                try:
                    callback(self.path)
                except Exception:  # a reader's problem must never fail a stored delivery
                    pass


@contextmanager
def _sqlite_errors(path: str):
    try:
        yield
    except sqlite3.OperationalError as exc:
        raise StoreUnavailable(f"SQLite {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreMisconfigured(f"SQLite {path}: {exc}") from None


_committers: dict[str, GroupCommit] = {}


def group_commit(path: str, schema: Schema) -> GroupCommit:
    with _prepare_lock:
        committer = _committers.get(path)
        if committer is None:
            committer = _committers[path] = GroupCommit(path, schema)
        return committer


@contextmanager
def transaction(path: str, schema: Schema) -> Iterator[sqlite3.Connection]:
    """A unit of work on the file: a savepoint in the current group-commit batch.
    Everything in the `with` block commits together (durably, before the block exits) or not at all."""
    with group_commit(path, schema).unit() as conn:
        with _sqlite_errors(path):
            yield conn


class SqliteBackend:
    def __init__(self, path: str, schema: Schema):
        self.path = path
        self.schema = schema

    @contextmanager
    def unit_of_work(self) -> Iterator[tuple["SqliteStore", "SqliteOutbox"]]:
        with transaction(self.path, self.schema) as conn:
            yield SqliteStore(conn, self.schema), SqliteOutbox(conn)


class SqliteStore:
    def __init__(self, conn: sqlite3.Connection, schema: Schema):
        self.conn = conn
        self.schema = schema

    def fetch_alerts(self, fingerprints: list[str]) -> dict[str, AlertRecord]:
        found: dict[str, AlertRecord] = {}
        unique = sorted(set(fingerprints))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f"SELECT * FROM {q(ALERTS_TABLE)} WHERE fingerprint IN ({marks})", chunk):
                record = AlertRecord.from_row(dict(row))
                found[record.fingerprint] = record
        return found

    def stale_firing(self, before, limit: int) -> list[AlertRecord]:
        rows = self.conn.execute(f"SELECT * FROM {q(ALERTS_TABLE)} WHERE status = 'firing' AND lastSeenAt < ? "
                                 "ORDER BY lastSeenAt LIMIT ?", (format_ms(before), limit))
        return [AlertRecord.from_row(dict(r)) for r in rows]

    # The same row operations as the Appwrite store (writes.py), inside this one transaction.
    def rows(self, table: str, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.conn.execute(f'SELECT * FROM {q(table)} WHERE "$id" IN ({marks})', chunk):
                found[row["$id"]] = dict(row)
        return found

    def create(self, table: str, rows: list[dict]) -> list[str]:
        spec = self.schema.table(table)
        rows = [_sql_values(fit_row(row, spec)) for row in rows]
        return [row["$id"] for row, created in zip(rows, insert_new(self.conn, table, rows)) if not created]

    def update(self, table: str, changes: dict[str, dict]) -> list[str]:
        spec = self.schema.table(table)
        now = format_ms(utcnow())
        groups: dict[tuple[str, ...], list[list]] = {}
        for row_id, data in changes.items():
            data = _sql_values(fit_row(data, spec, partial=True))
            data.pop("$id", None)
            if data:
                groups.setdefault(tuple(data), []).append([*data.values(), now, row_id])
        touched = 0
        for cols, values in groups.items():
            touched += self.conn.executemany(_update_sql(table, cols), values).rowcount
        if touched == sum(len(v) for v in groups.values()):
            return []
        # Some row is not there (rare): find which, in the same transaction.
        wanted = [v[-1] for values in groups.values() for v in values]
        there = self.rows(table, wanted)
        return [row_id for row_id in wanted if row_id not in there]


# Rows per INSERT statement: well inside SQLite's 32766 bound variables for any table here.
INSERT_CHUNK = 200


def insert_new(conn: sqlite3.Connection, table: str, rows: list[dict]) -> list[bool]:
    """Insert each row whose `$id` is not there yet, a few hundred rows per statement; says per
    row whether it was created (a row given twice is there already the second time)."""
    now = format_ms(utcnow())
    if len(rows) == 1:  # most of a storm: RETURNING would cost more than the insert
        row = rows[0]
        return [conn.execute(_insert_sql(table, tuple(row), 1, False), [*row.values(), now, now]).rowcount == 1]
    groups: dict[tuple[str, ...], list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    created: set[str] = set()
    for cols, group in groups.items():
        for start in range(0, len(group), INSERT_CHUNK):
            chunk = group[start:start + INSERT_CHUNK]
            params = [v for row in chunk for v in (*row.values(), now, now)]
            created.update(r[0] for r in conn.execute(_insert_sql(table, cols, len(chunk)), params))
    out = []
    for row in rows:
        out.append(row["$id"] in created)
        created.discard(row["$id"])
    return out


@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, cols: tuple[str, ...], n: int, returning: bool = True) -> str:
    marks = "(" + ", ".join("?" * (len(cols) + 2)) + ")"
    tail = ' RETURNING "$id"' if returning else ""
    return (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}, \"$createdAt\", \"$updatedAt\") "
            f"VALUES {', '.join([marks] * n)} ON CONFLICT DO NOTHING{tail}")


@functools.lru_cache(maxsize=256)
def _update_sql(table: str, cols: tuple[str, ...]) -> str:
    sets = ", ".join(f"{q(c)} = ?" for c in cols)
    return f'UPDATE {q(table)} SET {sets}, "$updatedAt" = ? WHERE "$id" = ?'


def _sql_values(row: dict) -> dict:
    """Arrays are kept as JSON text, booleans as 0/1 (sqlite3 takes the rest as they are)."""
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()}


class SqliteOutbox:
    """Messages that would go to Appwrite Messaging, kept locally with the same ID rule."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def send(self, message: OutboundMessage) -> str:
        cursor = self.conn.execute(
            f"INSERT INTO {q(OUTBOX_TABLE)} (\"$id\", \"$createdAt\", {', '.join(q(c) for c in OUTBOX_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(\"$id\") DO NOTHING",
            (message.id, format_ms(utcnow()), message.medium, json.dumps(list(message.topics)),
             message.subject, message.content, int(message.html), json.dumps(message.data)),
        )
        return "sent" if cursor.rowcount == 1 else "duplicate"
