"""Typed objects for channels and what a notification carries, parsed at the edge.

A channel comes from the `channels:` section of schemas/channels.yaml (source "schema") or
from a `channels` table row (source "runtime", created by the CLI, the API or the console).
Its URL and secret are credentials: `redacted()` is the only form ever shown or logged.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from .filters import Filter, FilterError

TYPES = ("slack", "discord", "teams", "webhook", "pagerduty", "topic")
MEDIA = ("email", "sms", "push")
# utopia-php/database UID rules, since the name is the row ID.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
CHANNELS_TABLE = "channels"
NOTIFICATIONS_TABLE = "notifications"
ATTEMPTS_TABLE = "notification_attempts"


class ChannelError(ValueError):
    """A channel definition we refuse; the message names the field and never a secret."""


@dataclass(frozen=True)
class Channel:
    name: str
    type: str
    url: str = ""
    secret: str = ""  # webhook: whsec_ secrets, newest first, space-separated; pagerduty: routing key
    topic: str = ""
    media: tuple[str, ...] = ()
    filter: Filter = field(default_factory=Filter)
    enabled: bool = True
    templates: dict[str, str] = field(default_factory=dict)  # title / body Jinja2 sources
    source: str = "runtime"  # schema | runtime
    description: str = ""
    disabled_reason: str = ""
    next_send_at: str | None = None
    last_success_at: str | None = None
    last_error_at: str | None = None
    last_error: str = ""

    def __post_init__(self):
        if not _NAME.match(self.name or ""):
            raise ChannelError(f"name {self.name!r}: 1-36 of a-z A-Z 0-9 . _ -, not starting with . _ -")
        if self.type not in TYPES:
            raise ChannelError(f"{self.name}: type must be one of {', '.join(TYPES)}")
        if self.type == "topic":
            if not self.topic:
                raise ChannelError(f"{self.name}: a topic channel needs --topic")
            bad = [m for m in self.media if m not in MEDIA]
            if not self.media or bad:
                raise ChannelError(f"{self.name}: media must be some of {', '.join(MEDIA)}")
        elif self.type == "pagerduty":
            if not self.secret:
                raise ChannelError(f"{self.name}: a pagerduty channel needs its routing key as --secret")
        elif not self.url:
            raise ChannelError(f"{self.name}: a {self.type} channel needs --url")
        if self.type == "webhook":
            for secret in self.secrets:
                if not secret.startswith("whsec_"):
                    raise ChannelError(f"{self.name}: webhook secrets start with whsec_")
            if len(self.secrets) > 2:
                raise ChannelError(f"{self.name}: at most two webhook secrets (current and previous)")
        if self.type == "teams" and self.url:
            _check_teams_url(self.name, self.url)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self.secret.split())

    def evolve(self, **changes) -> "Channel":
        return replace(self, **changes)

    def to_row(self) -> dict:
        return {
            "$id": self.name, "name": self.name, "type": self.type, "url": self.url or None,
            "secret": self.secret or None, "topic": self.topic or None, "media": ",".join(self.media) or None,
            "filter": json.dumps(self.filter.to_dict(), sort_keys=True),
            "templates": json.dumps(self.templates, sort_keys=True) if self.templates else None,
            "enabled": self.enabled, "source": self.source, "description": self.description or None,
            "disabledReason": self.disabled_reason or None,
        }

    def declared_fields(self) -> dict:
        """What `apply` owns on a declared channel; health columns stay the dispatcher's."""
        row = self.to_row()
        return {k: row[k] for k in ("type", "url", "secret", "topic", "media", "filter", "templates", "source",
                                    "description")}

    @classmethod
    def from_row(cls, row: dict) -> "Channel":
        try:
            templates = json.loads(row.get("templates") or "{}")
            flt = Filter.from_dict(json.loads(row.get("filter") or "{}"))
        except (ValueError, FilterError) as exc:
            raise ChannelError(f"{row.get('name') or row.get('$id')}: {exc}") from None
        return cls(
            name=row.get("name") or row["$id"], type=row.get("type") or "", url=row.get("url") or "",
            secret=row.get("secret") or "", topic=row.get("topic") or "",
            media=tuple(m for m in (row.get("media") or "").split(",") if m), filter=flt,
            enabled=row.get("enabled") is not False and row.get("enabled") != 0,
            templates=templates if isinstance(templates, dict) else {}, source=row.get("source") or "runtime",
            description=row.get("description") or "", disabled_reason=row.get("disabledReason") or "",
        ).with_health(row)

    def with_health(self, row: dict) -> "Channel":
        """This channel with the health columns of `row`, which the dispatcher writes."""
        health = {"next_send_at": row.get("nextSendAt"), "last_success_at": row.get("lastSuccessAt"),
                  "last_error_at": row.get("lastErrorAt"), "last_error": row.get("lastError") or ""}
        if all(getattr(self, k) == v for k, v in health.items()):
            return self
        return replace(self, **health)

    @classmethod
    def from_spec(cls, name: str, spec: dict) -> "Channel":
        """One entry of the `channels:` section. The filter keys sit beside the destination."""
        if not isinstance(spec, dict):
            raise ChannelError(f"channels.{name}: expected a mapping")
        spec = dict(spec)
        media = spec.pop("media", [])
        media = media if isinstance(media, list) else [media]
        destination = {k: spec.pop(k) for k in ("type", "url", "secret", "topic", "enabled", "templates",
                                                 "description") if k in spec}
        try:
            flt = Filter.from_dict(spec)
        except FilterError as exc:
            raise ChannelError(f"channels.{name}: {exc}") from None
        return cls(name=name, type=str(destination.get("type", "")), url=str(destination.get("url") or ""),
                   secret=str(destination.get("secret") or ""), topic=str(destination.get("topic") or ""),
                   media=tuple(str(m) for m in media), filter=flt,
                   enabled=bool(destination.get("enabled", True)),
                   templates=dict(destination.get("templates") or {}), source="schema",
                   description=str(destination.get("description") or ""))

    def redacted(self) -> dict:
        return {
            "name": self.name, "type": self.type, "url": redact_url(self.url) if self.url else None,
            "secret": redact_secret(self.secret) if self.secret else None,
            "topic": self.topic or None, "media": list(self.media), "filter": self.filter.to_dict(),
            "enabled": self.enabled, "source": self.source, "templates": self.templates,
            "description": self.description or None, "disabledReason": self.disabled_reason or None,
            "lastSuccessAt": self.last_success_at, "lastErrorAt": self.last_error_at,
            "lastError": self.last_error or None,
        }


