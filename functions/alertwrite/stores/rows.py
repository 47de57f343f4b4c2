"""Generic row access over the schema's tables: the substrate every capability builds on.

Rows are plain dicts keyed by the schema's column names plus "$id", "$createdAt" and
"$updatedAt"; datetimes are strings as `timeutil.format_ms` writes them. Every value written is
fitted to its column (records.fit_row), so a long comment is cut visibly, never rejected.

`create` is the claim primitive: a row whose `$id` exists already is skipped, and the caller
learns which IDs it created. Two executions racing on one deterministic ID: one wins.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol, Sequence

from ..schema import Schema
from ..settings import Settings

Where = tuple[str, str, object]  # (column, op, value)
OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "search", "is_null", "not_null")
ORDERS = ("asc", "desc")
SYSTEM = ("$id", "$createdAt", "$updatedAt")
MAX_LIMIT = 100
PAGE = 100


class RowQueryError(ValueError):
    """A query the store cannot run: unknown column or operator, or a cursor row that is gone.
    The API answers 400 with `code`."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


class RowStore(Protocol):
    def get(self, table: str, row_id: str) -> dict | None: ...

    def find(self, table: str, where: Sequence[Where] = (), order: Sequence[tuple[str, str]] = (),
             limit: int = 100, after: str | None = None) -> list[dict]: ...

    def find_all(self, table: str, where: Sequence[Where] = (), order: Sequence[tuple[str, str]] = ()) -> Iterator[dict]: ...

    def create(self, table: str, rows: list[dict]) -> list[str]: ...

    def update(self, table: str, row_id: str, changes: dict) -> dict | None: ...

    # Extension of contract §1 (backward-compatible): one conditional write for many rows.
    # Applies `changes` to each row of `ids` that also matches `where`, and returns those rows
    # as they are after the write. Per row it is a compare-and-set: a row changed by someone
    # else so that it no longer matches is left alone. On Appwrite: one call per chunk of IDs.
    def update_many(self, table: str, ids: Sequence[str], changes: dict,
                    where: Sequence[Where] = ()) -> list[dict]: ...

    def update_each(self, table: str, changes: dict[str, dict]) -> None: ...

    def delete(self, table: str, row_id: str) -> bool: ...

    def count(self, table: str, where: Sequence[Where] = ()) -> int: ...


def check_query(schema: Schema, table: str, where: Sequence[Where], order: Sequence[tuple[str, str]] = ()) -> None:
    """Both stores reject the same things the same way."""
    try:
        spec = schema.table(table)
    except KeyError:
        raise RowQueryError("unknown_table", table) from None
    known = {c.key for c in spec.columns} | set(SYSTEM)
    for item in where:
        if len(item) != 3:
            raise RowQueryError("invalid_query", repr(item)[:80])
        column, op, value = item
        if column not in known:
            raise RowQueryError("unknown_column", f"{table}.{column}")
        if op not in OPS:
            raise RowQueryError("unknown_operator", str(op))
        if op == "in" and (not isinstance(value, (list, tuple, set)) or not value):
            raise RowQueryError("invalid_query", f"{column} in: give a non-empty list")
    for column, direction in order:
        if column not in known:
            raise RowQueryError("unknown_column", f"{table}.{column}")
        if direction not in ORDERS:
            raise RowQueryError("invalid_order", str(direction))


def clamp_limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


@contextmanager
def open_rows(settings: Settings, schema: Schema) -> Iterator[RowStore]:
    """The configured backend's RowStore. SQLite: one transaction per `with` block."""
    if settings.backend == "sqlite":
        from .sqlite_rows import SqliteRows

        with SqliteRows.transaction(settings.sqlite_path, schema) as rows:
            yield rows
        return
    from .appwrite import make_client
    from .appwrite_rows import AppwriteRows

    client = make_client(settings.endpoint, settings.project_id, settings.api_key, settings.http_timeout)
    yield AppwriteRows(client, schema)


class RowsBase:
    """What both RowStores build on their own primitives: `find_all` (one cursor loop over
    `find`) and `update_each` (a loop of `update`, which SQLite replaces with executemany)."""

    def update_each(self, table: str, changes: dict[str, dict]) -> None:
        """Different changes for different rows, row ID -> changes; missing rows are skipped."""
        for row_id, change in changes.items():
            self.update(table, row_id, change)

    def find_all(self, table: str, where: Sequence[Where] = (), order: Sequence[tuple[str, str]] = ()) -> Iterator[dict]:
        after = None
        while True:
            page = self.find(table, where, order, PAGE, after)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1]["$id"]


def pipeline_view(rows):
    """The inverse of `rows_view`: intake's AlertStore and Messenger over a RowStore's own
    connection or client, for capabilities that run the normal pipeline (manual alerts,
    heartbeats, the janitor) inside their own transaction."""
    if hasattr(rows, "conn"):
        from .sqlite import SqliteOutbox, SqliteStore
        return SqliteStore(rows.conn, rows.schema), SqliteOutbox(rows.conn)
    from .appwrite import AppwriteMessenger, AppwriteStore
    return AppwriteStore(rows.client, rows.schema), AppwriteMessenger(rows.client)


def rows_view(store):
    """The RowStore over an AlertStore's own connection or client (same transaction on SQLite),
    for code the processor runs (silences); None for a store of another kind."""
    conn = getattr(store, "conn", None)
    if conn is not None:
        from .sqlite_rows import SqliteRows
        return SqliteRows(conn, store.schema)
    tables = getattr(store, "tables", None)
    if tables is not None and hasattr(tables, "client"):
        from .appwrite_rows import AppwriteRows
        return AppwriteRows(tables.client, store.schema)
    return None
