"""One delivery, start to finish: read state, decide, notify, store.

Order matters for "nothing lost, nothing sent twice":
1. read the stored rows for every fingerprint (batched);
2. decide transitions (pure);
3. send messages with deterministic IDs: a 409 means an earlier try already sent it;
4. write episodes, then alerts. The alerts table is the commit point: until it is written,
   a retry recomputes the very same transitions and message IDs, so a fault at any step
   answers 503 and the replay converges without a second message.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .lifecycle import reconcile
from .operations.silences import mute
from .operations.silences import stamp as stamp_silenced
from .notify import OutboundMessage, compose
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
    truncated_alerts: int = 0
    sent: list[OutboundMessage] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "received": self.received,
            "stored": self.stored,
            "transitions": dict(sorted(self.transitions.items())),
            "messages": dict(sorted(self.messages.items())),
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
    for message in compose(transitions, schema.rules, delivery):
        outcome = messenger.send(message)
        summary.messages[outcome] = summary.messages.get(outcome, 0) + 1
        if outcome == "sent":
            summary.sent.append(message)
    summary.stored = store.save(plan.episodes, plan.alerts)
    if muted:
        stamp_silenced(rows, muted)
        summary.transitions["silenced"] = len(muted)
    return summary
