"""Alerts in an Appwrite TablesDB table; notifications through Appwrite Messaging.

Calls per delivery do not grow with alert count beyond batching: reads are `equal` queries
of up to ~200 fingerprints (the 4096-character query cap hits before the 500-value cap),
writes are bulk creates of at most 100 rows (APP_LIMIT_DATABASE_BATCH) and partial updates,
one bulk update per set of identical changes (writes.py says why never a full-row upsert).
"""
from __future__ import annotations

import json

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.messaging import Messaging
from appwrite.services.tables_db import TablesDB

from ..errors import Fault, classify, describe, to_store_error
from ..notify import OutboundMessage
from ..records import ALERTS_TABLE, AlertRecord, fit_row
from ..schema import Schema
from ..timeutil import format_ms
from . import transport

MAX_QUERY_CHARS = 4096  # APP_LIMIT_ARRAY_ELEMENT_SIZE
MAX_QUERY_VALUES = 500  # APP_DATABASE_QUERY_MAX_VALUES
MAX_BATCH_ROWS = 100  # APP_LIMIT_DATABASE_BATCH


def make_client(endpoint: str, project_id: str, key: str, timeout: float) -> Client:
    transport.install(timeout)
    return Client().set_endpoint(endpoint).set_project(project_id).set_key(key)


