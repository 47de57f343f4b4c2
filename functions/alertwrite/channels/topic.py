"""Appwrite Messaging topic channels: today's routing, with the existing medium renderers.

Message IDs derive from the notification ID and medium, so a retried dispatch re-creates
the same ID and Appwrite answers 409 message_already_exists instead of sending twice.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from html import escape

from ..lifecycle import Transition
from ..notify import OutboundMessage, email, push, sms
from ..records import AlertRecord
from ..timeutil import parse_rfc3339
from ..webhook import Alert, Delivery
from .model import Channel, Event, Item
from .render import label, ordered

NOTIFY_KINDS = ("firing", "refiring", "resolved")

RENDERERS = {"email": email.render, "sms": sms.render, "push": push.render}


def message_id(notification_id: str, medium: str) -> str:
    return hashlib.sha256(f"{notification_id}\n{medium}".encode()).hexdigest()[:36]


def _time(text: str):
    return parse_rfc3339(text) if text else None


def _transition(item: Item) -> Transition:
    starts = _time(item.starts_at) or parse_rfc3339("1970-01-01T00:00:00Z")
    status = "resolved" if item.kind == "resolved" else "firing"
    alert = Alert(item.fingerprint, status, item.labels, item.annotations, starts, _time(item.ends_at),
                  item.generator_url)
    record = AlertRecord(item.fingerprint, status, starts, item.labels, item.annotations,
                         ends_at=_time(item.ends_at), resolved_at=_time(item.resolved_at),
                         generator_url=item.generator_url)
    return Transition(item.kind, alert, record)


def render(channel: Channel, event: Event, notification_id: str, title: str | None = None) -> list[OutboundMessage]:
    delivery = Delivery(receiver=event.receiver, status="firing", alerts=(), group_key=event.group_key,
                        external_url=event.external_url)
    out = []
    for medium in channel.media:
        mid = message_id(notification_id, medium)
        if not event.items or any(i.kind not in NOTIFY_KINDS for i in event.items):
            # a test, or another capability's word (acknowledged, silenced, ...): plain text
            subject = title or event.title
            lines = [f"{label(i.kind)} {i.name}" + (f" on {i.labels['instance']}" if i.labels.get("instance") else "")
                     + (f": {i.annotations['summary']}" if i.annotations.get("summary") else "")
                     for i in ordered(event.items)]
            text = "\n".join([subject, *lines, event.text] if event.items else [event.text or subject])
            limit = 1600 if medium == "sms" else 3000
            out.append(OutboundMessage(mid, medium, (channel.topic,), text.strip()[:limit], subject=subject[:256],
                                       html=False, alert_count=len(event.items)))
            continue
        items = [_transition(i) for i in ordered(event.items)]
        out.append(_with_note(RENDERERS[medium](mid, channel.topic, items, delivery), event))
    return out


def _with_note(message: OutboundMessage, event: Event) -> OutboundMessage:
    """An announcement's "by alice" and comment, on the medium's own rendering."""
    if not event.title and not event.text:
        return message
    note = " ".join(part for part in (event.title, event.text) if part)
    if message.medium == "sms":
        return replace(message, content=f"{message.content.splitlines()[0]} {note}\n" + "\n".join(message.content.splitlines()[1:]))
    content = message.content + (f"<p>{escape(note)}</p>" if message.html else f"\n{note}")
    return replace(message, subject=f"{message.subject} {event.title}".strip(), content=content)
