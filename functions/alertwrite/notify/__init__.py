"""Messaging renderers (email, SMS, push) for topic channels (channels/topic.py), and the
message they make."""
from __future__ import annotations

from dataclasses import dataclass, field


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
