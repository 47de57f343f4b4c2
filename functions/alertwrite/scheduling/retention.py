"""Retention: delete old, finished rows in batches; nothing still open is ever touched.

ALERTWRITE_RETENTION_DAYS (default 90) applies to episodes, notifications and escalation
timelines; ALERTWRITE_AUDIT_RETENTION_DAYS (default 365) to the audit trail, which is kept
longer because it answers "who did what". 0 keeps rows for ever. At most BATCH rows per table
per run, so one run stays short and the every-minute schedule works through a backlog.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from ..timeutil import format_ms

DEFAULT_DAYS, DEFAULT_AUDIT_DAYS = 90, 365
BATCH = 100


def _days(env: dict, name: str, default: int) -> float:
    raw = env.get(name, "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number of days (0 keeps rows for ever)") from None
    if value < 0:
        raise ValueError(f"{name} must be a number of days (0 keeps rows for ever)")
    return value


def rules(env: dict, now: datetime) -> list[tuple[str, list]]:
    """(table, where) pairs selecting only finished rows older than their cut-off."""
    days, audit_days = _days(env, "ALERTWRITE_RETENTION_DAYS", DEFAULT_DAYS), \
        _days(env, "ALERTWRITE_AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_DAYS)
    out = []
    if days:
        cut = format_ms(now - timedelta(days=days))
        out += [("alert_episodes", [("status", "=", "resolved"), ("resolvedAt", "<", cut)]),
                ("notifications", [("status", "in", ["sent", "dead"]), ("$createdAt", "<", cut)]),
                ("escalations", [("status", "=", "closed"), ("closedAt", "<", cut)]),
                ("escalation_log", [("at", "<", cut)])]
    if audit_days:
        out.append(("audit_log", [("at", "<", format_ms(now - timedelta(days=audit_days)))]))
    return out


def run(rows, schema, settings, now: datetime, env: dict | None = None) -> dict:
    env = dict(os.environ) if env is None else env
    known = {t.id for t in schema.tables}
    deleted: dict[str, int] = {}
    open_escalations = None
    for table, where in rules(env, now):
        if table not in known:
            continue
        batch = rows.find(table, where, order=[("$id", "asc")], limit=BATCH)
        if table == "escalation_log":
            # A timeline is deleted only with its closed escalation, never under an open one.
            if open_escalations is None:
                open_escalations = {r["$id"] for r in rows.find_all("escalations", [("status", "=", "open")])}
            batch = [r for r in batch if r["escalation"] not in open_escalations]
        count = sum(1 for r in batch if rows.delete(table, r["$id"]))
        if count:
            deleted[table] = count
    return {"deleted": deleted}
