"""Driving the operator API in tests: seed alerts through the real pipeline, call `handle`."""
from __future__ import annotations

import json
from datetime import datetime

from alertwrite import api  # noqa: F401  (registers the routes)
from alertwrite.api.app import handle
from alertwrite.processor import process
from alertwrite.settings import load_settings
from alertwrite.stores import open_backend
from alertwrite.timeutil import utcnow
from alertwrite.webhook import parse_delivery

TOKENS = {"viewer": "tok-viewer-0123456789", "responder": "tok-responder-0123456789", "admin": "tok-admin-0123456789"}
API_TOKENS = ",".join(f"{role}-bot:{role}:{tok}" for role, tok in TOKENS.items())
LINK_SECRET = "link-secret-for-tests-0123456789"
PUBLIC_URL = "https://api.example.test/functions/alert-api"


def delivery(n: int = 1, status: str = "firing", starts: str = "2026-11-22T10:00:00Z", prefix: str = "",
             severity: str = "critical", extra: dict | None = None) -> bytes:
    alerts = [{"status": status, "labels": {"alertname": "Load", "severity": severity, "instance": f"{prefix}host-{i}",
                                            "job": "node", **(extra or {})},
               "annotations": {"summary": f"load on host-{i}"}, "startsAt": starts,
               "endsAt": "2026-11-22T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
               "generatorURL": "", "fingerprint": f"{prefix}{i:015x}"[-16:]} for i in range(n)]
    return json.dumps({"receiver": "r", "status": status, "alerts": alerts, "groupLabels": {}, "commonLabels": {},
                       "commonAnnotations": {}, "externalURL": "", "version": "4", "groupKey": "{}:{}",
                       "truncatedAlerts": 0}).encode()


def fp(i: int, prefix: str = "") -> str:
    return f"{prefix}{i:015x}"[-16:]


class Api:
    def __init__(self, schema, env: dict, key: str = ""):
        self.schema, self.env, self.key = schema, env, key
        self.logs: list[str] = []

    def seed(self, body: bytes, now: datetime | None = None):
        settings = load_settings({**self.env, "ALERTWRITE_WEBHOOK_TOKENS": "x"}, {"x-appwrite-key": self.key})
        with open_backend(settings, self.schema) as (store, messenger):
            return process(parse_delivery(body), store, messenger, self.schema, now or utcnow())

    def __call__(self, method: str, path: str, body=None, role: str | None = "admin", headers: dict | None = None,
                 query: str = "", now: datetime | None = None):
        hdrs = {"x-appwrite-key": self.key, "content-type": "application/json"}
        if role:
            hdrs["authorization"] = f"Bearer {TOKENS[role]}"
        hdrs.update(headers or {})
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        return handle(method, path, query, hdrs, raw, self.env, self.schema, log=self.logs.append, now=now)
