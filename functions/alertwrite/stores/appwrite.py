"""Alerts in an Appwrite TablesDB table; notifications through Appwrite Messaging.

Calls per delivery do not grow with alert count beyond batching: reads are `equal` queries
of up to ~200 fingerprints (the 4096-character query cap hits before the 500-value cap),
writes are bulk upserts of at most 100 rows (APP_LIMIT_DATABASE_BATCH).
"""
from __future__ import annotations

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.messaging import Messaging
from appwrite.services.tables_db import TablesDB

from ..errors import Fault, classify, to_store_error
from ..notify import OutboundMessage
from ..records import ALERTS_TABLE, EPISODES_TABLE, AlertRecord, EpisodeRecord
from ..schema import Schema
from ..timeutil import format_ms
from . import transport

MAX_QUERY_CHARS = 4096  # APP_LIMIT_ARRAY_ELEMENT_SIZE
MAX_QUERY_VALUES = 500  # APP_DATABASE_QUERY_MAX_VALUES
MAX_BATCH_ROWS = 100  # APP_LIMIT_DATABASE_BATCH


def make_client(endpoint: str, project_id: str, key: str, timeout: float) -> Client:
    transport.install(timeout)
    return Client().set_endpoint(endpoint).set_project(project_id).set_key(key)


def equal_chunks(attribute: str, values: list[str]) -> list[list[str]]:
    """Split values so each `equal` query stays under the character and value caps."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for value in values:
        trial = current + [value]
        if current and (len(Query.equal(attribute, trial)) > MAX_QUERY_CHARS or len(trial) > MAX_QUERY_VALUES):
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

    def save(self, episodes: list[EpisodeRecord], alerts: list[AlertRecord]) -> int:
        """Episodes first, alerts last: the alerts table is the commit point, so a failure
        in between replays to the same episode rows."""
        episode_table = self.schema.table(EPISODES_TABLE)
        alert_table = self.schema.table(ALERTS_TABLE)
        self._upsert(EPISODES_TABLE, [{"$id": e.row_id, **e.to_row(episode_table)} for e in episodes])
        self._upsert(ALERTS_TABLE, [{"$id": a.fingerprint, **a.to_row(alert_table)} for a in alerts])
        return len(alerts)

    def _upsert(self, table_id: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), MAX_BATCH_ROWS):
            try:
                self.tables.upsert_rows(self.database_id, table_id, rows[start:start + MAX_BATCH_ROWS])
            except AppwriteException as exc:
                raise to_store_error(exc) from None


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
