"""Announcing operator actions ("acknowledged by alice") on the channels that got the alert.

This is the ONE function operations call to announce something. Until the channels capability's
`channels.notify(...)` (contract §5) lands, it sends through the same messenger as the processor
(Appwrite Messaging, or the SQLite `messages` outbox), to the topics and media the routing rules
give each alert. The integrator points this function at channels.notify.
Message IDs derive from the event, so a retried operation announces once.
"""
from __future__ import annotations

import hashlib
from datetime import datetime

from ..notify import OutboundMessage
from ..timeutil import format_ms
from .actor import Actor
from .silences import labels_of

WORDS = {"ack": "ACKNOWLEDGED", "unack": "UNACKNOWLEDGED", "resolve": "RESOLVED", "unresolve": "REOPENED",
         "silence": "SILENCED", "unsilence": "UNSILENCED", "unsilenced": "STILL FIRING after its silence",
         "manual": "DECLARED"}
MAX_SMS = 1600


def announce(rows, schema, settings, action: str, alerts: list[dict], actor: Actor, now: datetime,
             comment: str = "") -> list[str]:
    """Send one message per (topic, medium) about these alerts; returns the outcomes."""
    targets: dict[tuple[str, str], list[dict]] = {}
    for alert in alerts:
        labels = labels_of(alert)
        seen = []
        for rule in schema.rules:
            if rule.matches(labels):
                seen += [(rule.topic, m) for m in rule.media if (rule.topic, m) not in seen]
        for target in seen:
            targets.setdefault(target, []).append(alert)
    messenger = _messenger(rows)
    outcomes = []
    for (topic, medium), items in sorted(targets.items()):
        outcomes.append(messenger.send(_message(action, topic, medium, items, actor, now, comment)))
    return outcomes


def _message(action, topic, medium, items, actor, now, comment) -> OutboundMessage:
    word = WORDS.get(action, action.upper())
    who = "" if action == "unsilenced" else f" by {actor.name}"
    names = list(dict.fromkeys(a.get("alertname") or "(no alertname)" for a in items))
    subject = f"[{word}:{len(items)}] {', '.join(names[:5])}{' +more' if len(names) > 5 else ''}{who}"[:256]
    lines = [f"{word} {a.get('alertname') or ''}{' on ' + a['instance'] if a.get('instance') else ''}"
             f"{': ' + a['summary'] if a.get('summary') else ''}" for a in items]
    if comment:
        lines.append(f"Comment: {comment}")
    text = subject + "\n" + "\n".join(lines)
    key = f"{action}\n{topic}\n{medium}\n{format_ms(now)}\n{actor.name}\n" + "\n".join(sorted(a['$id'] for a in items))
    message_id = hashlib.sha256(key.encode()).hexdigest()[:36]
    if medium == "email":
        from html import escape
        html = f"<h2>{escape(subject)}</h2>" + "".join(f"<p>{escape(line)}</p>" for line in lines)
        return OutboundMessage(message_id, "email", (topic,), html, subject=subject, html=True, alert_count=len(items))
    if medium == "sms":
        return OutboundMessage(message_id, "sms", (topic,), text[:MAX_SMS], alert_count=len(items))
    return OutboundMessage(message_id, "push", (topic,), "\n".join(lines)[:3000], subject=subject,
                           data={"status": action, "alerts": str(len(items))}, alert_count=len(items))


def _messenger(rows):
    if hasattr(rows, "conn"):
        from ..stores.sqlite import SqliteOutbox
        return SqliteOutbox(rows.conn)
    from ..stores.appwrite import AppwriteMessenger
    return AppwriteMessenger(rows.client)
