"""Generic webhook: the full data as JSON, signed per Standard Webhooks.

[SW:spec/standard-webhooks.md] headers `webhook-id` (the notification's ID: the same on every
attempt, so a receiver can de-duplicate), `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. The secret is
`whsec_` + base64 of the key bytes. During a rotation the channel holds two secrets and
every request carries both signatures, space-separated, so receivers can switch keys at
their own pace. The body's schema is webhook-payload.schema.json next to this module.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _random

from .render import Message, Outbound, dumps, headline, label

PAYLOAD_VERSION = "1"
PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(_random.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret[len(PREFIX):] if secret.startswith(PREFIX) else secret)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def payload(m: Message) -> dict:
    event = m.event
    alerts = [{"status": "resolved" if i.kind == "resolved" else "firing", "transition": i.kind,
               "label": label(i.kind), "fingerprint": i.fingerprint, "alertname": i.name, "severity": i.severity,
               "labels": i.labels, "annotations": i.annotations, "startsAt": i.starts_at or None,
               "endsAt": i.ends_at or None, "resolvedAt": i.resolved_at or None,
               "generatorURL": i.generator_url or None, "links": dict(i.links()), "key": i.key or None}
              for i in event.items]
    counts: dict[str, int] = {}
    for i in event.items:
        counts[i.kind] = counts.get(i.kind, 0) + 1
    return {"type": f"alertwrite.{event.kind}", "timestamp": m.now.isoformat(timespec="milliseconds"),
            "data": {"version": PAYLOAD_VERSION, "notificationId": m.notification_id, "channel": m.channel.name,
                     "title": m.title, "text": m.body if m.body is not None else (event.text or headline(event)),
                     "transitions": counts, "alerts": alerts, "externalURL": event.external_url or None,
                     "groupKey": event.group_key or None, "receiver": event.receiver or None}}


def render(m: Message) -> Outbound:
    body = dumps(payload(m))
    timestamp = int(m.now.timestamp())
    signatures = " ".join(sign(s, m.notification_id, timestamp, body) for s in m.channel.secrets)
    headers = {"webhook-id": m.notification_id, "webhook-timestamp": str(timestamp)}
    if signatures:
        headers["webhook-signature"] = signatures
    return Outbound(m.channel.url, body, headers)
