"""PagerDuty Events API v2: one event per alert transition, `dedup_key` = fingerprint.

[PDS:reference/events-v2/openapiv3.json; v2.developer.pagerduty.com send-an-event] POST
/v2/enqueue with `routing_key`, `event_action` trigger|acknowledge|resolve, `dedup_key` and, for
a trigger, `payload.summary/severity/source`. 202 accepted; 400 not retried; 429 and 5xx
retried. A trigger after a resolve opens a new incident, which matches a re-fire. The
channel's secret is the 32-character routing key.
"""
from __future__ import annotations

import json

from .render import Message, Outbound, dumps, fit, label

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
MAX_SUMMARY = 1024  # Alertmanager cuts the summary to 1024 runes [AM:notify/pagerduty]
MAX_EVENT_BYTES = 512000  # else custom_details are dropped, as Alertmanager does
MAX_DEDUP_KEY = 255
SEVERITIES = {"critical": "critical", "emergency": "critical", "error": "error", "warning": "warning",
              "info": "info"}
ACTIONS = {"firing": "trigger", "refiring": "trigger", "resolved": "resolve", "acknowledged": "acknowledge"}


def render(m: Message) -> Outbound:
    url = m.channel.url or DEFAULT_URL
    if not m.event.items:  # a test or an announcement: a trigger PagerDuty shows, keyed by the notification
        doc = {"routing_key": m.channel.secret, "event_action": "trigger", "dedup_key": m.notification_id,
               "payload": {"summary": fit(m.title, MAX_SUMMARY), "severity": "info", "source": "alertwrite",
                           "custom_details": {"text": m.body or m.event.text}}}
        return Outbound(url, dumps(doc))
    item = m.event.items[0]  # the dispatcher plans one pagerduty notification per transition
    action = ACTIONS.get(item.kind, "trigger")
    doc: dict = {"routing_key": m.channel.secret, "event_action": action,
                 "dedup_key": item.fingerprint[:MAX_DEDUP_KEY], "client": "Alertwrite"}
    if action == "trigger":
        summary = m.title if m.body is None else m.body
        if m.body is None:
            summary = f"{label(item.kind)} {item.name}: {item.annotations.get('summary', '') or item.name}"
        doc["payload"] = {
            "summary": fit(summary, MAX_SUMMARY), "severity": SEVERITIES.get(item.severity, "error"),
            "source": item.labels.get("instance") or item.labels.get("job") or "alertwrite",
            "component": item.labels.get("job") or None, "group": item.labels.get("category") or None,
            "class": item.name or None, "timestamp": item.starts_at or None,
            "custom_details": {"labels": item.labels, "annotations": item.annotations},
        }
        doc["payload"] = {k: v for k, v in doc["payload"].items() if v is not None}
        doc["links"] = [{"href": url_, "text": name} for name, url_ in item.links()]
        if m.event.external_url.startswith(("http://", "https://")):
            doc["client_url"] = m.event.external_url
        if len(json.dumps(doc)) > MAX_EVENT_BYTES:
            doc["payload"].pop("custom_details")
    return Outbound(url, dumps(doc))
