"""Announcing operator actions ("acknowledged by alice") on the channels that got the alert.

This is the ONE function operations call to announce something; it hands an Event to
`channels.notify` (contracts §5), whose filters pick the same channels that got the alert.
Item keys derive from the action, its time, the actor and the alert, so a retried operation
announces once (the notification ID is deterministic per channel and keys).
"""
from __future__ import annotations

from datetime import datetime

from ..channels.outbox import notify
from ..channels.model import Event, Item
from ..timeutil import format_ms
from .actor import Actor
from .silences import labels_of

# What the channel renderers show for each action (render.label falls back to the upper-cased kind).
KINDS = {"ack": "acknowledged", "unack": "unacknowledged", "resolve": "resolved", "unresolve": "reopened",
         "silence": "silenced", "unsilence": "unsilenced", "unsilenced": "still firing", "manual": "declared"}


def announce(rows, schema, settings, action: str, alerts: list[dict], actor: Actor, now: datetime,
             comment: str = "") -> list[str]:
    """Record one notification per matching channel about these alerts; returns their IDs."""
    if not alerts:
        return []
    kind = KINDS.get(action, action)
    stamp = format_ms(now)
    items = tuple(Item(kind=kind, fingerprint=a["$id"], labels=labels_of(a), annotations=_annotations(a),
                       starts_at=a.get("startsAt") or "", resolved_at=a.get("resolvedAt") or "",
                       generator_url=a.get("generatorURL") or "",
                       key=f"{a['$id']}:{action}:{stamp}:{actor.name}") for a in alerts)
    who = "" if action == "unsilenced" else f"by {actor.name}"
    return notify(rows, schema, Event("alerts", items, title=who, text=f"Comment: {comment}" if comment else ""),
                  now)


def _annotations(alert: dict) -> dict[str, str]:
    import json

    try:
        parsed = json.loads(alert.get("annotations") or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
