"""Parse an Alertmanager webhook body (payload version 4) into typed objects.

Everything past this module works on `Delivery` and `Alert`; nothing indexes raw dicts.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from .timeutil import parse_rfc3339

# Alertmanager writes Go's zero time for "no end" on every firing alert.
ZERO_TIME_PREFIX = "0001-01-01T00:00:00"
# An alert takes 0.4-1 KB, so a cluster-wide outage of thousands of alerts is megabytes.
# A 400 is re-sent for ever and never stored, so the cap sits at Appwrite's own limit for an
# execution body (createExecution: 10 MB; the runtime accepts 20 MB).
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
_FINGERPRINT = re.compile(r"^[0-9a-fA-F]{1,64}$")


class PayloadError(ValueError):
    """A delivery we must reject with 400. `code` is short and safe to return."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: str  # "firing" | "resolved"
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


@dataclass(frozen=True)
class Delivery:
    receiver: str
    status: str
    alerts: tuple[Alert, ...]
    group_key: str = ""
    group_labels: dict[str, str] = field(default_factory=dict)
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)
    external_url: str = ""
    truncated_alerts: int = 0


def parse_delivery(body: bytes | str, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Delivery:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) > max_bytes:
        raise PayloadError("body_too_large", f"{len(raw)} bytes > {max_bytes}")
    if not raw.strip():
        raise PayloadError("empty_body")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("invalid_json") from None
    if not isinstance(doc, dict):
        raise PayloadError("invalid_payload", "top level is not an object")
    if doc.get("version") != "4":
        raise PayloadError("unsupported_version", f"version {str(doc.get('version'))[:10]!r}, expected '4'")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("invalid_payload", "alerts is not a list")
    parsed = tuple(_parse_alert(a, i) for i, a in enumerate(alerts))
    truncated = doc.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("invalid_payload", "truncatedAlerts is not a count")
    return Delivery(
        receiver=_str(doc, "receiver"),
        status=_status(doc.get("status"), "status"),
        alerts=parsed,
        group_key=_str(doc, "groupKey"),
        group_labels=_labels(doc.get("groupLabels"), "groupLabels"),
        common_labels=_labels(doc.get("commonLabels"), "commonLabels"),
        common_annotations=_labels(doc.get("commonAnnotations"), "commonAnnotations"),
        external_url=_str(doc, "externalURL"),
        truncated_alerts=truncated,
    )


def _parse_alert(doc: object, index: int) -> Alert:
    where = f"alerts[{index}]"
    if not isinstance(doc, dict):
        raise PayloadError("invalid_alert", f"{where} is not an object")
    fingerprint = doc.get("fingerprint")
    if not isinstance(fingerprint, str) or not _FINGERPRINT.match(fingerprint):
        raise PayloadError("missing_fingerprint", f"{where}.fingerprint")
    starts = doc.get("startsAt")
    if not isinstance(starts, str) or not starts:
        raise PayloadError("missing_starts_at", f"{where}.startsAt")
    ends = doc.get("endsAt") or ""
    if not isinstance(ends, str):
        raise PayloadError("invalid_timestamp", f"{where}.endsAt")
    generator = doc.get("generatorURL") or ""
    if not isinstance(generator, str):
        raise PayloadError("invalid_alert", f"{where}.generatorURL")
    try:
        starts_at = parse_rfc3339(starts)
        ends_at = None if not ends or ends.startswith(ZERO_TIME_PREFIX) else parse_rfc3339(ends)
    except ValueError:
        raise PayloadError("invalid_timestamp", where) from None
    return Alert(
        fingerprint=fingerprint.lower(),
        status=_status(doc.get("status"), f"{where}.status"),
        labels=_labels(doc.get("labels"), f"{where}.labels"),
        annotations=_labels(doc.get("annotations"), f"{where}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=generator,
    )


def _status(value: object, where: str) -> str:
    if value not in ("firing", "resolved"):
        raise PayloadError("invalid_status", where)
    return value  # type: ignore[return-value]


def _labels(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError("invalid_labels", f"{where} is not an object")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError("invalid_label_value", f"{where}.{key[:64]} is not a string")
    return dict(value)


def _str(doc: dict, key: str) -> str:
    value = doc.get(key) or ""
    if not isinstance(value, str):
        raise PayloadError("invalid_payload", f"{key} is not a string")
    return value
