"""Push via Appwrite Messaging (FCM / APNs)."""
from __future__ import annotations

import json

from ..lifecycle import Transition
from ..webhook import Delivery
from . import OutboundMessage
from .text import LABELS, action_links, fit_lines, headline, links, truncate

MAX_TITLE = 256  # Appwrite createPush title limit
# FCM and APNs both cap the whole notification payload at 4096 bytes.
MAX_PAYLOAD_BYTES = 4096


def render(message_id: str, topic: str, items: list[Transition], delivery: Delivery) -> OutboundMessage:
    title, cut_title = truncate(headline(items), MAX_TITLE)
    data = {"status": items[0].kind, "alerts": str(len(items))}
    first_link = next((url for t in items for _, url in links(t)), "")
    if first_link:
        data["url"] = first_link
    for action, url in action_links(items[0]):  # a push opens one alert: the first one's actions
        data[action] = url

    def payload_bytes(body: str) -> int:
        return len(json.dumps({"title": title, "body": body, "data": data}, ensure_ascii=False).encode())

    lines = [_line(t) for t in items]
    body, left_out = fit_lines(lines[0], lines[1:], MAX_PAYLOAD_BYTES, measure=payload_bytes)
    if payload_bytes(body) > MAX_PAYLOAD_BYTES:  # the first line alone was too long
        body, _ = truncate(body, MAX_PAYLOAD_BYTES, measure=payload_bytes)
    return OutboundMessage(message_id, "push", (topic,), body, subject=title, data=data,
                           alert_count=len(items), truncated=cut_title or left_out > 0)


def _line(t: Transition) -> str:
    a = t.alert
    where = f" on {a.labels['instance']}" if a.labels.get("instance") else ""
    summary = f": {a.annotations['summary']}" if a.annotations.get("summary") else ""
    return f"{LABELS[t.kind]} {a.name}{where}{summary}"
