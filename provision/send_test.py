"""A realistic Alertmanager delivery (payload v4), for checking a deployed or local function."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's: FNV-1a 64 over sorted names and values, each followed by 0xFF
    (prometheus/common model/signature.go), as 16 hex digits."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def test_delivery(status: str = "firing", severity: str = "critical", starts_at: datetime | None = None,
                  instance: str = "alertwrite-test:9100") -> dict:
    now = datetime.now(timezone.utc)
    # A firing starts now, so a firing sent after a resolve is a new episode that pages again.
    # A resolve carries startsAt = endsAt, as Alertmanager sends a resolve posted without a
    # start time; it closes whichever episode is firing (lifecycle.py).
    starts = starts_at or now
    labels = {"alertname": "AlertwriteTest", "severity": severity, "instance": instance, "job": "alertwrite"}
    annotations = {"summary": "Test alert sent by `alertwrite send-test`",
                   "description": "If you can read this, Alertmanager deliveries reach Alertwrite.",
                   "runbook_url": "https://github.com/prometheus/alertmanager"}
    alert = {"status": status, "labels": labels, "annotations": annotations,
             "startsAt": starts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
             "endsAt": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if status == "resolved" else "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus.local:9090/graph?g0.expr=vector%281%29&g0.tab=1",
             "fingerprint": fingerprint(labels)}
    return {"receiver": "alertwrite", "status": status, "alerts": [alert], "groupLabels": {"alertname": "AlertwriteTest"},
            "commonLabels": labels, "commonAnnotations": annotations, "externalURL": "http://alertmanager.local:9093",
            "version": "4", "groupKey": '{}:{alertname="AlertwriteTest"}', "truncatedAlerts": 0}


def post(url: str, token: str, body: dict, timeout: float = 15.0) -> httpx.Response:
    data = json.dumps(body, separators=(",", ":")).encode() + b"\n"  # as Go's json.Encoder writes it
    return httpx.post(url, content=data, timeout=timeout,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                               "User-Agent": "Alertmanager/0.25.0 (alertwrite send-test)"})
