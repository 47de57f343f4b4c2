"""Carry out a plan against Appwrite, in the order the server needs.

database -> tables -> (recreates: drop indexes, drop columns, wait until gone) -> columns ->
wait until every column is `available` -> indexes -> wait -> topics -> (--prune) deletes.
Column and index creation is asynchronous (202 + `processing`); an index needs its columns
available (else 400 column_not_available). A 409 on create means it exists: carry on and let
the wait compare. A 404 on delete means it is already gone.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable

from appwrite.exception import AppwriteException
from appwrite.query import Query

from alertwrite.errors import Fault, classify
from alertwrite.schema import Column, Schema

from .plan import DELETING, Plan, Step

COLUMN_CREATORS = {"string": "create_string_column", "integer": "create_integer_column",
                   "double": "create_float_column", "boolean": "create_boolean_column",
                   "datetime": "create_datetime_column"}


DOING = {"create": "creating", "update": "updating", "recreate": "recreating", "delete": "deleting"}
DONE = {"create": "created", "update": "updated", "recreate": "recreated", "delete": "deleted"}


class ApplyError(Exception):
    pass


@dataclass
class Applier:
    tables_db: object
    messaging: object
    schema: Schema
    progress: Callable[[str], None]
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 300.0
    poll: float = 1.0

    def apply(self, plan: Plan, prune: bool = False) -> list[str]:
        done: list[str] = []
        steps = plan.steps
        db = self.schema.database_id

        def run(step: Step, call: Callable[[], object], tolerate: Fault) -> None:
            self.progress(f"{DOING[step.action]} {step.kind} {step.target}")
            try:
                call()
            except AppwriteException as exc:
                if classify(exc) is not tolerate:
                    raise
            done.append(f"{DONE[step.action]} {step.kind} {step.target}")

        for step in _select(steps, "database"):
            run(step, (lambda: self.tables_db.create(db, self.schema.database_name)) if step.action == "create"
                else (lambda: self.tables_db.update(db, self.schema.database_name)), Fault.CONFLICT)
        for step in _select(steps, "table"):
            table = self.schema.table(step.target)
            args = dict(permissions=list(table.permissions), row_security=table.row_security, enabled=table.enabled)
            if step.action == "create":
                run(step, lambda: self.tables_db.create_table(db, table.id, table.name, **args), Fault.CONFLICT)
            else:
                run(step, lambda: self.tables_db.update_table(db, table.id, table.name, **args), Fault.NOT_FOUND)

        deletions = [s for s in (plan.unmanaged if prune else []) if s.kind in ("index", "column")]
        recreates = [s for s in steps if s.action == "recreate"]
        for step in [s for s in recreates + deletions if s.kind == "index" and s.detail != DELETING]:
            run(Step("delete", "index", step.target), lambda s=step: self.tables_db.delete_index(db, s.table, s.name),
                Fault.NOT_FOUND)
        for step in [s for s in recreates + deletions if s.kind == "column" and s.detail != DELETING]:
            run(Step("delete", "column", step.target), lambda s=step: self.tables_db.delete_column(db, s.table, s.name),
                Fault.NOT_FOUND)
        for table_id in sorted({s.table for s in recreates + deletions if s.kind == "index"}):
            self._wait(table_id, "indexes", {s.name for s in recreates + deletions
                                             if s.kind == "index" and s.table == table_id}, until="gone")
        for table_id in sorted({s.table for s in recreates + deletions if s.kind == "column"}):
            gone = {s.name for s in recreates + deletions if s.kind == "column" and s.table == table_id}
            self._wait(table_id, "columns", gone, until="gone")

        for step in [s for s in steps if s.kind == "column" and s.action in ("create", "recreate")]:
            column = self.schema.table(step.table).column(step.name)
            run(Step("create", "column", step.target), lambda c=column, s=step: self._create_column(s.table, c),
                Fault.CONFLICT)
        for step in [s for s in steps if s.kind == "column" and s.action == "update"]:
            column = self.schema.table(step.table).column(step.name)
            run(step, lambda c=column, s=step: self._update_column(s.table, c), Fault.NOT_FOUND)
        for table in self.schema.tables:
            touched = [s for s in steps if s.kind == "column" and s.table == table.id]
            if touched:
                self._wait(table.id, "columns", {c.key for c in table.columns})

        for step in [s for s in steps if s.kind == "index" and s.action in ("create", "recreate")]:
            index = next(i for i in self.schema.table(step.table).indexes if i.key == step.name)
            run(Step("create", "index", step.target), lambda i=index, s=step: self.tables_db.create_index(
                db, s.table, i.key, i.type, list(i.columns), list(i.orders) or None), Fault.CONFLICT)
        for table in self.schema.tables:
            if any(s.kind == "index" and s.table == table.id for s in steps):
                self._wait(table.id, "indexes", {i.key for i in table.indexes})

        for step in _select(steps, "topic"):
            topic = next(t for t in self.schema.topics if t.id == step.target)
            if step.action == "create":
                run(step, lambda: self.messaging.create_topic(topic.id, topic.name, list(topic.subscribe)), Fault.CONFLICT)
            else:
                run(step, lambda: self.messaging.update_topic(topic.id, topic.name, list(topic.subscribe)), Fault.NOT_FOUND)
        channel_steps = _select(steps, "channel") + ([s for s in plan.unmanaged if s.kind == "channel"] if prune else [])
        if channel_steps:
            done += self._sync_channels(channel_steps)
        if prune:
            for step in [s for s in plan.unmanaged if s.kind == "table"]:
                run(step, lambda s=step: self.tables_db.delete_table(db, s.target), Fault.NOT_FOUND)
            for step in [s for s in plan.unmanaged if s.kind == "topic"]:
                run(step, lambda s=step: self.messaging.delete_topic(s.target), Fault.NOT_FOUND)
        return done

    def _sync_channels(self, steps: list[Step]) -> list[str]:
        from alertwrite.channels.sync import ChannelStep, apply_steps
        from alertwrite.stores.appwrite_rows import AppwriteRows

        rows = AppwriteRows(self.tables_db.client, self.schema)
        return apply_steps(rows, self.schema, [ChannelStep(s.action, s.target) for s in steps], self.progress)

    def _create_column(self, table_id: str, col: Column) -> None:
        db = self.schema.database_id
        method = getattr(self.tables_db, COLUMN_CREATORS[col.type])
        if col.format == "enum":
            self.tables_db.create_enum_column(db, table_id, col.key, list(col.elements), col.required,
                                              default=col.default, array=col.array or None)
        elif col.format:  # email, url, ip: strings the server validates; they take no size
            getattr(self.tables_db, f"create_{col.format}_column")(db, table_id, col.key, col.required,
                                                                    default=col.default, array=col.array or None)
        elif col.type == "string":
            # Deprecated since 1.9 in favour of varchar/text, but the only string column that
            # 1.8 and CLI 12's appwrite.json know; silence the per-call DeprecationWarning.
            # The SDK's decorator forces simplefilter("always") inside the call, so an "ignore"
            # filter loses; recording the warnings swallows them.
            with warnings.catch_warnings(record=True):
                method(db, table_id, col.key, col.size, col.required, default=col.default, array=col.array or None,
                       encrypt=col.encrypt or None)
        elif col.type in ("integer", "double"):
            method(db, table_id, col.key, col.required, min=col.min, max=col.max, default=col.default,
                   array=col.array or None)
        else:
            method(db, table_id, col.key, col.required, default=col.default, array=col.array or None)

    def _update_column(self, table_id: str, col: Column) -> None:
        db = self.schema.database_id
        name = COLUMN_CREATORS[col.type].replace("create_", "update_")
        with warnings.catch_warnings(record=True):
            if col.type in ("integer", "double"):
                getattr(self.tables_db, name)(db, table_id, col.key, col.required, col.default, min=col.min, max=col.max)
            else:
                getattr(self.tables_db, name)(db, table_id, col.key, col.required, col.default)

    def _wait(self, table_id: str, what: str, keys: set[str], until: str = "available") -> None:
        """Poll the list endpoint (a deleted item has nothing to GET) until every key is there."""
        started = time.monotonic()
        lister = self.tables_db.list_columns if what == "columns" else self.tables_db.list_indexes
        while True:
            items = getattr(lister(self.schema.database_id, table_id, queries=[Query.limit(5000)]), what)
            status = {}
            for item in items:
                data = item.to_dict()
                value = data.get("status")
                status[data["key"]] = value.value if hasattr(value, "value") else str(value)
            if until == "gone":
                left = sorted(k for k in keys if k in status)
                if not left:
                    return
                if any(status[k] == "stuck" for k in left):
                    raise ApplyError(f"deleting {what} {table_id}.{left[0]} is stuck; delete it in the console and re-run")
            else:
                broken = sorted(k for k in keys if status.get(k) in ("failed", "stuck"))
                if broken:
                    errors = {d.to_dict()["key"]: d.to_dict().get("error") for d in items}
                    raise ApplyError(f"{what[:-1]} {table_id}.{broken[0]} is {status[broken[0]]}"
                                     + (f": {errors.get(broken[0])}" if errors.get(broken[0]) else "")
                                     + "; fix the schema or re-run with --allow-recreate")
                left = sorted(k for k in keys if status.get(k) != "available")
                if not left:
                    return
            elapsed = time.monotonic() - started
            if elapsed > self.timeout:
                raise ApplyError(f"{what} of {table_id} still not {until} after {self.timeout:.0f}s "
                                 f"({', '.join(left[:5])}); the Appwrite worker may be stuck, re-run apply later")
            self.progress(f"waiting for {what} of {table_id}: {len(keys) - len(left)}/{len(keys)} {until} "
                          f"({elapsed:.0f}s)")
            self.sleep(self.poll)


def _select(steps: list[Step], kind: str) -> list[Step]:
    return [s for s in steps if s.kind == kind]
