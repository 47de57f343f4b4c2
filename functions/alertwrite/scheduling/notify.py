"""The one place escalation and heartbeat pages leave the scheduler.

`deliver` groups the claimed notify entries of a run into one message per (recipient, medium),
so the number of Messaging calls does not grow with the number of due alerts. Recipients are
Appwrite Messaging `users` (a person: their email, SMS and push targets) or `topics`
[shared/reference/oncall-and-channels.md §6: messages take topics, users, targets].
When channels.notify lands (contracts §5) the integrator points `deliver` at it.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict

from ..notify import OutboundMessage
from ..stores.rows import pipeline_view

SUBJECT_LIMIT = 998  # email subject limit in Appwrite Messaging


def compose(items: list[tuple[dict, object]]) -> list[tuple[str, str, OutboundMessage]]:
    """items: (claimed log row, AlertView) -> [(kind, recipient, message)], one per (recipient, medium)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row, alert in items:
        groups[(row["target"], row["medium"])].append((row, alert))
    out = []
    for (target, medium), group in sorted(groups.items()):
        kind, _, name = target.partition(":")
        ids = sorted(r["$id"] for r, _ in group)
        mid = hashlib.sha256("|".join(ids).encode()).hexdigest()[:36]
        lines = [f"[{a.severity.upper() or 'ALERT'}] {a.alertname} {a.summary}".strip() + f" ({r['detail']})"
                 for r, a in group]
        first = group[0][1]
        subject = (f"[ESCALATION] {first.alertname}" + (f" and {len(group) - 1} more" if len(group) > 1 else ""))
        message = OutboundMessage(mid, medium if medium in ("email", "sms", "push") else "email",
                                  (f"{kind}:{name}",), "\n".join(lines), subject[:SUBJECT_LIMIT],
                                  data={"fingerprints": ",".join(sorted({a.fingerprint for _, a in group}))},
                                  alert_count=len(group))
        out.append((kind, name, message))
    return out


def deliver(rows, items: list[tuple[dict, object]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    if not items:
        return {}
    _, messenger = pipeline_view(rows)
    for kind, name, message in compose(items):
        if kind == "channel":
            counts["channel_queued"] += len(_to_channel(rows, name, message, items))
            continue
        if hasattr(rows, "conn"):
            outcome = messenger.send(message)  # the local outbox shows "user:ann" / "topic:x"
        else:
            outcome = _send_appwrite(messenger, kind, name, message)
        counts[outcome] += 1
    return dict(counts)


def _to_channel(rows, name: str, message: OutboundMessage, items) -> list[str]:
    """A `channel:NAME` target goes through channels.notify (contracts §5): a notifications row
    per claim key, which the alert-dispatcher sends with the channel's retries and limits."""
    from ..channels.outbox import notify
    from ..channels.model import Event, Item

    mine = [(r, a) for r, a in items if r["target"] == f"channel:{name}"]
    event = Event("alerts", tuple(Item("escalated", a.fingerprint, dict(a.labels), {"summary": a.summary},
                                       key=r["$id"]) for r, a in mine),
                  title=message.subject, text=message.content)
    return notify(rows, rows.schema, event, channels=[name])


def _send_appwrite(messenger, kind: str, name: str, message: OutboundMessage) -> str:
    from appwrite.exception import AppwriteException

    from ..errors import Fault, classify, to_store_error

    who = {"users": [name]} if kind == "user" else {"topics": [name]}
    m = messenger.messaging
    try:
        if message.medium == "email":
            m.create_email(message.id, message.subject, message.content, **who)
        elif message.medium == "sms":
            m.create_sms(message.id, message.content, **who)
        else:
            m.create_push(message.id, title=message.subject, body=message.content, data=message.data, **who)
    except AppwriteException as exc:
        if classify(exc) is Fault.CONFLICT:  # the same claims were sent before
            return "duplicate"
        raise to_store_error(exc) from None
    return "sent"
