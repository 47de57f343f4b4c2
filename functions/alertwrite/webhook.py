"""Parse an Alertmanager webhook body (payload version 4) into typed objects.

Everything past this module works on `Delivery` and `Alert`; nothing indexes raw dicts.
"""
from __future__ import annotations

import hashlib
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
# Alertmanager writes a fingerprint as a 64-bit hash in 16 hex digits (model.Fingerprint.String).
# 16 also keeps every row ID built from it (alerts: the fingerprint, episodes and claims: with a
# suffix) within Appwrite's 36 characters, so both backends accept exactly the same bodies.
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{1,16}")
# truncatedAlerts is stored in an integer column: Appwrite's is a signed 64-bit value.
MAX_COUNT = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


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

    @property
    def digest(self) -> str:
        """Names this delivery's content (not its arrival): Alertmanager's retries of one
        notification, and an HA peer's copy of it, have the same digest."""
        h = hashlib.sha256(f"{self.receiver}\n{self.group_key}".encode())
        for a in sorted(self.alerts, key=lambda a: (a.fingerprint, a.status, a.starts_at)):
            h.update(f"\n{a.fingerprint} {a.status} {a.starts_at.isoformat()} "
                     f"{a.ends_at.isoformat() if a.ends_at else ''}".encode())
        return h.hexdigest()[:32]


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
    except RecursionError:  # e.g. 1000 nested arrays in 2 KB
        raise PayloadError("invalid_json", "nested too deeply") from None
    if not isinstance(doc, dict):
        raise PayloadError("invalid_payload", "top level is not an object")
    if doc.get("version") != "4":
        raise PayloadError("unsupported_version", f"version {str(doc.get('version'))[:10]!r}, expected '4'")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("invalid_payload", "alerts is not a list")
    parsed = tuple(_parse_alert(a, i) for i, a in enumerate(alerts))
    truncated = doc.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or not 0 <= truncated <= MAX_COUNT:
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
    if not isinstance(fingerprint, str) or not _FINGERPRINT.fullmatch(fingerprint):
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
    _check_text(generator, f"{where}.generatorURL")
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
            raise PayloadError("invalid_label_value", f"{where}.{_printable(key)} is not a string")
        if not (key.isascii() and item.isascii()):  # the rest cannot hold a surrogate
            _check_text(key, f"{where} key")
            _check_text(item, f"{where}.{_printable(key)}")
    return dict(value)


def _str(doc: dict, key: str) -> str:
    value = doc.get(key) or ""
    if not isinstance(value, str):
        raise PayloadError("invalid_payload", f"{key} is not a string")
    return _check_text(value, key)


def _check_text(value: str, where: str) -> str:
    """A lone surrogate (JSON "\\ud800") is not text: it cannot be encoded as UTF-8, so no store
    can keep it. Go's encoder never writes one, so only a hand-made body carries it."""
    if not value.isascii() and _SURROGATE.search(value):
        raise PayloadError("invalid_unicode", f"{where} holds a lone UTF-16 surrogate")
    return value


def _printable(key: str) -> str:
    return _SURROGATE.sub("?", key[:64])
