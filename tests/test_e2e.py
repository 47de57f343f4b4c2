"""End to end: real Alertmanager (and Prometheus) deliver to `alertwrite serve`.

Each scenario runs against `serve` on the embedded SQLite store (a real subprocess, as a user
runs it); the main ones also against `serve --backend appwrite` talking to the Appwrite fake.
"""
from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from e2e_support import Alertmanager, Prometheus, ServeProcess, wait_until

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token-" + "x" * 24


class SqlitePipeline:
    def __init__(self, tmp_path, project):
        self.serve = ServeProcess(tmp_path, project.root, TOKEN)
        self.url = self.serve.url
        self._lock: sqlite3.Connection | None = None

    def _query(self, sql):
        if not self.serve.db.exists():
            return []
        conn = sqlite3.connect(self.serve.db)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql)]
        except sqlite3.OperationalError:  # tables not created yet
            return []
        finally:
            conn.close()

    def alerts(self) -> dict[str, dict]:
        return {r["fingerprint"]: r for r in self._query('SELECT * FROM "alerts"')}

    def messages(self) -> list[dict]:
        return self._query('SELECT * FROM "messages"')

    def log(self) -> str:
        return self.serve.process.output()

    def break_store(self):
        self._query("SELECT 1")
        self._lock = sqlite3.connect(self.serve.db, isolation_level=None)
        self._lock.execute("BEGIN EXCLUSIVE")

    def fix_store(self):
        self._lock.execute("ROLLBACK")
        self._lock.close()

    def stop(self):
        self.serve.stop()


class AppwritePipeline:
    """`alertwrite serve --backend appwrite` (a real subprocess) against the Appwrite fake,
    which listens on a loopback port of its own."""

    def __init__(self, tmp_path, project, schema):
        from appwrite_fake import AppwriteFake
        from appwrite_fake.http import serve_http
        from support import seed_schema
        self.fake = AppwriteFake()
        seed_schema(self.fake, schema)
        self.http, endpoint = serve_http(self.fake)
        self.serve = ServeProcess(tmp_path, project.root, TOKEN, (endpoint, self.fake.project, self.fake.key))
        self.url = self.serve.url

    def alerts(self):
        return dict(self.fake.rows("monitoring", "alerts"))

    def messages(self):
        return self.fake.messages()

    def log(self):
        return self.serve.process.output()

    def break_store(self):
        self.fake.outage("503")

    def fix_store(self):
        self.fake.outage(None)

    def stop(self):
        self.serve.stop()
        self.http.shutdown()


@pytest.fixture(params=["sqlite", "appwrite"])
def pipeline(request, tmp_path, project, schema):
    p = SqlitePipeline(tmp_path, project) if request.param == "sqlite" else AppwritePipeline(tmp_path, project, schema)
    yield p
    p.stop()


@pytest.fixture
def sqlite_pipeline(tmp_path, project):
    p = SqlitePipeline(tmp_path, project)
    yield p
    p.stop()


def start_alertmanager(tmp_path, pipeline, token=TOKEN):
    return Alertmanager(tmp_path / "am", pipeline.url, token)


def rows_named(pipeline, name):
    return [r for r in pipeline.alerts().values() if r["alertname"] == name]


def test_fire_resolve_refire(tmp_path, pipeline):
    am = start_alertmanager(tmp_path, pipeline)
    try:
        am.fire("E2EHighCPU", severity="critical", instance="web-1:9100", job="node")
        (row,) = wait_until(lambda: rows_named(pipeline, "E2EHighCPU"), 30, "the firing alert")
        assert (row["status"], row["occurrences"], row["severity"]) == ("firing", 1, "critical")
        assert row["receiver"] == "alertwrite" and row["groupKey"] == '{}:{alertname="E2EHighCPU"}'
        wait_until(lambda: len(pipeline.messages()) == 3, 10, "push, SMS and email")

        am.fire("E2EHighCPU", resolve=True, severity="critical", instance="web-1:9100", job="node")
        wait_until(lambda: rows_named(pipeline, "E2EHighCPU")[0]["status"] == "resolved", 30, "the resolve")
        row = rows_named(pipeline, "E2EHighCPU")[0]
        assert row["resolvedAt"] and row["resolvedBy"] == "alertmanager"
        wait_until(lambda: len(pipeline.messages()) == 6, 10, "the resolve messages")

        am.fire("E2EHighCPU", severity="critical", instance="web-1:9100", job="node")
        wait_until(lambda: rows_named(pipeline, "E2EHighCPU")[0]["occurrences"] == 2, 30, "the re-fire")
        row = rows_named(pipeline, "E2EHighCPU")[0]
        assert row["status"] == "firing" and row["resolvedAt"] is None
        wait_until(lambda: len(pipeline.messages()) == 9, 10, "the re-fire messages")
    finally:
        am.stop()
    assert len({m["$id"] for m in pipeline.messages()}) == 9


