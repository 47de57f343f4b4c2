"""Deliveries, the naive baseline, and counting calls on the Appwrite fake."""
from __future__ import annotations

import hashlib
import json
import time

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.id import ID
from appwrite.services.messaging import Messaging
from appwrite.services.tables_db import TablesDB

from provision.runtime import invoke
from support import webhook_request


def delivery(n: int, resolved: int = 0, prefix: str = "b", starts: str = "2026-11-22T10:00:00Z") -> bytes:
    """n alerts of one group; the first `resolved` of them resolved."""
    alerts = []
    for i in range(n):
        is_resolved = i < resolved
        alerts.append({
            "status": "resolved" if is_resolved else "firing",
            "labels": {"alertname": "BenchLoad", "severity": "critical" if i % 3 == 0 else "warning",
                       "instance": f"{prefix}-host-{i}:9100", "job": "node"},
            "annotations": {"summary": f"load high on host {i}", "description": "load average above 8 for 5m",
                            "runbook_url": "https://runbooks.example/load"},
            "startsAt": starts,
            "endsAt": "2026-11-22T10:30:00Z" if is_resolved else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=load1",
            "fingerprint": hashlib.sha256(f"{prefix}/{i}".encode()).hexdigest()[:16],
        })
    return json.dumps({"receiver": "bench", "status": "firing", "alerts": alerts, "groupLabels": {"alertname": "BenchLoad"},
                       "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093", "version": "4",
                       "groupKey": '{}:{alertname="BenchLoad"}', "truncatedAlerts": 0}).encode()


def ours(processor, body: bytes) -> tuple[int, float, dict]:
    """Status, seconds, summary: the bundled function's real code path."""
    started = time.perf_counter()
    result = invoke(processor, webhook_request(body))
    return result.status, time.perf_counter() - started, result.json()


def naive(fake, body: bytes) -> float:
    """The original design: per alert a lookup, then create or update, then a message."""
    client = Client().set_endpoint(fake.endpoint).set_project(fake.project).set_key(fake.key)
    db, messaging = TablesDB(client), Messaging(client)
    started = time.perf_counter()
    for alert in json.loads(body)["alerts"]:
        labels = alert["labels"]
        data = {"fingerprint": alert["fingerprint"], "alertname": labels["alertname"], "status": alert["status"],
                "severity": labels["severity"], "instance": labels["instance"], "startsAt": alert["startsAt"],
                "occurrences": 1, "summary": alert["annotations"]["summary"]}
        try:
            db.get_row("monitoring", "alerts", alert["fingerprint"])
            db.update_row("monitoring", "alerts", alert["fingerprint"], data)
        except AppwriteException as exc:
            if exc.code != 404:
                raise
            db.create_row("monitoring", "alerts", alert["fingerprint"], data)
        topic = "critical-alerts" if labels["severity"] == "critical" else "monitoring-alerts"
        messaging.create_push(ID.unique(), title=f"{alert['status'].upper()}: {labels['alertname']}",
                              body=alert["annotations"]["summary"], topics=[topic])
    return time.perf_counter() - started
