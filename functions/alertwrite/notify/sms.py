"""SMS via Appwrite Messaging: plain text, one line per alert."""
from __future__ import annotations

from ..lifecycle import Transition
from ..webhook import Delivery
from . import OutboundMessage
from .text import LABELS, action_links, fit_lines, headline, links, truncate

# Twilio rejects bodies over 1600 characters (error 21617); billing is per 153/67-char segment.
MAX_CONTENT = 1600
MAX_LINE = 320


def render(message_id: str, topic: str, items: list[Transition], delivery: Delivery) -> OutboundMessage:
    lines = [truncate(_line(t), MAX_LINE)[0] + _ack(t) for t in items]
    content, left_out = fit_lines(headline(items), lines, MAX_CONTENT)
    return OutboundMessage(message_id, "sms", (topic,), content, alert_count=len(items),
                           truncated=left_out > 0)


def _line(t: Transition) -> str:
    a = t.alert
    parts = [LABELS[t.kind], a.name]
    if a.labels.get("instance"):
        parts.append(a.labels["instance"])
    if a.severity:
        parts.append(f"[{a.severity}]")
    if a.annotations.get("summary"):
        parts.append("- " + a.annotations["summary"])
    runbook = [url for label, url in links(t) if label == "runbook"]
    if runbook:
        parts.append(runbook[0])
    return " ".join(parts)


def _ack(t: Transition) -> str:
    """The one-tap ack link, after the cut so it is never truncated."""
    urls = [url for action, url in action_links(t) if action == "ack"]
    return f" ack: {urls[0]}" if urls else ""
