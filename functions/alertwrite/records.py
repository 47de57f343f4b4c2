"""Rows of the `alerts` and `alert_episodes` tables as typed records.

`to_row` fits every value to its column's declared size (truncating visibly, never
rejecting) so Appwrite never answers row_invalid_structure for an oversized annotation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from .schema import Table
from .timeutil import format_ms, parse_rfc3339

TRUNCATION_MARK = "…[truncated]"
# json.dumps with options builds a new encoder on every call; this one is built once.
_to_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
ALERTS_TABLE = "alerts"
EPISODES_TABLE = "alert_episodes"


def fit(value: str, size: int | None) -> str:
    if size is None or len(value) <= size:
        return value
    keep = max(size - len(TRUNCATION_MARK), 0)
    return (value[:keep] + TRUNCATION_MARK)[:size]


def episode_start(starts_at: datetime) -> datetime:
    """An episode's identity: startsAt to the whole second. Alertmanager re-posts one episode
    with coarser startsAt (a resolve via amtool arrives as 10:05:30Z for a firing
    10:05:30.817119509Z: captures 0001/0004), and no alert re-fires within a second."""
    return starts_at.replace(microsecond=0)


def episode_id(fingerprint: str, starts_at: datetime) -> str:
    """One row per firing episode, as a valid row ID (≤36 chars)."""
    return f"{fingerprint}.{int(episode_start(starts_at).timestamp()):x}"


@dataclass(frozen=True)
class AlertRecord:
    fingerprint: str
    status: str
    starts_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: datetime | None = None
    last_seen_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str = ""
    generator_url: str = ""
    group_key: str = ""
    receiver: str = ""
    occurrences: int = 1
    truncated_alerts: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    # A new episode clears an acknowledgement; otherwise the row keeps whatever an
    # on-call engineer set, because upserts leave omitted columns untouched.
    clear_ack: bool = False

    def to_row(self, table: Table) -> dict:
        row = {
            "fingerprint": self.fingerprint,
            "alertname": self.labels.get("alertname", ""),
            "status": self.status,
            "severity": self.labels.get("severity", ""),
            "instance": self.labels.get("instance", ""),
            "job": self.labels.get("job", ""),
            "summary": self.annotations.get("summary", ""),
            "description": self.annotations.get("description", ""),
            "labels": _to_json(self.labels),
            "annotations": _to_json(self.annotations),
            "startsAt": format_ms(self.starts_at),
            "endsAt": format_ms(self.ends_at),
            "lastSeenAt": format_ms(self.last_seen_at),
            "resolvedAt": format_ms(self.resolved_at),
            "resolvedBy": self.resolved_by,
            "generatorURL": self.generator_url,
            "groupKey": self.group_key,
            "receiver": self.receiver,
            "occurrences": self.occurrences,
            "truncatedAlerts": self.truncated_alerts,
        }
        if self.clear_ack:
            row["acknowledgedAt"] = None
            row["acknowledgedBy"] = None
        return fit_row(row, table)

    @classmethod
    def from_row(cls, row: dict) -> "AlertRecord":
        return cls(
            fingerprint=row["fingerprint"],
            status=row["status"],
            starts_at=parse_rfc3339(row["startsAt"]),
            labels=_json_map(row.get("labels")),
            annotations=_json_map(row.get("annotations")),
            ends_at=_time(row.get("endsAt")),
            last_seen_at=_time(row.get("lastSeenAt")),
            resolved_at=_time(row.get("resolvedAt")),
            resolved_by=row.get("resolvedBy") or "",
            generator_url=row.get("generatorURL") or "",
            group_key=row.get("groupKey") or "",
            receiver=row.get("receiver") or "",
            occurrences=int(row.get("occurrences") or 1),
            truncated_alerts=int(row.get("truncatedAlerts") or 0),
            acknowledged_at=_time(row.get("acknowledgedAt")),
            acknowledged_by=row.get("acknowledgedBy") or "",
        )

    def evolve(self, **changes) -> "AlertRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class EpisodeRecord:
    """One firing episode. Fields left None are omitted, so a late resolve of an old
    episode updates its end without knowing its occurrence number."""
    fingerprint: str
    starts_at: datetime
    status: str
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    ends_at: datetime | None = None
    resolved_at: datetime | None = None
    occurrence: int | None = None

    @property
    def row_id(self) -> str:
        return episode_id(self.fingerprint, self.starts_at)

    def to_row(self, table: Table) -> dict:
        row: dict = {"fingerprint": self.fingerprint, "startsAt": format_ms(self.starts_at),
                     "status": self.status}
        if self.labels is not None:
            row.update(alertname=self.labels.get("alertname", ""),
                       severity=self.labels.get("severity", ""),
                       instance=self.labels.get("instance", ""))
        if self.annotations is not None:
            row["summary"] = self.annotations.get("summary", "")
        if self.ends_at is not None:
            row["endsAt"] = format_ms(self.ends_at)
        if self.resolved_at is not None:
            row["resolvedAt"] = format_ms(self.resolved_at)
            row["durationSeconds"] = round((self.resolved_at - self.starts_at).total_seconds(), 3)
        if self.occurrence is not None:
            row["occurrence"] = self.occurrence
        return fit_row(row, table)


def fit_row(row: dict, table: Table) -> dict:
    for key, size in table.string_sizes.items():
        value = row.get(key)
        if value is not None and len(value) > size:
            row[key] = fit(value, size)
    return row


def _time(value) -> datetime | None:
    return parse_rfc3339(value) if value else None


def _json_map(value) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:  # a value truncated on the way in
        return {}
    return parsed if isinstance(parsed, dict) else {}