def test_wrong_token_is_refused_until_fixed(tmp_path, pipeline):
    am = start_alertmanager(tmp_path, pipeline, token="not-the-token")
    try:
        am.fire("E2EBadToken", severity="warning", instance="i-1", job="j")
        wait_until(lambda: pipeline.log().count("401") >= 2, 30, "Alertmanager re-sending after 401")
        assert rows_named(pipeline, "E2EBadToken") == [] and pipeline.messages() == []
        am.write_config(pipeline.url, TOKEN)
        am.reload()
        (row,) = wait_until(lambda: rows_named(pipeline, "E2EBadToken"), 30, "the alert after the fix")
        assert row["status"] == "firing"
        wait_until(lambda: len(pipeline.messages()) == 1, 10, "one email")
    finally:
        am.stop()


def test_store_outage_answers_503_then_lands_exactly_once(tmp_path, pipeline):
    am = start_alertmanager(tmp_path, pipeline)
    try:
        pipeline.break_store()
        try:
            am.fire("E2EOutage", severity="warning", instance="db-1", job="db")  # routed to email only
            wait_until(lambda: " 503 " in pipeline.log(), 30, "a 503 answer")
            assert rows_named(pipeline, "E2EOutage") == []
        finally:
            pipeline.fix_store()
        wait_until(lambda: rows_named(pipeline, "E2EOutage"), 40, "the alert after the outage")
        wait_until(lambda: pipeline.messages(), 10, "the message")
        time.sleep(2.5)  # two more group_interval ticks: nothing may arrive again
        assert len(rows_named(pipeline, "E2EOutage")) == 1
        assert len(pipeline.messages()) == 1, "exactly one message"
    finally:
        am.stop()
    assert "store unavailable" in pipeline.log()


def test_group_over_max_alerts_records_truncation(tmp_path, sqlite_pipeline):
    am = start_alertmanager(tmp_path, sqlite_pipeline)
    try:
        alerts = [{"labels": {"alertname": "E2EDiskFull", "route": "max2", "severity": "warning",
                              "instance": f"db-{i}", "job": "db"}, "annotations": {"summary": "disk"}} for i in range(4)]
        assert httpx.post(am.url + "/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        rows = wait_until(lambda: [r for r in rows_named(sqlite_pipeline, "E2EDiskFull") if r["truncatedAlerts"] == 2],
                          30, "a truncated delivery")
        assert len(rows) == 2 and len(rows_named(sqlite_pipeline, "E2EDiskFull")) == 2
        assert "truncated by max_alerts: 2 alerts not received" in sqlite_pipeline.log()
    finally:
        am.stop()


def test_prometheus_rule_reaches_the_table(tmp_path, sqlite_pipeline):
    am = start_alertmanager(tmp_path, sqlite_pipeline)
    prom = Prometheus(tmp_path / "prom", am.url, """
groups:
  - name: e2e
    rules:
      - alert: E2EAlwaysFiring
        expr: vector(1)
        labels: {severity: critical, team: sre}
        annotations: {summary: "always firing (value {{ $value }})"}
""")
    try:
        (row,) = wait_until(lambda: rows_named(sqlite_pipeline, "E2EAlwaysFiring"), 90, "the Prometheus alert")
        assert row["generatorURL"].startswith(prom.url + "/graph?g0.expr=vector%281%29")
        assert json.loads(row["labels"])["cluster"] == "e2e"
        assert row["summary"] == "always firing (value 1)"
    finally:
        prom.stop()
        am.stop()
