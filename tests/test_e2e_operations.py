"""Operator workflows end to end: real Alertmanager -> `alertwrite serve` -> the alert-api over
HTTP, with silences mirrored into Alertmanager (checked with amtool)."""
from __future__ import annotations

import json
import time
import os
import sqlite3
import subprocess
import sys

import httpx
import pytest

from api_support import API_TOKENS, LINK_SECRET, TOKENS
from e2e_support import AMTOOL, Alertmanager, Process, free_port, ready_port, wait_until

pytestmark = pytest.mark.e2e
HOOK_TOKEN = "e2e-ops-token-" + "y" * 20


@pytest.fixture
def stack(tmp_path, project):
    port = free_port()
    am = Alertmanager(tmp_path / "am", f"http://127.0.0.1:{port}/", HOOK_TOKEN)
    env = {**os.environ, "ALERTWRITE_WEBHOOK_TOKENS": HOOK_TOKEN, "ALERTWRITE_API_TOKENS": API_TOKENS,
           "ALERTWRITE_LINK_SECRET": LINK_SECRET, "ALERTWRITE_ALERTMANAGER_URL": am.url, "PYTHONUNBUFFERED": "1",
           "ALERTWRITE_PUBLIC_URL": f"http://127.0.0.1:{port}/functions/alert-api"}
    serve = Process([sys.executable, "-m", "provision", "--root", str(project.root), "serve", "--port", str(port),
                     "--db", str(tmp_path / "alertwrite.db")], tmp_path / "serve.log", env, tmp_path)
    wait_until(lambda: ready_port(port), 60, "alertwrite serve")
    api = f"http://127.0.0.1:{port}/functions/alert-api"
    yield am, api, tmp_path / "alertwrite.db"
    serve.stop()
    am.stop()


def call(method, url, body=None, role="admin"):
    return httpx.request(method, url, json=body, headers={"Authorization": f"Bearer {TOKENS[role]}"}, timeout=15)


def messages(db) -> list[dict]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM messages ORDER BY rowid")]
    finally:
        conn.close()


def firing(api, name):
    alerts = call("GET", f"{api}/alerts?alertname={name}").json()["alerts"]
    return alerts[0] if alerts else None


def amtool_silences(am) -> list[dict]:
    out = subprocess.run([AMTOOL, f"--alertmanager.url={am.url}", "silence", "query", "-o", "json"],
                         check=True, capture_output=True, timeout=30, text=True).stdout
    return json.loads(out or "[]")


def test_ack_through_the_api_then_no_repeat_notifications(stack):
    am, api, db = stack
    am.fire("E2EAck", severity="critical", instance="web-1:9100", job="node")
    alert = wait_until(lambda: firing(api, "E2EAck"), 30, "the firing alert")
    wait_until(lambda: len(messages(db)) == 3, 10, "push, SMS and email")
    assert "/functions/alert-api/links/" in json.dumps(messages(db))  # one-tap links in every message
    acked = call("POST", f"{api}/alerts/{alert['fingerprint']}/ack", {"comment": "mine"}, role="responder").json()
    assert acked["alert"]["state"] == "acknowledged"
    # where the alert went, once the dispatcher has sent it
    wait_until(lambda: sum("ACKNOWLEDGED" in (m["subject"] or m["content"]) for m in messages(db)) == 3, 10,
               "the ack announced on push, SMS and email")
    count = len(messages(db))
    am.fire("E2EAck", severity="critical", instance="web-1:9100", job="node")  # Alertmanager re-sends
    am.fire("E2EAck2", severity="critical", instance="web-2:9100", job="node")  # and another arrives
    wait_until(lambda: firing(api, "E2EAck2"), 30, "the second alert")
    wait_until(lambda: len(messages(db)) > count, 10, "the second alert's messages")
    time.sleep(1)  # anything about the acked alert would have been sent by now too
    new = messages(db)[count:]
    assert new and all("web-1" not in json.dumps(m) for m in new)  # the acked alert does not page again
    assert firing(api, "E2EAck")["state"] == "acknowledged"


def test_silence_shows_in_alertmanager_and_expires(stack):
    am, api, db = stack
    made = call("POST", f"{api}/silences", {"matchers": ["job=batch", "instance=~db-.*"], "duration": "2h",
                                           "comment": "kernel patching"})
    assert made.status_code == 201, made.text
    silence = made.json()["silence"]
    assert silence["alertmanagerId"] and not silence["alertmanagerError"]
    (mirrored,) = amtool_silences(am)
    assert mirrored["id"] == silence["alertmanagerId"] and mirrored["createdBy"] == "admin-bot"
    assert {(m["name"], m["value"], m["isRegex"]) for m in mirrored["matchers"]} == {("job", "batch", False),
                                                                                     ("instance", "db-.*", True)}
    assert call("DELETE", f"{api}/silences/{silence['id']}").json()["silence"]["state"] == "expired"
    assert amtool_silences(am) == []  # amtool shows active silences only


def test_resolve_during_a_silence_closes_the_alert(stack):
    am, api, db = stack
    am.fire("E2ESilenced", severity="warning", instance="db-1:9100", job="db")
    alert = wait_until(lambda: firing(api, "E2ESilenced"), 30, "the firing alert")
    fp = alert["fingerprint"]
    silenced = call("POST", f"{api}/alerts/{fp}/silence", {"duration": "1h"}, role="responder").json()["alert"]
    assert silenced["state"] == "silenced"
    (mirrored,) = amtool_silences(am)
    assert {m["name"]: m["value"] for m in mirrored["matchers"]}["instance"] == "db-1:9100"
    # Silenced again for longer: one silence, extended; the ID kept is the one Alertmanager answered.
    call("POST", f"{api}/alerts/{fp}/silence", {"duration": "3h"}, role="responder")
    (extended,) = amtool_silences(am)
    (ours,) = [s for s in call("GET", f"{api}/silences").json()["silences"] if s["fingerprint"] == fp]
    assert ours["alertmanagerId"] == extended["id"] and extended["endsAt"][:13] == ours["endsAt"][:13]
    resolved = call("POST", f"{api}/alerts/{fp}/resolve", {"comment": "done"}, role="responder").json()["alert"]
    assert resolved["state"] == "resolved"
    assert amtool_silences(am) == []  # the resolve expired its Alertmanager silence
    trail = [a["action"] for a in call("GET", f"{api}/audit?fingerprint={fp}").json()["audit"]]
    assert trail == ["resolve", "silence", "silence"]
