"""Alerts declared by hand (a customer report), and acks made in the Appwrite console.

A manual alert goes through the same pipeline as a webhook delivery (stored, routed, announced,
escalated), with the label and column `source: manual`; it has no Alertmanager behind it, so it
stays firing until someone resolves it through the API.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from ..timeutil import format_ms
from ..webhook import Alert, Delivery
from .actor import Actor, OpError
from .alerts import ALERTS, ack_mark, alert_json
from .audit import entry, record
from ..stores.rows import pipeline_view

MANUAL = "manual"
CONSOLE_ACTOR_KIND = "console"


def declare(rows, schema, body: dict, actor: Actor, now: datetime) -> dict:
    alertname = body.get("alertname")
    if not isinstance(alertname, str) or not alertname.strip():
        raise OpError(400, "missing_alertname", "name the alert (alertname)")
    labels = body.get("labels") or {}
    if not isinstance(labels, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise OpError(400, "invalid_labels", "labels must map strings to strings")
    labels = {**labels, "alertname": alertname.strip(), "source": MANUAL}
    for key in ("severity", "instance"):
        if isinstance(body.get(key), str) and body[key]:
            labels[key] = body[key]
    annotations = {k: body[k] for k in ("summary", "description", "runbook_url") if isinstance(body.get(k), str) and body[k]}
    # One alert per label set, like Alertmanager's fingerprint; declaring it again while it
    # fires changes nothing, and after its resolve it opens a new episode.
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    alert = Alert(fingerprint, "firing", labels, annotations, now, None, "")
    delivery = Delivery(receiver=MANUAL, status="firing", alerts=(alert,), group_key=f"manual:{fingerprint}")
    store, messenger = pipeline_view(rows)
    from ..processor import process

    summary = process(delivery, store, messenger, schema, now)
    row = rows.update(ALERTS, fingerprint, {"source": MANUAL})
    if summary.transitions.get("firing") or summary.transitions.get("refiring"):
        record(rows, [entry(actor, "declare", "alert", fingerprint, now, after={"labels": labels},
                            comment=str(body.get("comment") or ""))])
    return alert_json(row, now)


def on_alert_update(rows, event_row: dict, now: datetime) -> str:
    """An `alerts` row update event. An operator who sets (or clears) acknowledgedBy in the
    Appwrite console has acked (or unacked): audit it and complete the ack, so escalation stops.
    Our own writes carry a matching ackMark, which ends the event loop (appwrite#3025): the write
    this handler makes matches too. The event body is not trusted: the stored row is read again."""
    row_id = event_row.get("$id") if isinstance(event_row, dict) else None
    if not isinstance(row_id, str):
        return "ignored"
    row = rows.get(ALERTS, row_id)
    if row is None:
        return "ignored"
    by, at, mark = row.get("acknowledgedBy") or "", row.get("acknowledgedAt"), row.get("ackMark") or ""
    if by and mark != ack_mark(by, at):
        stamp = at or format_ms(now)
        actor = Actor(by, "responder", CONSOLE_ACTOR_KIND)
        done = rows.update_many(ALERTS, [row_id], {"acknowledgedAt": stamp, "ackMark": ack_mark(by, stamp)},
                                where=[("acknowledgedBy", "=", by)])
        if done:
            from .alerts import mark_first_ack
            mark_first_ack(rows, done, by, stamp)
            record(rows, [entry(actor, "ack", "alert", row_id, now, before={"acknowledgedAt": at, "ackMark": mark or None},
                                after={"acknowledgedAt": stamp, "acknowledgedBy": by}, comment="set in the Appwrite console")])
        return "acknowledged"
    if not by and (at or mark):
        actor = Actor("appwrite console", "responder", CONSOLE_ACTOR_KIND)
        done = rows.update_many(ALERTS, [row_id], {"acknowledgedAt": None, "acknowledgedBy": None, "ackMark": None},
                                )
        if done:
            record(rows, [entry(actor, "unack", "alert", row_id, now, before={"acknowledgedAt": at},
                                after={"acknowledgedAt": None}, comment="cleared in the Appwrite console")])
        return "unacknowledged"
    return "unchanged"


def sweep_console_acks(rows, schema, settings, now: datetime) -> dict:
    """Scheduler job: acks and unacks an operator made by editing `acknowledgedBy` in the
    Appwrite console. A row-update event would do the same at once, but Appwrite fires one
    event per row of a bulk update (triggerBulk, ../shared reference §6), so every repeat
    delivery's lastSeenAt write would start one execution per alert; a one-minute sweep of the
    few acked rows costs two list calls."""
    seen = {"acknowledged": 0, "unacknowledged": 0}
    candidates = list(rows.find_all(ALERTS, [("acknowledgedBy", "not_null", None)]))
    candidates += rows.find_all(ALERTS, [("acknowledgedBy", "is_null", None), ("ackMark", "not_null", None)])
    for row in candidates:
        outcome = on_alert_update(rows, row, now)
        if outcome in seen:
            seen[outcome] += 1
    return {"consoleAcks": seen["acknowledged"], "consoleUnacks": seen["unacknowledged"]}
