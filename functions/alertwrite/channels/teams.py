"""Microsoft Teams Workflows webhook: one Adaptive Card in the message envelope.

The envelope is what Alertmanager's msteamsv2 sends [AM:notify/msteamsv2/msteamsv2.go].
Teams refuses bodies past ~28 KB ("Request Entity too large"), and a cut-off near 21 KB was
measured [learn.microsoft.com Connectors/teams; rubydoc.info/gems/msteams_hermes], so cards
are fitted to 20,000 bytes.
"""
from __future__ import annotations

from .render import Message, Outbound, action_links, all_resolved, dumps, fit, label, ordered

MAX_BYTES = 20000
RATE_PER_SECOND = 4.0  # more than 4 requests/s are throttled
MAX_TEXT = 2000


def _envelope(body: list[dict]) -> dict:
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.2", "body": body, "msteams": {"width": "full"}}}]}


def _item(item) -> list[dict]:
    colour = "Good" if item.kind == "resolved" else "Attention"
    out = [{"type": "TextBlock", "text": fit(f"{label(item.kind)} · {item.name or '(no alertname)'}", 300),
            "weight": "Bolder", "color": colour, "wrap": True, "separator": True}]
    facts = [{"title": key, "value": fit(item.labels[key], 500)} for key in ("severity", "instance", "job")
             if item.labels.get(key)]
    if facts:
        out.append({"type": "FactSet", "facts": facts})
    for key in ("summary", "description"):
        if item.annotations.get(key):
            out.append({"type": "TextBlock", "text": fit(item.annotations[key], MAX_TEXT), "wrap": True})
    links = " · ".join(f"[{name}]({url.replace(')', '%29')})" for name, url in item.links() + action_links(item))
    if links:
        out.append({"type": "TextBlock", "text": links, "wrap": True})
    return out


def render(m: Message) -> Outbound:
    colour = "Accent" if m.event.kind == "test" else "Good" if all_resolved(m.event) else "Attention"
    body = [{"type": "TextBlock", "text": fit(m.title, 1000), "weight": "Bolder", "size": "Medium",
             "wrap": True, "color": colour}]
    if m.body is not None or m.event.text or not m.event.items:
        text = m.body if m.body is not None else m.event.text
        if text:
            body.append({"type": "TextBlock", "text": fit(text, MAX_BYTES // 2), "wrap": True})
    else:
        items = ordered(m.event.items)
        for n, item in enumerate(items):
            candidate = body + _item(item)
            left = len(items) - n
            more = {"type": "TextBlock", "text": f"+{left} more", "wrap": True}
            if len(dumps(_envelope(candidate + [more]))) > MAX_BYTES - 200:
                body.append(more)
                break
            body = candidate
    if m.event.external_url.startswith(("http://", "https://")):
        body.append({"type": "TextBlock", "text": f"[Alertmanager]({m.event.external_url})", "wrap": True})
    return Outbound(m.channel.url, dumps(_envelope(body)))