def redact_url(url: str) -> str:
    """Scheme and host only: the path of a Slack or Discord webhook URL is its credential."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#@]*@?[^/?#]*)", url)
    host = m.group(1) if m else ""
    host = re.sub(r"//[^@/]*@", "//", host)
    return f"{host}/…" if host else "…"


def redact_secret(secret: str) -> str:
    parts = secret.split()
    return " ".join((p[:6] + "…" + p[-2:]) if p.startswith("whsec_") else "…" + p[-4:] if len(p) > 12 else "…"
                    for p in parts)


def _check_teams_url(name: str, url: str) -> None:
    # Office 365 connectors (webhook.office.com/webhookb2/...) are retired; Workflows
    # URLs (*.logic.azure.com, *.environment.api.powerplatform.com) are what Teams accepts now.
    # [MicrosoftDocs/msteams-docs deprecation-note.md]
    if re.search(r"webhook\.office\.com|outlook\.office\.com/webhook", url):
        raise ChannelError(f"{name}: Office 365 connector URLs are retired; create a Teams Workflows "
                           "webhook (\"When a Teams webhook request is received\") and use its URL")


def declared_channels(section: dict) -> list[Channel]:
    if not section:
        return []
    if not isinstance(section, dict):
        raise ChannelError("channels: expected a mapping of name -> channel")
    return [Channel.from_spec(str(name), spec) for name, spec in section.items()]


# What a notification carries: the facts to render, so a template edited later or a coalesced
# send renders from the same data. Stored as JSON in notifications.payload.
@dataclass(frozen=True)
class Item:
    kind: str  # firing | refiring | resolved (or another capability's word: acknowledged, ...)
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str = ""
    ends_at: str = ""
    resolved_at: str = ""
    generator_url: str = ""
    key: str = ""  # the transition key: stable across re-deliveries

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def links(self) -> list[tuple[str, str]]:
        """runbook, dashboard, source; http(s) only so no javascript: link reaches a chat."""
        found = [("runbook", self.annotations.get("runbook_url", "")),
                 ("dashboard", self.annotations.get("dashboard_url", "")), ("source", self.generator_url)]
        return [(label, url) for label, url in found if url.startswith(("http://", "https://"))]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "fingerprint": self.fingerprint, "labels": self.labels,
                "annotations": self.annotations, "startsAt": self.starts_at, "endsAt": self.ends_at,
                "resolvedAt": self.resolved_at, "generatorURL": self.generator_url, "key": self.key}

    @classmethod
    def from_dict(cls, doc: dict) -> "Item":
        return cls(doc.get("kind", ""), doc.get("fingerprint", ""), dict(doc.get("labels") or {}),
                   dict(doc.get("annotations") or {}), doc.get("startsAt") or "", doc.get("endsAt") or "",
                   doc.get("resolvedAt") or "", doc.get("generatorURL") or "", doc.get("key") or "")


@dataclass(frozen=True)
class Event:
    kind: str  # alerts | test | event
    items: tuple[Item, ...] = ()
    title: str = ""  # for test messages and other capabilities' announcements
    text: str = ""
    external_url: str = ""
    group_key: str = ""
    receiver: str = ""

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "items": [i.to_dict() for i in self.items], "title": self.title,
                           "text": self.text, "externalURL": self.external_url, "groupKey": self.group_key,
                           "receiver": self.receiver}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Event":
        doc = json.loads(text or "{}")
        return cls(doc.get("kind") or "alerts", tuple(Item.from_dict(i) for i in doc.get("items") or []),
                   doc.get("title") or "", doc.get("text") or "", doc.get("externalURL") or "",
                   doc.get("groupKey") or "", doc.get("receiver") or "")

    def merged(self, others: list["Event"]) -> "Event":
        """One message for several pending notifications of a channel (coalescing)."""
        items = list(self.items)
        seen = {i.key or i.fingerprint + i.kind for i in items}
        for other in others:
            for item in other.items:
                k = item.key or item.fingerprint + item.kind
                if k not in seen:
                    seen.add(k)
                    items.append(item)
        return replace(self, items=tuple(items))
