"""The embedded default: the schema's tables in one SQLite file, plus a `messages` outbox.

Tables, columns and indexes are derived from the same `Schema` that provisions Appwrite, so
the names match (`alerts.fingerprint`, `alerts.status`, ...). Each delivery runs in one
`BEGIN IMMEDIATE` transaction: concurrent requests serialise on the write lock (WAL mode keeps
readers going), and a failure rolls the whole delivery back.
"""
from __future__ import annotations

import functools
import json
import sqlite3
import threading
from contextlib import contextmanager
from typing import Iterator

from ..errors import StoreMisconfigured, StoreUnavailable
from ..notify import OutboundMessage
from ..records import ALERTS_TABLE, AlertRecord, fit_row
from ..schema import Column, Schema, Table
from ..timeutil import format_ms, utcnow

OUTBOX_TABLE = "messages"
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "double": "REAL", "boolean": "INTEGER", "datetime": "TEXT"}
SYSTEM_COLUMNS = ('"$id" TEXT PRIMARY KEY', '"$createdAt" TEXT', '"$updatedAt" TEXT')
OUTBOX_COLUMNS = ("medium", "topics", "subject", "content", "html", "data")
# Long enough to ride out a neighbour's transaction, short enough to answer 503 well inside
# Alertmanager's 10 s flush deadline when the file is really stuck.
BUSY_TIMEOUT_MS = 3000
_prepared: set[str] = set()
_prepare_lock = threading.Lock()


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


_connections = threading.local()


def connect(path: str, schema: Schema) -> sqlite3.Connection:
    """One connection per thread and file, kept open: closing the last connection to a WAL
    database checkpoints it, which cost more than the rest of a delivery."""
    cache = _connections.__dict__.setdefault("by_path", {})
    conn = cache.get(path)
    try:
        if conn is None:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            with _prepare_lock:
                if path not in _prepared:
                    prepare(conn, schema)
                    _prepared.add(path)
            cache[path] = conn
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.OperationalError as exc:
        cache.pop(path, None)
        raise StoreUnavailable(f"SQLite {path}: {exc}") from None
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
    conn.execute(outbox_ddl())


_writer_locks: dict[str, threading.Lock] = {}


def _writer_lock(path: str) -> threading.Lock:
    with _prepare_lock:
        return _writer_locks.setdefault(path, threading.Lock())


class SqliteBackend:
    def __init__(self, path: str, schema: Schema):
        self.path = path
        self.schema = schema

    @contextmanager
    def unit_of_work(self) -> Iterator[tuple["SqliteStore", "SqliteOutbox"]]:
        # Writers in this process queue on a lock, which hands over at once; left to
        # SQLite's busy handler they would sleep in back-off steps of up to 100 ms.
        writer = _writer_lock(self.path)
        if not writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise StoreUnavailable(f"SQLite {self.path}: busy for {BUSY_TIMEOUT_MS} ms")
        try:
            with self._transaction() as pair:
                yield pair
        finally:
            writer.release()

    @contextmanager
    def _transaction(self) -> Iterator[tuple["SqliteStore", "SqliteOutbox"]]:
        conn = connect(self.path, self.schema)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite {self.path}: {exc}") from None
            try:
                yield SqliteStore(conn, self.schema), SqliteOutbox(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite {self.path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreMisconfigured(f"SQLite {self.path}: {exc}") from None


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
        now = format_ms(utcnow())
        conflicts = []
        for row in rows:
            row = _sql_values(fit_row(row, spec))
            cols = [c for c in row]
            cursor = self.conn.execute(
                f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}, \"$createdAt\", \"$updatedAt\") "
                f"VALUES ({', '.join('?' * len(cols))}, ?, ?) ON CONFLICT DO NOTHING", [*row.values(), now, now])
            if cursor.rowcount != 1:
                conflicts.append(row["$id"])
        return conflicts

    def update(self, table: str, changes: dict[str, dict]) -> list[str]:
        spec = self.schema.table(table)
        now = format_ms(utcnow())
        missing = []
        for row_id, data in changes.items():
            data = _sql_values(fit_row(data, spec, partial=True))
            data.pop("$id", None)
            if not data:
                continue
            sets = ", ".join(f"{q(c)} = ?" for c in data)
            cursor = self.conn.execute(f'UPDATE {q(table)} SET {sets}, "$updatedAt" = ? WHERE "$id" = ?',
                                       [*data.values(), now, row_id])
            if cursor.rowcount != 1:
                missing.append(row_id)
        return missing


def _sql_values(row: dict) -> dict:
    """Arrays are kept as JSON text, booleans as 0/1 (sqlite3 takes the rest as they are)."""
    return {k: json.dumps(v) if isinstance(v, list) else v for k, v in row.items()}


def upsert_rows(conn: sqlite3.Connection, table: str, rows: list[dict]) -> None:
    """Appwrite's upsert semantics: a column left out of a row keeps its stored value."""
    now = format_ms(utcnow())
    groups: dict[tuple[str, ...], list[list]] = {}
    for row in rows:
        cols = tuple(row)
        # Row values are str, int, float or None already (records.to_row), as SQLite takes them.
        groups.setdefault(cols, []).append([*row.values(), now, now])
    for cols, values in groups.items():
        conn.executemany(_upsert_sql(table, cols), values)


@functools.lru_cache(maxsize=64)
def _upsert_sql(table: str, cols: tuple[str, ...]) -> str:
    updates = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in cols if c != "$id")
    return (f"INSERT INTO {q(table)} ({', '.join(q(c) for c in cols)}, \"$createdAt\", \"$updatedAt\") "
            f"VALUES ({', '.join('?' * len(cols))}, ?, ?) "
            f"ON CONFLICT(\"$id\") DO UPDATE SET {updates}{', ' if updates else ''}\"$updatedAt\" = excluded.\"$updatedAt\"")


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
