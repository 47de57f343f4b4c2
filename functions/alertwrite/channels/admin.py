"""Channel and notification operations, written once for the CLI, the API and serve.

Every function takes a RowStore. Errors are ChannelError with a message fit for a user.
Nothing here returns a URL or secret in full: callers show `Channel.redacted()`.
"""
from __future__ import annotations

from datetime import datetime

from ..timeutil import format_ms, utcnow
from . import delivery, templates
from .filters import Filter, FilterError
from .model import ATTEMPTS_TABLE, CHANNELS_TABLE, NOTIFICATIONS_TABLE, Channel, ChannelError, Event

HEALTH_STATES = (delivery.SENT, delivery.PENDING, delivery.RETRYING, delivery.DEAD)


def _check(channel: Channel) -> Channel:
    if channel.templates:
        try:
            templates.validate(channel.templates, f"{channel.name}.templates")
        except templates.TemplateProblem as exc:
            raise ChannelError(str(exc)) from None
    return channel


def get(rows, name: str) -> Channel:
    row = rows.get(CHANNELS_TABLE, name)
    if row is None:
        raise ChannelError(f"no channel {name!r} (alertwrite channels list shows them)")
    return Channel.from_row(row)


def add(rows, channel: Channel, schema=None) -> Channel:
    _check(channel)
    if schema is not None:
        from .outbox import seed
        seed(rows, schema)
    if not rows.create(CHANNELS_TABLE, [channel.to_row()]):
        raise ChannelError(f"channel {channel.name!r} exists already (use channels update)")
    return channel


def update(rows, name: str, changes: dict) -> Channel:
    """`changes` holds Channel fields; filter keys (severities, match, ...) merge into the filter."""
    current = get(rows, name)
    filter_keys = {"severities", "alertnames", "categories", "tenants", "tenant_label", "match", "match_re",
                   "send_resolved"}
    flt = current.filter.to_dict()
    flt.update({k: v for k, v in changes.items() if k in filter_keys})
    try:
        new_filter = Filter.from_dict({k: v for k, v in flt.items() if v not in (None, [], {})
                                       or k == "send_resolved"})
    except FilterError as exc:
        raise ChannelError(f"{name}: {exc}") from None
    rest = {k: v for k, v in changes.items() if k not in filter_keys}
    updated = _check(current.evolve(filter=new_filter, **rest))
    row = updated.to_row()
    row.pop("$id")
    if updated.enabled:
        row["disabledReason"] = None
    rows.update(CHANNELS_TABLE, name, row)
    return updated


def remove(rows, name: str) -> None:
    get(rows, name)
    rows.delete(CHANNELS_TABLE, name)


def set_enabled(rows, name: str, enabled: bool) -> Channel:
    get(rows, name)
    rows.update(CHANNELS_TABLE, name, {"enabled": enabled, "disabledReason": None if enabled else "disabled by hand"})
    return get(rows, name)


def health(rows, channel: Channel) -> dict:
    counts = {s: rows.count(NOTIFICATIONS_TABLE, [("channel", "=", channel.name), ("status", "=", s)])
              for s in HEALTH_STATES}
    failures = rows.count(ATTEMPTS_TABLE, [("channel", "=", channel.name), ("outcome", "in", ["retry", "dead", "gone"])])
    return {**channel.redacted(), "counts": counts, "successes": counts[delivery.SENT], "failures": failures,
            "dead": counts[delivery.DEAD]}


def list_channels(rows) -> list[Channel]:
    return sorted((Channel.from_row(r) for r in rows.find_all(CHANNELS_TABLE)), key=lambda c: c.name)


def notifications(rows, status: str | None = None, channel: str | None = None, limit: int = 100) -> list[dict]:
    where = []
    if status:
        if status not in delivery.STATES:
            raise ChannelError(f"status must be one of {', '.join(delivery.STATES)}")
        where.append(("status", "=", status))
    if channel:
        where.append(("channel", "=", channel))
    found = rows.find(NOTIFICATIONS_TABLE, where, order=[("$createdAt", "desc")], limit=limit)
    return [{k: r.get(k) for k in ("$id", "$createdAt", "channel", "status", "kind", "title", "attempts",
                                   "nextAttemptAt", "lastStatus", "lastError", "sentAt", "coalescedInto")}
            for r in found]


def attempts(rows, notification_id: str) -> list[dict]:
    return list(rows.find_all(ATTEMPTS_TABLE, [("notification", "=", notification_id)], order=[("attempt", "asc")]))


def retry(rows, ids: list[str] | None = None, dead: bool = False, now: datetime | None = None) -> list[str]:
    """Put notifications back in the queue with fresh attempt and age budgets."""
    now = now or utcnow()
    if dead:
        chosen = list(rows.find_all(NOTIFICATIONS_TABLE, [("status", "=", delivery.DEAD)]))
    else:
        chosen = []
        for nid in ids or []:
            row = rows.get(NOTIFICATIONS_TABLE, nid)
            if row is None:
                raise ChannelError(f"no notification {nid!r}")
            chosen.append(row)
    done = []
    for row in chosen:
        if row["status"] == delivery.SENT:
            raise ChannelError(f"notification {row['$id']} was sent already")
        rows.update(NOTIFICATIONS_TABLE, row["$id"], {
            "status": delivery.PENDING, "nextAttemptAt": format_ms(now), "retriedAt": format_ms(now),
            "attemptsBase": int(row.get("attempts") or 0)})
        done.append(row["$id"])
    return done


def test_event(channel: str, now: datetime) -> Event:
    stamp = format_ms(now)
    return Event("test", title=f"[TEST] Alertwrite test message for channel {channel}",
                 text=f"This is a test message sent by `alertwrite channels test` at {stamp}. No alert is firing.")
