"""Helpers shared by the tests: captured deliveries, seeded fakes, requests to a function."""
from __future__ import annotations

import json
from pathlib import Path

from alertwrite.schema import Schema
from provision.runtime import Request, execution_headers

FIXTURES = Path(__file__).parent / "fixtures"
CAPTURES = FIXTURES / "alertmanager"
TOKEN = "test-token-0123456789abcdef"  # the token the captures were sent with


def capture(prefix: str) -> dict:
    """A captured Alertmanager request by its number, e.g. capture("0004")."""
    (path,) = CAPTURES.glob(prefix + "_*.json")
    return json.loads(path.read_text("utf-8"))


def reconstructed(name: str) -> dict:
    """A delivery rebuilt from the capture notes where the capture itself was not kept."""
    return json.loads((FIXTURES / "reconstructed" / f"{name}.json").read_text("utf-8"))


UNICODE_HTML_LONG = "case06-unicode-html-long"


def all_captures() -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(CAPTURES.glob("*.json"))]


def body_of(prefix: str) -> bytes:
    return capture(prefix)["body_raw"].encode("utf-8")


def webhook_request(body: bytes, token: str | None = TOKEN, key: str = "test-api-key", path: str = "/",
                    extra: dict | None = None) -> Request:
    headers = {"Host": "fn.example:443", "User-Agent": "Alertmanager/0.25.0", "Content-Type": "application/json",
               **execution_headers(key=key)}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(extra or {})
    return Request("POST", path, "", headers, body)


def seed_schema(fake, schema: Schema) -> None:
    """Put the schema's database, tables, columns and indexes into the fake, all available."""
    from appwrite_fake.core import now_iso

    t = now_iso()
    fake.db.databases[schema.database_id] = {"$id": schema.database_id, "name": schema.database_name,
                                             "$createdAt": t, "$updatedAt": t, "enabled": True, "type": "tablesdb"}
    for table in schema.tables:
        columns = []
        for c in table.columns:
            col = {"key": c.key, "type": c.type, "status": "available", "error": "", "required": c.required,
                   "array": c.array, "$createdAt": t, "$updatedAt": t, "default": c.default}
            if c.type == "string":
                col["size"] = c.size
                if c.format:
                    col["format"] = c.format
                if c.elements:
                    col["elements"] = list(c.elements)
            if c.type in ("integer", "double"):
                col["min"], col["max"] = c.min, c.max
            if c.type == "datetime":
                col["format"] = ""
            columns.append(col)
        indexes = [{"$id": i.key, "$createdAt": t, "$updatedAt": t, "key": i.key, "type": i.type,
                    "status": "available", "error": "", "columns": list(i.columns), "lengths": [],
                    "orders": list(i.orders)} for i in table.indexes]
        fake.db.tables[(schema.database_id, table.id)] = {
            "$id": table.id, "$createdAt": t, "$updatedAt": t, "$permissions": list(table.permissions),
            "databaseId": schema.database_id, "name": table.name, "enabled": True,
            "rowSecurity": table.row_security, "columns": columns, "indexes": indexes,
            "bytesMax": 65535, "bytesUsed": 0}
        fake.db.rows[(schema.database_id, table.id)] = {}
    for topic in schema.topics:
        fake.messaging.topics[topic.id] = {"$id": topic.id, "$createdAt": t, "$updatedAt": t, "name": topic.name,
                                           "emailTotal": 0, "smsTotal": 0, "pushTotal": 0,
                                           "subscribe": list(topic.subscribe)}
        fake.messaging.subscribers[topic.id] = {}


def run_dispatcher(dispatcher, key: str = ""):
    """One scheduled run of alert-dispatcher, as Appwrite's cron runs it: sends what is due."""
    from provision.runtime import invoke

    return invoke(dispatcher, Request("POST", "/", "", execution_headers(trigger="schedule", key=key), b""))
