"""Slack incoming webhook: Block Kit inside one coloured attachment, with a fallback `text`.

Limits [api.slack.com/docs/rate-limits; docs.slack.dev/reference/block-kit/blocks]:
"""
from __future__ import annotations

from .render import Message, Outbound, action_links, all_resolved, dumps, fit, label, ordered

MAX_BLOCKS = 50  # "up to 50 blocks in each message"
MAX_SECTION_TEXT = 3000  # section text
MAX_FALLBACK_TEXT = 3000  # top-level text is cut past 40,000; keep the notification preview short
# msg_blocks_too_long was seen at ~13.2k total characters, below the documented limits
# [github.com/slackapi/bolt-js/issues/2509]: stay under it.
MAX_TOTAL_TEXT = 12000
RATE_PER_SECOND = 1.0  # "Posting messages: 1 per second; short bursts >1 allowed"
MAX_ITEM_TEXT = 1500
COLOURS = {"firing": "#D00000", "resolved": "#2EB67D", "test": "#439FE0"}


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn/plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, text: str) -> str:
    safe = url.replace("<", "%3C").replace(">", "%3E").replace("|", "%7C").replace(" ", "%20")
    return f"<{safe}|{escape(text)}>"


def _item_text(item) -> str:
    head = f"*{label(item.kind)}* · *{escape(item.name or '(no alertname)')}*"
    if item.severity:
        head += f" · {escape(item.severity)}"
    lines = [head]
    for key in ("instance", "job"):
        if item.labels.get(key):
            lines.append(f"{key}: `{escape(item.labels[key])}`")
    for key in ("summary", "description"):
        if item.annotations.get(key):
            lines.append(escape(fit(item.annotations[key], MAX_ITEM_TEXT)))
    links = " · ".join(link(url, name) for name, url in item.links() + action_links(item))
    if links:
        lines.append(links)
    return fit("\n".join(lines), MAX_SECTION_TEXT)


def render(m: Message) -> Outbound:
    title = fit(m.title, MAX_SECTION_TEXT)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*"}}]
    used = len(blocks[0]["text"]["text"])
    if m.body is not None:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit(escape(m.body), MAX_SECTION_TEXT)}})
    elif m.event.text:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": fit(escape(m.event.text),
                                                                                 MAX_SECTION_TEXT)}})
    else:
        items = ordered(m.event.items)
        for n, item in enumerate(items):
            text = _item_text(item)
            left = len(items) - n
            # keep one block (and its characters) for the "+N more" line
            if len(blocks) + 2 > MAX_BLOCKS or used + len(text) + 40 > MAX_TOTAL_TEXT:
                blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"+{left} more"}]})
                break
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            used += len(text)
    if m.event.external_url.startswith(("http://", "https://")) and len(blocks) < MAX_BLOCKS:
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": link(m.event.external_url, "Alertmanager")}]})
    state = "test" if m.event.kind == "test" else "resolved" if all_resolved(m.event) else "firing"
    doc = {"text": escape(fit(m.title, MAX_FALLBACK_TEXT)),
           "attachments": [{"color": COLOURS[state], "blocks": blocks}]}
    return Outbound(m.channel.url, dumps(doc))
