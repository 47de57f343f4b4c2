"""What every platform renderer shares: wording, colours, the order of items, and templating.

Each platform module (slack, discord, teams, webhook, pagerduty) declares its limits and has
`render(message: Message) -> Outbound`; `build` picks it and applies the user's templates.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from ..notify.text import truncate
from . import templates
from .model import Channel, Event, Item

LABELS = {"firing": "FIRING", "refiring": "FIRING AGAIN", "resolved": "RESOLVED"}
SEVERITY_RANK = {"emergency": 0, "critical": 1, "error": 2, "warning": 3, "info": 4}


@dataclass(frozen=True)
class Message:
    """A channel-ready view of one notification (or several coalesced ones)."""
    channel: Channel
    event: Event
    notification_id: str
    now: datetime
    title: str
    body: str | None = None  # a template's body replaces the per-item listing
    count: int = 1  # notifications carried (more than 1 when coalesced)


@dataclass(frozen=True)
class Outbound:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def label(kind: str) -> str:
    return LABELS.get(kind, kind.upper())


def resolved(item: Item) -> bool:
    return item.kind == "resolved"


def ordered(items: tuple[Item, ...]) -> list[Item]:
    return sorted(items, key=lambda i: (resolved(i), SEVERITY_RANK.get(i.severity, 5), i.name,
                                        i.labels.get("instance", ""), i.fingerprint))


def headline(event: Event) -> str:
    if event.kind == "test":
        return event.title or "[TEST] Alertwrite test message"
    if not event.items:
        return event.title or "Alertwrite"
    counts = Counter(label(i.kind) for i in event.items)
    parts = ", ".join(f"{k}:{v}" for k, v in counts.items())
    names = list(dict.fromkeys(i.name or "(no alertname)" for i in ordered(event.items)))
    shown = ", ".join(names[:5]) + (f" +{len(names) - 5} more" if len(names) > 5 else "")
    return f"[{parts}] {shown}" + (f" {event.title}" if event.title else "")


def all_resolved(event: Event) -> bool:
    return bool(event.items) and all(resolved(i) for i in event.items)


def action_links(item: Item) -> list[tuple[str, str]]:
    """Signed one-tap ack/resolve/silence links for a firing item (operations/links.py); none
    for a resolve, another capability's word, or when links are not configured."""
    if item.kind not in ("firing", "refiring") or not item.key:
        return []
    from ..operations.links import links_for
    from ..timeutil import utcnow

    return links_for(item.fingerprint, item.key, utcnow())


def plain_lines(item: Item) -> list[str]:
    """The facts of one item as text lines (no markup), shared by templates and fallbacks."""
    out = []
    for key in ("instance", "job"):
        if item.labels.get(key):
            out.append(f"{key}: {item.labels[key]}")
    for key in ("summary", "description"):
        if item.annotations.get(key):
            out.append(item.annotations[key])
    return out


def build(channel: Channel, event: Event, notification_id: str, now: datetime,
          type_templates: dict | None = None, count: int = 1) -> Outbound:
    from . import discord, pagerduty, slack, teams, webhook

    chosen = dict((type_templates or {}).get(channel.type) or {})
    chosen.update(channel.templates or {})
    done = templates.apply(chosen, event, channel.name) if chosen else templates.Rendered()
    message = Message(channel, event, notification_id, now, title=done.title or headline(event), body=done.body,
                      count=count)
    module = {"slack": slack, "discord": discord, "teams": teams, "webhook": webhook, "pagerduty": pagerduty}
    return module[channel.type].render(message)


def fit(text: str, limit: int) -> str:
    return truncate(text, limit)[0]


def dumps(doc: dict) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sample_event() -> Event:
    """What templates are trial-rendered against when saved or planned."""
    return Event("alerts", (
        Item("firing", "a1b2c3d4e5f60718", {"alertname": "HighCPU", "severity": "critical", "instance": "web-1:9100",
                                           "job": "node"},
             {"summary": "CPU above 90%", "description": "for 10 minutes",
              "runbook_url": "https://runbooks.example/cpu"}, "2026-01-01T10:00:00.000+00:00",
             generator_url="https://prometheus.example/graph", key="a1b2c3d4e5f60718@2026-01-01T10:00:00:firing"),
        Item("resolved", "0f1e2d3c4b5a6978", {"alertname": "DiskFull", "severity": "warning"}, {},
             "2026-01-01T09:00:00.000+00:00", "2026-01-01T09:30:00.000+00:00", "2026-01-01T09:30:00.000+00:00"),
    ), external_url="https://alertmanager.example", group_key="{}:{alertname=\"HighCPU\"}")
