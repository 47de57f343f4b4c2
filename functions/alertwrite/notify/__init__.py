"""Notifications: one message per (topic, medium) listing the delivery's transitions."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..lifecycle import RESOLVED, Transition
from ..schema import Rule
from ..webhook import Delivery


@dataclass(frozen=True)
class OutboundMessage:
    id: str
    medium: str  # email | sms | push
    topics: tuple[str, ...]
    content: str
    subject: str = ""  # email subject or push title
    html: bool = False
    data: dict[str, str] = field(default_factory=dict)
    alert_count: int = 0
    truncated: bool = False


def message_id(topic: str, medium: str, transitions: list[Transition]) -> str:
    """Deterministic, so a retried or duplicated delivery re-creates the same ID and
    Appwrite answers 409 message_already_exists instead of sending twice. ≤36 chars."""
    keys = "\n".join(sorted(t.key for t in transitions))
    return hashlib.sha256(f"{topic}\n{medium}\n{keys}".encode()).hexdigest()[:36]


def route(transitions: list[Transition], rules: tuple[Rule, ...]) -> dict[tuple[str, str], list[Transition]]:
    """(topic, medium) -> transitions, each transition at most once per pair."""
    out: dict[tuple[str, str], list[Transition]] = {}
    for t in transitions:
        targets: list[tuple[str, str]] = []
        for rule in rules:
            if t.kind == RESOLVED and not rule.send_resolved:
                continue
            if rule.matches(t.alert.labels):
                targets += [(rule.topic, m) for m in rule.media if (rule.topic, m) not in targets]
        for target in targets:
            out.setdefault(target, []).append(t)
    return out


def compose(transitions: list[Transition], rules: tuple[Rule, ...], delivery: Delivery) -> list[OutboundMessage]:
    from . import email, push, sms

    renderers = {"email": email.render, "sms": sms.render, "push": push.render}
    messages = []
    for (topic, medium), items in sorted(route(transitions, rules).items()):
        items = sorted(items, key=_order)
        messages.append(renderers[medium](message_id(topic, medium, items), topic, items, delivery))
    return messages


_SEVERITY_RANK = {"emergency": 0, "critical": 1, "error": 2, "warning": 3, "info": 4}


def _order(t: Transition):
    return (t.kind == RESOLVED, _SEVERITY_RANK.get(t.alert.severity, 5), t.alert.name,
            t.alert.labels.get("instance", ""), t.alert.fingerprint)
