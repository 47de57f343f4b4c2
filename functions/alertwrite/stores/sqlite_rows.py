"""RowStore on the embedded SQLite file (tables derived from the schema by sqlite.prepare).

One `BEGIN IMMEDIATE` transaction per `with SqliteRows.transaction(...)` block: everything an
operation reads and writes commits together or not at all, and concurrent operations serialise
on SQLite's write lock.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from typing import Iterator, Sequence

from ..records import fit_row
from ..schema import Schema, Table
from ..timeutil import format_ms, utcnow
from .rows import RowsBase, RowQueryError, Where, check_query, clamp_limit
from .sqlite import insert_new, q

_COMPARE = {"=": "IS", "!=": "IS NOT", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def decode_row(spec: Table, row) -> dict:
    """A stored row as the RowStore returns it: arrays and booleans decoded from their columns."""
    data = dict(row)
    for col in spec.columns:
        value = data.get(col.key)
        if value is None:
            continue
        if col.array:
            data[col.key] = json.loads(value)
        elif col.type == "boolean":
            data[col.key] = bool(value)
    return data


class SqliteRows(RowsBase):
    def __init__(self, conn: sqlite3.Connection, schema: Schema):
        self.conn = conn
        self.schema = schema

    @classmethod
    @contextmanager
    def transaction(cls, path: str, schema: Schema) -> Iterator["SqliteRows"]:
        """One unit of intake's group commit (stores/sqlite.py), so every writer of the file
        queues on the same lock and commits durably before the block exits."""
        from .sqlite import transaction

        with transaction(path, schema) as conn:
            yield cls(conn, schema)

    # -- reads ---------------------------------------------------------------------------
    def get(self, table: str, row_id: str) -> dict | None:
        check_query(self.schema, table, ())
        row = self.conn.execute(f"SELECT * FROM {q(table)} WHERE \"$id\" = ?", (row_id,)).fetchone()
        return self._out(table, row) if row else None

    def find(self, table: str, where: Sequence[Where] = (), order: Sequence[tuple[str, str]] = (),
             limit: int = 100, after: str | None = None) -> list[dict]:
        check_query(self.schema, table, where, order)
        order = _with_tiebreak(order)
        clauses, params = self._where(table, where)
        if after is not None:
            cursor = self.conn.execute(f"SELECT * FROM {q(table)} WHERE \"$id\" = ?", (after,)).fetchone()
            if cursor is None:
                raise RowQueryError("cursor_not_found", after)
            clause, values = _after(order, dict(cursor))
            clauses.append(clause)
            params += values
        sql = f"SELECT * FROM {q(table)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY " + ", ".join(f"{q(c)} {d.upper()}" for c, d in order) + " LIMIT ?"
        rows = self.conn.execute(sql, [*params, clamp_limit(limit)]).fetchall()
        return [self._out(table, r) for r in rows]

    def count(self, table: str, where: Sequence[Where] = ()) -> int:
        check_query(self.schema, table, where)
        clauses, params = self._where(table, where)
        sql = f"SELECT COUNT(*) FROM {q(table)}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        return int(self.conn.execute(sql, params).fetchone()[0])

    # -- writes --------------------------------------------------------------------------
    def create(self, table: str, rows: list[dict]) -> list[str]:
        check_query(self.schema, table, ())
        data = [{"$id": row["$id"], **self._in(table, {k: v for k, v in row.items() if not k.startswith("$")})}
                for row in rows]
        return [row["$id"] for row, created in zip(data, insert_new(self.conn, table, data)) if created]

    def update(self, table: str, row_id: str, changes: dict) -> dict | None:
        updated = self.update_many(table, [row_id], changes)
        return updated[0] if updated else None

    def update_many(self, table: str, ids: Sequence[str], changes: dict, where: Sequence[Where] = ()) -> list[dict]:
        check_query(self.schema, table, where)
        data = self._in(table, {k: v for k, v in changes.items() if not k.startswith("$")}, partial=True)
        out: list[dict] = []
        ids = list(dict.fromkeys(ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            clauses, params = self._where(table, where)
            clauses.append(f"\"$id\" IN ({', '.join('?' * len(chunk))})")
            sets = [f"{q(c)} = ?" for c in data] + ['"$updatedAt" = ?']
            sql = (f"UPDATE {q(table)} SET {', '.join(sets)} WHERE {' AND '.join(clauses)} RETURNING *")
            rows = self.conn.execute(sql, [*data.values(), format_ms(utcnow()), *params, *chunk]).fetchall()
            out += [self._out(table, r) for r in rows]
        order = {row_id: i for i, row_id in enumerate(ids)}
        return sorted(out, key=lambda r: order[r["$id"]])

    def update_each(self, table: str, changes: dict[str, dict]) -> None:
        check_query(self.schema, table, ())
        groups: dict[tuple, list] = {}
        now = format_ms(utcnow())
        for row_id, change in changes.items():
            data = self._in(table, {k: v for k, v in change.items() if not k.startswith("$")}, partial=True)
            groups.setdefault(tuple(data), []).append([*data.values(), now, row_id])
        for columns, params in groups.items():
            sets = [f"{q(c)} = ?" for c in columns] + ['"$updatedAt" = ?']
            self.conn.executemany(f"UPDATE {q(table)} SET {', '.join(sets)} WHERE \"$id\" = ?", params)

    def delete(self, table: str, row_id: str) -> bool:
        check_query(self.schema, table, ())
        return self.conn.execute(f"DELETE FROM {q(table)} WHERE \"$id\" = ?", (row_id,)).rowcount == 1

    # -- conversions ---------------------------------------------------------------------
    def _in(self, table: str, data: dict, partial: bool = False) -> dict:
        spec = self.schema.table(table)
        unknown = [k for k in data if k not in spec.columns_by_key]
        if unknown:
            raise RowQueryError("unknown_column", f"{table}.{unknown[0]}")
        data = fit_row(dict(data), spec, partial=partial)
        for col in spec.columns:
            if col.key not in data or data[col.key] is None:
                continue
            if col.array:
                data[col.key] = json.dumps(list(data[col.key]), ensure_ascii=False)
            elif col.type == "boolean":
                data[col.key] = int(bool(data[col.key]))
        return data

    def _out(self, table: str, row: sqlite3.Row) -> dict:
        return decode_row(self.schema.table(table), row)

    def _where(self, table: str, where: Sequence[Where]) -> tuple[list[str], list]:
        spec = self.schema.table(table)
        booleans = {c.key for c in spec.columns if c.type == "boolean"}
        clauses, params = [], []
        for column, op, value in where:
            if column in booleans and isinstance(value, bool):
                value = int(value)
            if op == "is_null":
                clauses.append(f"{q(column)} IS NULL")
            elif op == "not_null":
                clauses.append(f"{q(column)} IS NOT NULL")
            elif op == "in":
                values = list(value)
                clauses.append(f"{q(column)} IN ({', '.join('?' * len(values))})")
                params += values
            elif op == "search":
                # Case-insensitive substring, as Appwrite's `contains` on a _ci collated column.
                clauses.append(f"instr(lower({q(column)}), lower(?)) > 0")
                params.append(str(value))
            elif op in ("=", "!="):
                clauses.append(f"{q(column)} {_COMPARE[op]} ?")
                params.append(value)
            else:
                clauses.append(f"{q(column)} {_COMPARE[op]} ?")
                params.append(value)
        return clauses, params


def _with_tiebreak(order: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    order = list(order)
    if not any(c == "$id" for c, _ in order):
        order.append(("$id", "asc"))
    return order


def _after(order: list[tuple[str, str]], cursor: dict) -> tuple[str, list]:
    """Keyset pagination: rows strictly after the cursor row in `order` (NULLs sort first in
    ascending order, as in SQLite and MariaDB)."""
    alternatives, params = [], []
    for i, (column, direction) in enumerate(order):
        parts, values = [], []
        for prev, _ in order[:i]:
            parts.append(f"{q(prev)} IS ?")
            values.append(cursor[prev])
        value = cursor[column]
        if value is None:
            if direction == "desc":
                continue  # nothing sorts after NULL going down
            parts.append(f"{q(column)} IS NOT NULL")
        elif direction == "asc":
            parts.append(f"{q(column)} > ?")
            values.append(value)
        else:
            parts.append(f"({q(column)} < ? OR {q(column)} IS NULL)")
            values.append(value)
        alternatives.append("(" + " AND ".join(parts) + ")")
        params += values
    return "(" + " OR ".join(alternatives or ["0"]) + ")", params
