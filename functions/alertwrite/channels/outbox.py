"""Who gets what: the one entry point to announce something, and the rows it writes.

`plan_notifications` (pure) turns transitions into one `notifications` row per (channel,
transitions) with a deterministic ID, so a re-delivery or a concurrent duplicate creates
nothing new (RowStore.create skips an existing ID). `record` writes them inside the
delivery's commit; `notify` is the same for every other capability. The dispatcher
(dispatch.py) sends them.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import datetime
from typing import Iterable

from ..lifecycle import Transition
from ..timeutil import format_ms, utcnow
from . import delivery, render
from .model import CHANNELS_TABLE, NOTIFICATIONS_TABLE, Channel, ChannelError, Event, Item, declared_channels

log = logging.getLogger("alertwrite.channels")
# Items per notification row: keeps its payload (~0.6 KB an item) well inside the column.
MAX_ITEMS = 500


def notification_id(channel: str, keys: Iterable[str]) -> str:
    """32 hex characters, so `<id>.<attempt>` stays within Appwrite's 36-character IDs."""
    joined = "\n".join(sorted(keys))
    return hashlib.sha256(f"{channel}\n{joined}".encode()).hexdigest()[:32]


def item_of(t: Transition) -> Item:
    return Item(kind=t.kind, fingerprint=t.alert.fingerprint, labels=dict(t.alert.labels),
                annotations=dict(t.alert.annotations), starts_at=format_ms(t.record.starts_at) or "",
                ends_at=format_ms(t.record.ends_at) or "", resolved_at=format_ms(t.record.resolved_at) or "",
                generator_url=t.alert.generator_url, key=t.key)


def event_of(transitions: list[Transition], delivery=None) -> Event:
    return Event("alerts", tuple(item_of(t) for t in transitions),
                 external_url=getattr(delivery, "external_url", "") or "",
                 group_key=getattr(delivery, "group_key", "") or "", receiver=getattr(delivery, "receiver", "") or "")


def _row(channel: str, event: Event, now: datetime, shared: dict | None = None) -> dict:
    keys = [i.key or f"{i.fingerprint}:{i.kind}" for i in event.items] or [event.title, event.text, event.kind]
    # Channels that accept the same items carry the same title and payload: render them once.
    # (Items hold dicts, so not hashable; within one plan they are the same objects.)
    same = (event.kind, event.title, event.text, tuple(map(id, event.items)))
    common = shared.get(same) if shared is not None else None
    if common is None:
        common = (render.fit(render.headline(event), 255), json.dumps(sorted(keys)), event.to_json())
        if shared is not None:
            shared[same] = common
    title, transitions, payload = common
    return {"$id": notification_id(channel, keys), "channel": channel, "status": delivery.PENDING,
            "kind": event.kind, "title": title, "transitions": transitions, "payload": payload, "attempts": 0,
            # due at once, even when a job runs "as if at" a later time (alertwrite run --at)
            "nextAttemptAt": format_ms(min(now, utcnow()))}


def plan_notifications(event: Event, channels: list[Channel], now: datetime,
                       only: Iterable[str] | None = None) -> list[dict]:
    """One row per channel that accepts something; pagerduty gets one row per item.
    `only` names channels to address directly (a test, an escalation step): no filter."""
    chosen = set(only) if only is not None else None
    rows, shared = [], {}
    for channel in channels:
        if not channel.enabled or (chosen is not None and channel.name not in chosen):
            continue
        if chosen is not None or not event.items:
            items = event.items
        else:
            items = tuple(i for i in event.items if channel.filter.accepts(i.kind, i.labels))
            if not items:
                continue
        part = Event(event.kind, items, event.title, event.text, event.external_url, event.group_key,
                     event.receiver)
        size = 1 if channel.type == "pagerduty" else MAX_ITEMS
        for start in range(0, max(len(items), 1), size):
            rows.append(_row(channel.name, replace(part, items=items[start:start + size]), now, shared))
    return rows


def seed(rows, schema, found: list[dict] | None = None) -> list[dict]:
    """A channels table that was never filled gets the declared channels first, so a fresh
    SQLite file, or an Appwrite project before `apply`, routes as schemas/ says. Every
    channel operation calls it, so adding a channel first does not hide the declared ones."""
    found = list(rows.find_all(CHANNELS_TABLE)) if found is None else found
    if not found:
        declared = declared_channels(schema.section("channels"))
        if declared:
            rows.create(CHANNELS_TABLE, [c.to_row() for c in declared])
            found = list(rows.find_all(CHANNELS_TABLE))
    return found


def load_channels(rows, schema) -> list[Channel]:
    """Every channel row, parsed; a row that does not parse is logged and skipped."""
    return [c for c in (channel_of(row) for row in seed(rows, schema)) if c is not None]


# Health columns change on every send; the rest is what a channel is. The rows are read every
# time (a runtime edit counts on the next delivery), but parsing a row (its filter, templates,
# checks) cost more than the rest of a single-alert delivery: parse each configuration once.
_HEALTH = ("nextSendAt", "lastSuccessAt", "lastErrorAt", "lastError")
_parsed: dict[tuple, Channel] = {}


def channel_of(row: dict) -> Channel | None:
    key = tuple(sorted((k, repr(v)) for k, v in row.items() if k not in _HEALTH and not k.startswith("$")))
    key += (row.get("$id"),)
    parsed = _parsed.get(key)
    if parsed is None:
        try:
            parsed = Channel.from_row(row)
        except ChannelError as exc:  # not kept: logged on every delivery until the row is fixed
            log.error("skipping channel row %s: %s", row.get("$id"), exc)
            return None
        if len(_parsed) >= 1024:
            _parsed.clear()
        _parsed[key] = parsed
    return parsed.with_health(row)


def record(rows, schema, transitions: list[Transition], delivery_, now: datetime) -> list[str]:
    """The processor's one call, inside the delivery's commit: the notification rows."""
    if not transitions:
        return []
    event = event_of(transitions, delivery_)
    planned = plan_notifications(event, load_channels(rows, schema), now)
    return rows.create(NOTIFICATIONS_TABLE, planned) if planned else []


def notify(rows, schema, what, now: datetime | None = None, channels: Iterable[str] | None = None,
           delivery_=None) -> list[str]:
    """THE entry point to announce something: transitions (list[Transition]) or an Event.
    Channels are chosen by their filters, or named in `channels`. Returns the IDs created;
    the dispatcher sends them."""
    now = now or utcnow()
    event = what if isinstance(what, Event) else event_of(list(what), delivery_)
    planned = plan_notifications(event, load_channels(rows, schema), now, only=channels)
    return rows.create(NOTIFICATIONS_TABLE, planned) if planned else []
