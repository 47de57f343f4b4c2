"""The audit trail: one immutable `audit_log` row per change, by whoever made it.

Row IDs are derived from what happened (action, target, time, actor), so an operation retried
after a fault writes its audit row once. Nothing in the API updates or deletes these rows.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from ..timeutil import format_ms
from .actor import Actor

AUDIT_TABLE = "audit_log"


def entry(actor: Actor, action: str, target_type: str, target: str, now: datetime, before: dict | None = None,
          after: dict | None = None, comment: str = "") -> dict:
    at = format_ms(now)
    digest = hashlib.sha256(f"{action}\n{target_type}\n{target}\n{at}\n{actor.kind}\n{actor.name}".encode()).hexdigest()
    return {"$id": "a" + digest[:35], "at": at, "actor": actor.name, "actorKind": actor.kind, "action": action,
            "targetType": target_type, "target": target,
            "before": json.dumps(before, sort_keys=True, ensure_ascii=False) if before is not None else None,
            "after": json.dumps(after, sort_keys=True, ensure_ascii=False) if after is not None else None,
            "comment": comment or None}


def record(rows, entries: list[dict]) -> None:
    if entries:
        rows.create(AUDIT_TABLE, entries)


def audit_json(row: dict) -> dict:
    return {"id": row["$id"], "at": row["at"], "actor": row["actor"], "actorKind": row["actorKind"],
            "action": row["action"], "targetType": row["targetType"], "target": row["target"],
            "before": _load(row.get("before")), "after": _load(row.get("after")), "comment": row.get("comment") or ""}


def _load(text):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:  # cut to the column size
        return None


def find(rows, fingerprint: str = "", actor: str = "", since: str = "", limit: int = 100,
         after: str | None = None) -> list[dict]:
    where = []
    if fingerprint:
        where.append(("target", "=", fingerprint))
    if actor:
        where.append(("actor", "=", actor))
    if since:
        where.append(("at", ">=", since))
    return [audit_json(r) for r in rows.find(AUDIT_TABLE, where, [("at", "desc")], limit, after)]
