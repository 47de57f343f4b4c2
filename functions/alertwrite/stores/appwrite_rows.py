"""RowStore on Appwrite TablesDB, through the SDK.

Calls stay flat in the number of rows: reads page 100 rows per call (APP_LIMIT_DATABASE_BATCH is
also the write batch), `create` is one bulk create per 100 rows, `update_many` one bulk update
(PATCH rows with queries) per chunk of IDs. A bulk create is atomic and answers 409 when one ID
exists (captures bulk-create-one-existing), so only then do we fall back to per-row creates.
"""
from __future__ import annotations

from typing import Sequence

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.tables_db import TablesDB

from ..errors import Fault, classify, to_store_error
from ..records import fit_row
from ..schema import Schema
from .appwrite import MAX_BATCH_ROWS, equal_chunks
from .rows import RowsBase, RowQueryError, Where, check_query, clamp_limit

_SYSTEM_KEYS = ("$sequence", "$tableId", "$databaseId", "$permissions")


class AppwriteRows(RowsBase):
    def __init__(self, client: Client, schema: Schema):
        self.client = client
        self.tables = TablesDB(client)
        self.schema = schema
        self.db = schema.database_id

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: str, row_id: str) -> dict | None:
        check_query(self.schema, table, ())
        try:
            row = self.tables.get_row(self.db, table, row_id)
        except AppwriteException as exc:
            if classify(exc) is Fault.NOT_FOUND and exc.type == "row_not_found":
                return None
            raise to_store_error(exc) from None
        return _flat(row)

    def find(self, table: str, where: Sequence[Where] = (), order: Sequence[tuple[str, str]] = (),
             limit: int = 100, after: str | None = None) -> list[dict]:
        check_query(self.schema, table, where, order)
        queries = [*_queries(where), *_order(order), Query.limit(clamp_limit(limit))]
        if after is not None:
            queries.append(Query.cursor_after(after))
        try:
            page = self.tables.list_rows(self.db, table, queries=queries, total=False)
        except AppwriteException as exc:
            if exc.type == "general_cursor_not_found":
                raise RowQueryError("cursor_not_found", after or "") from None
            raise to_store_error(exc) from None
        return [_flat(r) for r in page.rows]

    def count(self, table: str, where: Sequence[Where] = ()) -> int:
        """Appwrite caps `total` at 5000 (APP_LIMIT_COUNT); so does this count."""
        check_query(self.schema, table, where)
        try:
            page = self.tables.list_rows(self.db, table, queries=[*_queries(where), Query.limit(1)], total=True)
        except AppwriteException as exc:
            raise to_store_error(exc) from None
        return int(page.total)

    # -- writes --------------------------------------------------------------------------
    def create(self, table: str, rows: list[dict]) -> list[str]:
        check_query(self.schema, table, ())
        spec = self.schema.table(table)
        prepared = [{**fit_row({k: v for k, v in r.items() if not k.startswith("$")}, spec), "$id": r["$id"]}
                    for r in rows]
        created: list[str] = []
        for start in range(0, len(prepared), MAX_BATCH_ROWS):
            batch = prepared[start:start + MAX_BATCH_ROWS]
            try:
                self.tables.create_rows(self.db, table, batch)
                created += [r["$id"] for r in batch]
                continue
            except AppwriteException as exc:
                if classify(exc) is not Fault.CONFLICT:
                    raise to_store_error(exc) from None
            for row in batch:  # someone holds at least one ID: find out which, row by row
                data = {k: v for k, v in row.items() if k != "$id"}
                try:
                    self.tables.create_row(self.db, table, row["$id"], data)
                    created.append(row["$id"])
                except AppwriteException as exc:
                    if classify(exc) is not Fault.CONFLICT:
                        raise to_store_error(exc) from None
        return created

    def update(self, table: str, row_id: str, changes: dict) -> dict | None:
        check_query(self.schema, table, ())
        data = fit_row({k: v for k, v in changes.items() if not k.startswith("$")}, self.schema.table(table),
                       partial=True)
        if not data:
            return self.get(table, row_id)  # Appwrite answers 400 row_missing_payload to {}
        try:
            row = self.tables.update_row(self.db, table, row_id, data=data)
        except AppwriteException as exc:
            if classify(exc) is Fault.NOT_FOUND and exc.type == "row_not_found":
                return None
            raise to_store_error(exc) from None
        return _flat(row)

    def update_many(self, table: str, ids: Sequence[str], changes: dict, where: Sequence[Where] = ()) -> list[dict]:
        check_query(self.schema, table, where)
        data = fit_row({k: v for k, v in changes.items() if not k.startswith("$")}, self.schema.table(table),
                       partial=True)
        out: list[dict] = []
        for chunk in equal_chunks("$id", list(dict.fromkeys(ids))):
            for start in range(0, len(chunk), MAX_BATCH_ROWS):
                part = chunk[start:start + MAX_BATCH_ROWS]
                queries = [Query.equal("$id", part), *_queries(where), Query.limit(len(part))]
                try:
                    result = self.tables.update_rows(self.db, table, data=data, queries=queries)
                except AppwriteException as exc:
                    raise to_store_error(exc) from None
                out += [_flat(r) for r in result.rows]
        order = {row_id: i for i, row_id in enumerate(ids)}
        return sorted(out, key=lambda r: order.get(r["$id"], 0))

    def delete(self, table: str, row_id: str) -> bool:
        check_query(self.schema, table, ())
        try:
            self.tables.delete_row(self.db, table, row_id)
        except AppwriteException as exc:
            if classify(exc) is Fault.NOT_FOUND and exc.type == "row_not_found":
                return False
            raise to_store_error(exc) from None
        return True


def _flat(row) -> dict:
    """SDK 22 nests user columns under `.data`; the contract's rows are flat."""
    data = dict(row.data or {})
    for key in _SYSTEM_KEYS:
        data.pop(key, None)
    data.update({"$id": row.id, "$createdAt": row.createdat, "$updatedAt": row.updatedat})
    return data


def _queries(where: Sequence[Where]) -> list[str]:
    out = []
    for column, op, value in where:
        if op == "=":
            out.append(Query.equal(column, [value]) if value is not None else Query.is_null(column))
        elif op == "!=":
            out.append(Query.not_equal(column, value) if value is not None else Query.is_not_null(column))
        elif op == "<":
            out.append(Query.less_than(column, value))
        elif op == "<=":
            out.append(Query.less_than_equal(column, value))
        elif op == ">":
            out.append(Query.greater_than(column, value))
        elif op == ">=":
            out.append(Query.greater_than_equal(column, value))
        elif op == "in":
            out.append(Query.equal(column, list(value)))
        elif op == "search":
            # `search` needs a fulltext index and matches words (captures list-search-no-index);
            # `contains` on a string column is SQL LIKE %v% (utopia-php/database MariaDB adapter),
            # case-insensitive under the default _ci collation (captures list-equal-case).
            out.append(Query.contains(column, [str(value)]))
        elif op == "is_null":
            out.append(Query.is_null(column))
        elif op == "not_null":
            out.append(Query.is_not_null(column))
    return out


def _order(order: Sequence[tuple[str, str]]) -> list[str]:
    out = [Query.order_asc(c) if d == "asc" else Query.order_desc(c) for c, d in order]
    if not any(c == "$id" for c, _ in order):
        out.append(Query.order_asc("$id"))  # a total order, so cursors never skip or repeat
    return out
