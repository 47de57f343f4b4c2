"""Dead-man switch: page when the monitoring itself goes quiet.

A heartbeat expects an alert (by name and labels, e.g. kube-prometheus's always-firing
`Watchdog`) or, with `any: true`, any webhook at all. The pings are read from what intake stores
already: every delivery sets `lastSeenAt` on each alert it carries, so intake needs no extra
write. When nothing arrived for period + grace, a synthetic `AlertwriteHeartbeatMissing` alert
(label `heartbeat` names it) goes through the normal pipeline (processor.process: stored, routed,
escalated); when pings return, the same alert resolves. Armed after the first ping (OnCall's
rule), or at the first check after deployment with `arm_on_deploy: true`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..timeutil import format_ms, parse_rfc3339
from ..webhook import Alert, Delivery
from .oncall import ScheduleError, parse_duration

MISSING_ALERT = "AlertwriteHeartbeatMissing"
TABLE = "heartbeats"
LIMIT_LOW, LIMIT_HIGH = timedelta(minutes=1), timedelta(days=1)


class HeartbeatError(ScheduleError):
    pass


@dataclass(frozen=True)
class Heartbeat:
    name: str
    period: timedelta
    grace: timedelta
    alertname: str = ""
    labels: dict = field(default_factory=dict)
    any: bool = False
    arm_on_deploy: bool = False
    severity: str = "critical"

    def matches(self, row: dict) -> bool:
        if self.any:
            return row.get("alertname") != MISSING_ALERT
        labels = json.loads(row.get("labels") or "{}")
        return row.get("alertname") == self.alertname and all(labels.get(k) == v for k, v in self.labels.items())


@dataclass(frozen=True)
class Status:
    name: str
    state: str  # waiting (not armed) | ok | missing
    last_ping: datetime | None
    armed_at: datetime | None
    deadline: datetime | None


def parse_heartbeat(name: str, spec: object) -> Heartbeat:
    path = f"heartbeats.{name}"
    if not isinstance(spec, dict):
        raise HeartbeatError(path, "expected a mapping with alertname (or any: true), period and grace")
    durations = {}
    for key in ("period", "grace"):
        try:
            durations[key] = parse_duration(spec.get(key, "5m" if key == "period" else "1m"), f"{path}.{key}")
        except ScheduleError as err:
            raise HeartbeatError(err.path, str(err).split(": ", 1)[1]) from None
        if not LIMIT_LOW <= durations[key] <= LIMIT_HIGH:
            raise HeartbeatError(f"{path}.{key}", "from 1m to 1d")
    is_any = bool(spec.get("any", False))
    if not is_any and not spec.get("alertname"):
        raise HeartbeatError(f"{path}.alertname", "name the alert to expect, or say any: true")
    return Heartbeat(name, durations["period"], durations["grace"], str(spec.get("alertname") or ""),
                     {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}, is_any,
                     bool(spec.get("arm_on_deploy", False)), str(spec.get("severity") or "critical"))


def load(schema) -> list[Heartbeat]:
    return [parse_heartbeat(n, s) for n, s in (schema.section("heartbeats") or {}).items()]


def evaluate(hb: Heartbeat, last_ping: datetime | None, armed_at: datetime | None, now: datetime) -> Status:
    """Pure: the state of one heartbeat at `now`."""
    if armed_at is None:
        armed_at = last_ping or (now if hb.arm_on_deploy else None)
    if armed_at is None:
        return Status(hb.name, "waiting", None, None, None)
    deadline = max(filter(None, (last_ping, armed_at))) + hb.period + hb.grace
    return Status(hb.name, "missing" if now > deadline else "ok", last_ping, armed_at, deadline)


def fingerprint(hb: Heartbeat) -> str:
    return hashlib.sha256(f"heartbeat|{hb.name}".encode()).hexdigest()[:16]


def synthetic(hb: Heartbeat, status: Status, now: datetime, firing: bool) -> Delivery:
    labels = {"alertname": MISSING_ALERT, "heartbeat": hb.name, "severity": hb.severity}
    expected = "any webhook" if hb.any else f"{hb.alertname} {hb.labels or ''}".strip()
    since = status.deadline - hb.grace - hb.period if status.deadline else now
    annotations = {"summary": f"Heartbeat {hb.name}: no {expected} since {format_ms(since)}",
                   "description": f"Expected every {hb.period} (+{hb.grace} grace)."}
    alert = Alert(fingerprint(hb), "firing" if firing else "resolved", labels, annotations,
                  status.deadline or now, None if firing else now, "")
    return Delivery("alertwrite-heartbeats", alert.status, (alert,), group_key=f"heartbeat:{hb.name}",
                    common_labels=labels)


def _last_pings(rows, beats: list[Heartbeat]) -> dict[str, datetime | None]:
    out: dict[str, datetime | None] = {}
    newest = None
    for hb in beats:
        if hb.any:
            if newest is None:
                newest = [r for r in rows.find("alerts", order=[("lastSeenAt", "desc")], limit=10)]
            seen = next((r for r in newest if hb.matches(r) and r.get("lastSeenAt")), None)
        else:
            seen = next((r for r in rows.find("alerts", [("alertname", "=", hb.alertname)],
                                              order=[("lastSeenAt", "desc")], limit=20) if hb.matches(r)), None)
        out[hb.name] = parse_rfc3339(seen["lastSeenAt"]) if seen and seen.get("lastSeenAt") else None
    return out


def statuses(rows, schema, now: datetime) -> list[Status]:
    beats = load(schema)
    stored = {r["$id"]: r for r in rows.find_all(TABLE)}
    pings = _last_pings(rows, beats)
    return [evaluate(hb, pings[hb.name], parse_rfc3339(stored[hb.name]["armedAt"])
                     if stored.get(hb.name, {}).get("armedAt") else None, now) for hb in beats]


def run(rows, schema, settings, now: datetime) -> dict:
    from ..processor import process
    from ..stores.rows import pipeline_view

    beats = {hb.name: hb for hb in load(schema)}
    if not beats:
        return {}
    stored = {r["$id"]: r for r in rows.find_all(TABLE)}
    fresh = [{"$id": name, "name": name, "state": "waiting"} for name in beats if name not in stored]
    if fresh:
        rows.create(TABLE, fresh)
    counts = {"ok": 0, "missing": 0, "waiting": 0, "fired": 0, "resolved": 0}
    pings = _last_pings(rows, list(beats.values()))
    store, messenger = pipeline_view(rows)
    for name, hb in beats.items():
        row = stored.get(name, {})
        armed = parse_rfc3339(row["armedAt"]) if row.get("armedAt") else None
        status = evaluate(hb, pings[name], armed, now)
        counts[status.state] += 1
        changes = {}
        if status.armed_at and not armed:
            changes["armedAt"] = format_ms(status.armed_at)
        if status.state == "missing":
            # Re-sent every run while missing: process() is idempotent, and lastSeenAt stays fresh.
            process(synthetic(hb, status, now, firing=True), store, messenger, schema, now)
            if row.get("state") != "missing":
                counts["fired"] += 1
                changes.update(state="missing", missingSince=format_ms(now))
        elif status.state == "ok" and row.get("state") == "missing":
            process(synthetic(hb, status, now, firing=False), store, messenger, schema, now)
            counts["resolved"] += 1
            changes.update(state="ok", missingSince=None)
        elif status.state != row.get("state") and status.state == "ok":
            changes["state"] = "ok"
        if changes:
            rows.update(TABLE, name, changes)
    return counts
