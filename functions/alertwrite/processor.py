"""One delivery, start to finish: read state, decide, claim, notify, store.

Order matters for "nothing lost, nothing sent twice", also with executions running at once:
1. read the stored rows for every fingerprint (batched);
2. decide transitions (pure, lifecycle.py);
3. claim each transition (a deterministic row ID: a concurrent execution that decided the same
   transition gets 409 and announces nothing of it; a retry of this delivery keeps its claim);
4. record one `notifications` row per (channel, claimed transitions) with a deterministic ID
   (the alert-dispatcher sends them; a slow chat endpoint never delays this answer);
5. write episodes, then alerts, each carrying only changed columns. The alerts table is the
   commit point: until it is written, a retry recomputes the same transitions and notification
   IDs. A write that finds the row changed under it (a concurrent create) decides those alerts
   again from what is stored now, at most MAX_ROUNDS times.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from .channels import outbox as channels
from .lifecycle import reconcile
from .operations.silences import mute
from .operations.silences import stamp as stamp_silenced
from .schema import Schema
from .stores import AlertStore, Messenger
from .stores.rows import rows_view
from .webhook import Delivery
from .writes import claim, write_alerts, write_episodes

MAX_ROUNDS = 3


@dataclass
class Summary:
    received: int
    stored: int = 0
    transitions: dict[str, int] = field(default_factory=dict)
    notifications: int = 0
    notification_ids: list[str] = field(default_factory=list)
    truncated_alerts: int = 0
    claimed_elsewhere: int = 0

    def to_dict(self) -> dict:
        out = {
            "received": self.received,
            "stored": self.stored,
            "transitions": dict(sorted(self.transitions.items())),
            "notifications": self.notifications,
            "truncatedAlerts": self.truncated_alerts,
        }
        if self.claimed_elsewhere:
            out["claimedElsewhere"] = self.claimed_elsewhere
        return out


def process(delivery: Delivery, store: AlertStore, messenger: Messenger, schema: Schema,
            now: datetime) -> Summary:
    summary = Summary(received=len(delivery.alerts), truncated_alerts=delivery.truncated_alerts)
    owner = delivery.digest
    pending = delivery
    rows = rows_view(store)
    for _ in range(MAX_ROUNDS):
        if not pending.alerts:
            break
        stored = store.fetch_alerts([a.fingerprint for a in pending.alerts])
        plan = reconcile(pending, stored, now)
        for kind, n in plan.counts.items():
            summary.transitions[kind] = summary.transitions.get(kind, 0) + n
        won = claim(store, schema, plan.transitions, owner)
        announce = [t for t in plan.transitions if t.key in won]
        summary.claimed_elsewhere += len(plan.transitions) - len(announce)
        # A silenced alert is stored and visible but notifies nobody (operations/silences.py).
        announce, muted = mute(rows, announce, now) if rows else (announce, {})
        created = channels.record(rows, schema, announce, delivery, now)
        summary.notification_ids += created
        summary.notifications += len(created)
        write_episodes(store, schema, plan.episodes)
        conflicts = set(write_alerts(store, schema, plan.alerts))
        summary.stored += len(plan.alerts) - len(conflicts)
        if muted:
            stamp_silenced(rows, {fp: until for fp, until in muted.items() if fp not in conflicts})
            summary.transitions["silenced"] = summary.transitions.get("silenced", 0) + len(muted)
        if not conflicts:
            break
        # Count these alerts once: by what they turn out to be in the next round.
        retry = tuple(a for a in pending.alerts if a.fingerprint in conflicts)
        _uncount(summary, plan, conflicts)
        pending = replace(pending, alerts=retry)
    return summary


def _uncount(summary: Summary, plan, conflicts: set[str]) -> None:
    for fingerprint, kind in plan.kinds:
        if fingerprint in conflicts:
            summary.transitions[kind] -= 1
            if not summary.transitions[kind]:
                del summary.transitions[kind]
