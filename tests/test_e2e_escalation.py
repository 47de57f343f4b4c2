"""Escalation end to end: real Alertmanager -> `alertwrite serve`, whose own one-minute cron runs
alert-scheduler. Step 1 pages whoever is on call, step 2 (1 minute later) the next level.
About two minutes: the one slow test of escalation; every other case travels in time."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys

import pytest
import yaml

from e2e_support import Alertmanager, Process, free_port, ready_port, wait_until

pytestmark = pytest.mark.e2e
HOOK_TOKEN = "e2e-esc-token-" + "z" * 20


def pages(db) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        return [(json.loads(t)[0], m) for t, m in conn.execute(
            "SELECT topics, medium FROM messages WHERE subject LIKE '[ESCALATION]%' ORDER BY \"$createdAt\"")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_a_page_reaches_the_on_call_person_then_the_next_level(tmp_path, project):
    root = tmp_path / "proj"
    shutil.copytree(project.root / "schemas", root / "schemas")
    shutil.copytree(project.root / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    doc = yaml.safe_load((root / "schemas" / "escalation.yaml").read_text())
    doc["schedules"] = {"primary": {"timezone": "Europe/Berlin", "layers": [
        {"users": ["ann", "ann", "ann"], "rotation_start": "2026-01-05", "handoff": "09:00", "turn": "1d"}]}}
    doc["policies"] = {"pages": {"match": {"severity": "critical"}, "steps": [
        {"notify": ["oncall:primary"], "media": ["push"]}, {"after": "1m", "notify": ["user:lead"], "media": ["sms"]}]}}
    (root / "schemas" / "escalation.yaml").write_text(yaml.safe_dump(doc))
    port = free_port()
    am = Alertmanager(tmp_path / "am", f"http://127.0.0.1:{port}/", HOOK_TOKEN)
    db = tmp_path / "alertwrite.db"
    serve = Process([sys.executable, "-m", "provision", "--root", str(root), "serve", "--port", str(port),
                     "--db", str(db)], tmp_path / "serve.log",
                    {**os.environ, "ALERTWRITE_WEBHOOK_TOKENS": HOOK_TOKEN, "PYTHONUNBUFFERED": "1"}, tmp_path)
    try:
        wait_until(lambda: ready_port(port), 60, "alertwrite serve")
        am.fire("DiskFull", severity="critical", instance="db-1")
        wait_until(lambda: pages(db) == [("user:ann", "push")], 100, "step 1 to the on-call person", interval=1)
        wait_until(lambda: pages(db) == [("user:ann", "push"), ("user:lead", "sms")], 100,
                   "step 2 to the next level", interval=1)
    finally:
        serve.stop()
        am.stop()
