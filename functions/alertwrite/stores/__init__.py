"""Where alerts are kept and messages go: Appwrite in production, SQLite locally.

Both backends give the functions the same things: `fetch_alerts`, `stale_firing`, the row
operations `rows`, `create` (returns the IDs that existed) and `update` (partial; returns the IDs
that were missing), each value fitted by `records.fit_row` first, and a messenger whose `send` answers "sent" or "duplicate" (an ID already used).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Protocol

from ..notify import OutboundMessage
from ..records import AlertRecord
from ..schema import Schema
from ..settings import Settings


class AlertStore(Protocol):
    def fetch_alerts(self, fingerprints: list[str]) -> dict[str, AlertRecord]: ...
    def rows(self, table: str, ids: list[str]) -> dict[str, dict]: ...
    def create(self, table: str, rows: list[dict]) -> list[str]: ...
    def update(self, table: str, changes: dict[str, dict]) -> list[str]: ...
    def stale_firing(self, before, limit: int) -> list[AlertRecord]: ...


class Messenger(Protocol):
    def send(self, message: OutboundMessage) -> str: ...


@contextmanager
def open_backend(settings: Settings, schema: Schema) -> Iterator[tuple[AlertStore, Messenger]]:
    if settings.backend == "sqlite":
        from .sqlite import SqliteBackend

        with SqliteBackend(settings.sqlite_path, schema).unit_of_work() as pair:
            yield pair
        return
    from .appwrite import AppwriteMessenger, AppwriteStore, make_client

    client = make_client(settings.endpoint, settings.project_id, settings.api_key, settings.http_timeout)
    yield AppwriteStore(client, schema), AppwriteMessenger(client)


from .rows import RowStore, open_rows  # noqa: E402,F401  (contract §1: generic row access)
