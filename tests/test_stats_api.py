"""GET /stats and GET /metrics on alert-api (the real router and auth), SQLite store."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api_support import API_TOKENS, Api, delivery


@pytest.fixture
def api(schema, tmp_path):
    env = {"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "api.db"),
           "ALERTWRITE_API_TOKENS": API_TOKENS}
    return Api(schema, env)


NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def test_stats_answers_the_report_and_refuses_bad_input(api):
    api.seed(delivery(3))
    api.seed(delivery(2, status="resolved"))  # resolves host-0 and host-1 after 30 minutes
    answer = api("GET", "/stats", role="viewer", query="from=2026-11-22&until=2026-11-23&by=instance&top=2", now=NOW)
    assert answer.status == 200, answer.body
    o = answer.body["overall"]
    assert (o["episodes"], o["open"], o["resolved"]) == (3, 1, 2)
    assert o["mttr"] == {"n": 2, "mean": 1800.0, "median": 1800.0, "p90": 1800.0}
    assert [g["key"] for g in answer.body["groups"]] == ["host-0", "host-1", "host-2"]
    assert len(answer.body["noisy"]) == 2
    for query in ("since=7x", "since=1d&from=2026-11-01", "by=colour", "top=0", "top=x", "bucket=week"):
        bad = api("GET", "/stats", role="viewer", query=query, now=NOW)
        assert bad.status == 400 and bad.body["error"] == "invalid_query", query
    assert api("GET", "/stats", role=None, now=NOW).status == 401


def test_metrics_needs_a_viewer_unless_public(api):
    api.seed(delivery(2))
    assert api("GET", "/metrics", role=None).status == 401
    answer = api("GET", "/metrics", role="viewer")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    fams = {f.name: f for f in text_string_to_metric_families(answer.text)}
    firing = {s.labels["severity"]: s.value for s in fams["alertwrite_alerts"].samples if s.labels["state"] == "firing"}
    assert firing["critical"] == 2
    api.env["ALERTWRITE_METRICS_PUBLIC"] = "1"
    assert api("GET", "/metrics", role=None).status == 200
