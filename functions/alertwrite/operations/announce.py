"""Announcing operator actions ("acknowledged by alice") on the channels that got the alert.

This is the ONE function operations call to announce something; it goes through
`channels.notify` (contract §5), so each channel's filter decides, exactly as for the alert
itself, and the dispatcher delivers it with retries. Notification IDs derive from the action,
the alerts, the actor and the time, so a retried operation announces once.
"""
from __future__ import annotations

import json
from datetime import datetime

from ..channels.dispatch import notify
from ..channels.model import Event, Item
from ..timeutil import format_ms
from .actor import Actor
from .silences import labels_of

WORDS = {"ack": "ACKNOWLEDGED", "unack": "UNACKNOWLEDGED", "resolve": "RESOLVED", "unresolve": "REOPENED",
         "silence": "SILENCED", "unsilence": "UNSILENCED", "unsilenced": "STILL FIRING after its silence",
         "manual": "DECLARED"}


def announce(rows, schema, settings, action: str, alerts: list[dict], actor: Actor, now: datetime,
             comment: str = "") -> list[str]:
    """One notification per channel whose filter takes these alerts; returns the IDs created."""
    word = WORDS.get(action, action.upper())
    items = tuple(Item(kind=word.lower(), fingerprint=a.get("fingerprint") or a["$id"], labels=labels_of(a),
                       annotations=_json_map(a.get("annotations")), starts_at=a.get("startsAt") or "",
                       resolved_at=a.get("resolvedAt") or "", generator_url=a.get("generatorURL") or "",
                       key=f"{action}@{a['$id']}@{format_ms(now)}@{actor.name}") for a in alerts)
    who = "" if action == "unsilenced" else f"by {actor.name}"
    return notify(rows, schema, Event("alerts", items, title=who, text=comment and f"Comment: {comment}"), now)


def _json_map(value) -> dict:
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