def equal_chunks(attribute: str, values: list[str], max_values: int = MAX_QUERY_VALUES) -> list[list[str]]:
    """Split values so each `equal` query stays under the character and value caps."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for value in values:
        trial = current + [value]
        if current and (len(Query.equal(attribute, trial)) > MAX_QUERY_CHARS or len(trial) > max_values):
            chunks.append(current)
            trial = [value]
        current = trial
    if current:
        chunks.append(current)
    return chunks


class AppwriteStore:
    def __init__(self, client: Client, schema: Schema):
        self.tables = TablesDB(client)
        self.schema = schema
        self.database_id = schema.database_id

    def fetch_alerts(self, fingerprints: list[str]) -> dict[str, AlertRecord]:
        found: dict[str, AlertRecord] = {}
        for chunk in equal_chunks("fingerprint", sorted(set(fingerprints))):
            try:
                result = self.tables.list_rows(self.database_id, ALERTS_TABLE,
                                               queries=[Query.equal("fingerprint", chunk), Query.limit(len(chunk))],
                                               total=False)
            except AppwriteException as exc:
                raise to_store_error(exc) from None
            for row in result.rows:
                record = AlertRecord.from_row(row.data)
                found[record.fingerprint] = record
        return found

    def stale_firing(self, before, limit: int) -> list[AlertRecord]:
        """Firing alerts last seen before `before`, oldest first, paged by cursor."""
        found: list[AlertRecord] = []
        cursor = None
        while len(found) < limit:
            queries = [Query.equal("status", "firing"), Query.less_than("lastSeenAt", format_ms(before)),
                       Query.order_asc("lastSeenAt"), Query.limit(min(MAX_BATCH_ROWS, limit - len(found)))]
            if cursor:
                queries.append(Query.cursor_after(cursor))
            try:
                page = self.tables.list_rows(self.database_id, ALERTS_TABLE, queries=queries, total=False)
            except AppwriteException as exc:
                raise to_store_error(exc) from None
            found += [AlertRecord.from_row(r.data) for r in page.rows]
            if len(page.rows) < MAX_BATCH_ROWS:
                break
            cursor = page.rows[-1].id
        return found

    def rows(self, table_id: str, ids: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for chunk in equal_chunks("$id", sorted(set(ids))):
            try:
                result = self.tables.list_rows(self.database_id, table_id,
                                               queries=[Query.equal("$id", chunk), Query.limit(len(chunk))],
                                               total=False)
            except AppwriteException as exc:
                raise to_store_error(exc) from None
            found.update({row.id: row.data for row in result.rows})
        return found

    def create(self, table_id: str, rows: list[dict]) -> list[str]:
        """Bulk creates; returns the IDs that already existed. A bulk create is atomic (one
        existing ID fails the batch: capture bulk-create-one-existing), so only a batch that
        conflicts is retried row by row."""
        table = self.schema.table(table_id)
        rows = [fit_row(r, table) for r in rows]
        conflicts: list[str] = []
        for start in range(0, len(rows), MAX_BATCH_ROWS):
            batch = rows[start:start + MAX_BATCH_ROWS]
            try:
                self.tables.create_rows(self.database_id, table_id, batch)
                continue
            except AppwriteException as exc:
                if classify(exc) is not Fault.CONFLICT:
                    raise to_store_error(exc) from None
            for row in batch:
                data = {k: v for k, v in row.items() if k != "$id"}
                try:
                    self.tables.create_row(self.database_id, table_id, row["$id"], data)
                except AppwriteException as exc:
                    if classify(exc) is not Fault.CONFLICT:
                        raise to_store_error(exc) from None
                    conflicts.append(row["$id"])
        return conflicts

    def update(self, table_id: str, changes: dict[str, dict]) -> list[str]:
        """Partial updates (PATCH keeps omitted columns); rows with identical changes share one
        bulk update by `$id`. Returns the IDs that were not there."""
        table = self.schema.table(table_id)
        missing: list[str] = []
        for data, ids in group_changes(changes, table):
            if len(ids) == 1:
                try:
                    self.tables.update_row(self.database_id, table_id, ids[0], data)
                except AppwriteException as exc:
                    if classify(exc) is not Fault.NOT_FOUND:
                        raise to_store_error(exc) from None
                    missing.append(ids[0])
                continue
            for chunk in equal_chunks("$id", ids, MAX_BATCH_ROWS):
                try:
                    result = self.tables.update_rows(self.database_id, table_id, data,
                                                     queries=[Query.equal("$id", chunk), Query.limit(len(chunk))])
                except AppwriteException as exc:
                    raise to_store_error(exc) from None
                # Bulk update answers the rows it matched (capture bulk-update-query).
                found = {row.id for row in result.rows}
                missing += [i for i in chunk if i not in found]
        return missing


def group_changes(changes: dict[str, dict], table) -> list[tuple[dict, list[str]]]:
    groups: dict[str, tuple[dict, list[str]]] = {}
    for row_id, data in changes.items():
        data = fit_row(data, table, partial=True)
        if not data:
            continue
        key = json.dumps(data, sort_keys=True, default=str)
        groups.setdefault(key, (data, []))[1].append(row_id)
    return list(groups.values())


class AppwriteMessenger:
    def __init__(self, client: Client):
        self.messaging = Messaging(client)

    def send(self, message: OutboundMessage) -> str:
        try:
            if message.medium == "email":
                self.messaging.create_email(message.id, message.subject, message.content,
                                            topics=list(message.topics), html=message.html)
            elif message.medium == "sms":
                self.messaging.create_sms(message.id, message.content, topics=list(message.topics))
            else:
                self.messaging.create_push(message.id, title=message.subject, body=message.content,
                                           topics=list(message.topics), data=message.data)
        except AppwriteException as exc:
            # A reused ID answers 409 message_already_exists: it was sent before.
            if classify(exc) is Fault.CONFLICT:
                return "duplicate"
            raise to_store_error(exc) from None
        return "sent"


def check_access(client: Client, schema: Schema) -> list[str]:
    """Before any write: one line per scope the key lacks for what the functions do (read and
    write rows, send messages), e.g. for `serve --backend appwrite` at startup. Reads only:
    a row list and a message list of one item each."""
    from ..errors import scope_line

    problems: list[str] = []
    tables = TablesDB(client)
    checks = [lambda: tables.list_rows(schema.database_id, ALERTS_TABLE, queries=[Query.limit(1)], total=False),
              lambda: Messaging(client).list_messages(queries=[Query.limit(1)], total=False)]
    for check in checks:
        try:
            check()
        except AppwriteException as exc:
            line = scope_line(exc)
            if line:
                problems.append(line)
            elif classify(exc) is not Fault.NOT_FOUND:
                problems.append(describe(exc))
    return problems
