"""One delivery, start to finish: read state, decide, notify, store.

Order matters for "nothing lost, nothing sent twice":
1. read the stored rows for every fingerprint (batched);
2. decide transitions (pure);
3. record one `notifications` row per (channel, transitions) with a deterministic ID (the
   alert-dispatcher sends them; a slow chat endpoint never delays this answer);
4. write episodes, then alerts. The alerts table is the commit point: until it is written,
   a retry recomputes the very same transitions and notification IDs, so a fault at any step
   answers 503 and the replay converges without a second notification.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .channels import dispatch as channels
from .lifecycle import reconcile
from .notify import OutboundMessage
from .operations.silences import mute
from .operations.silences import stamp as stamp_silenced
from .schema import Schema
from .stores import AlertStore, Messenger
from .stores.rows import rows_view
from .webhook import Delivery


@dataclass
class Summary:
    received: int
    stored: int = 0
    transitions: dict[str, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    notifications: int = 0
    truncated_alerts: int = 0
    sent: list[OutboundMessage] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "received": self.received,
            "stored": self.stored,
            "transitions": dict(sorted(self.transitions.items())),
            "notifications": self.notifications,
            "truncatedAlerts": self.truncated_alerts,
        }


def process(delivery: Delivery, store: AlertStore, messenger: Messenger, schema: Schema,
            now: datetime) -> Summary:
    summary = Summary(received=len(delivery.alerts), truncated_alerts=delivery.truncated_alerts)
    if not delivery.alerts:
        return summary
    stored = store.fetch_alerts([a.fingerprint for a in delivery.alerts])
    plan = reconcile(delivery, stored, now)
    summary.transitions = plan.counts
    rows = rows_view(store)
    transitions, muted = mute(rows, plan.transitions, now) if rows else (plan.transitions, {})
    # --- channels: the one change to intake (replaces compose + messenger.send) ---
    summary.notifications = len(channels.record(rows, schema, transitions, delivery, now))
    summary.stored = store.save(plan.episodes, plan.alerts)
    if muted:
        stamp_silenced(rows, muted)
        summary.transitions["silenced"] = len(muted)
    return summary
