"""Email via Appwrite Messaging: HTML, every value escaped."""
from __future__ import annotations

from html import escape

from ..lifecycle import Transition
from ..webhook import Delivery
from . import OutboundMessage
from .text import LABELS, action_links, fit_lines, headline, links, truncate

MAX_SUBJECT = 998  # RFC 5322 line limit; also Appwrite's createEmail subject limit
MAX_CONTENT = 64230  # Appwrite createEmail content limit (messaging.php)
MAX_FIELD = 4000  # one description should not crowd out the other alerts


def render(message_id: str, topic: str, items: list[Transition], delivery: Delivery) -> OutboundMessage:
    subject, cut_subject = truncate(headline(items), MAX_SUBJECT)
    head = f"<h2>{escape(subject)}</h2>"
    blocks = [_block(t) for t in items]
    footer = ""
    if delivery.external_url.startswith(("http://", "https://")):
        footer = f'<p><a href="{escape(delivery.external_url)}">Alertmanager</a></p>'
    content, left_out = fit_lines(head, blocks, MAX_CONTENT - len(footer))
    return OutboundMessage(message_id, "email", (topic,), content + footer, subject=subject, html=True,
                           alert_count=len(items), truncated=cut_subject or left_out > 0)


def _block(t: Transition) -> str:
    a = t.alert
    rows = [f"<h3>{LABELS[t.kind]} · {escape(a.name)} · {escape(a.severity or 'no severity')}</h3>"]
    for key in ("instance", "job"):
        if a.labels.get(key):
            rows.append(f"<p><b>{key}:</b> {escape(a.labels[key])}</p>")
    for key in ("summary", "description"):
        if a.annotations.get(key):
            value, _ = truncate(a.annotations[key], MAX_FIELD)
            rows.append(f"<p>{escape(value)}</p>")
    rows.append(f"<p><b>started:</b> {t.record.starts_at.isoformat()}"
                + (f" · <b>resolved:</b> {t.record.resolved_at.isoformat()}" if t.record.resolved_at else "")
                + "</p>")
    anchors = " · ".join(f'<a href="{escape(url)}">{label}</a>' for label, url in links(t))
    if anchors:
        rows.append(f"<p>{anchors}</p>")
    actions = " · ".join(f'<a href="{escape(url)}">{label}</a>' for label, url in action_links(t))
    if actions:
        rows.append(f"<p>{actions}</p>")
    return "<div>" + "".join(rows) + "</div>"
