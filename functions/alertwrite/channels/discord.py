"""Discord webhook: embeds within Discord's limits, and no mention can ever ping.

Limits [discord-api-docs developers/resources/message.mdx, webhook.mdx]:
"""
from __future__ import annotations

from .render import Message, Outbound, action_links, all_resolved, dumps, fit, label, ordered

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_TOTAL = 6000  # title + description + fields + footer + author, across all embeds; else 400
# Alertmanager's own colours [AM:notify/discord/discord.go]
RED, GREEN, BLUE = 0x992D22, 0x2ECC71, 0x3498DB


def _size(embed: dict) -> int:
    return (len(embed.get("title", "")) + len(embed.get("description", ""))
            + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))
            + len(embed.get("footer", {}).get("text", "")))


def _embed(item) -> dict:
    description = "\n".join(fit(item.annotations[k], 1500) for k in ("summary", "description")
                            if item.annotations.get(k))
    fields = [{"name": key, "value": fit(item.labels[key], MAX_FIELD_VALUE), "inline": True}
              for key in ("severity", "instance", "job") if item.labels.get(key)]
    links = " · ".join(f"[{name}]({url.replace(')', '%29')})" for name, url in item.links() + action_links(item))
    if links:
        fields.append({"name": "links", "value": fit(links, MAX_FIELD_VALUE), "inline": False})
    embed = {"title": fit(f"{label(item.kind)} · {item.name or '(no alertname)'}", MAX_TITLE),
             "color": GREEN if item.kind == "resolved" else RED, "fields": fields[:MAX_FIELDS]}
    if description:
        embed["description"] = fit(description, MAX_DESCRIPTION)
    return embed


def render(m: Message) -> Outbound:
    embeds: list[dict] = []
    if m.body is not None or m.event.text or not m.event.items:
        text = m.body if m.body is not None else m.event.text
        colour = BLUE if m.event.kind == "test" else GREEN if all_resolved(m.event) else RED
        embed = {"title": fit(m.title, MAX_TITLE), "color": colour}
        if text:
            embed["description"] = fit(text, MAX_DESCRIPTION)
        embeds.append(embed)
    else:
        items = ordered(m.event.items)
        used = 0
        for n, item in enumerate(items):
            embed = _embed(item)
            left = len(items) - n
            more = {"title": f"+{left} more", "color": RED}
            if len(embeds) + 2 > MAX_EMBEDS or used + _size(embed) + _size(more) + 20 > MAX_TOTAL:
                embeds.append(more)
                break
            embeds.append(embed)
            used += _size(embed)
    content = fit(m.title, MAX_CONTENT)
    if m.event.external_url.startswith(("http://", "https://")) and len(embeds) == 1:
        embeds[0]["url"] = m.event.external_url
    doc = {"content": content, "embeds": embeds, "username": "Alertwrite",
           # a label value like "@everyone" must never ping anybody
           "allowed_mentions": {"parse": []}}
    # wait=true: without it "a message that is not saved does not return an error"
    url = m.channel.url + ("&" if "?" in m.channel.url else "?") + "wait=true"
    return Outbound(url, dumps(doc))
