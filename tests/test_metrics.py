"""Prometheus metrics: process counters, gauges from the tables, the shipped rules and dashboard."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alertwrite.stats import metrics

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "provision" / "monitoring"


def families(body: bytes) -> dict:
    return {f.name: f for f in text_string_to_metric_families(body.decode("utf-8"))}


def sample(fams: dict, name: str, suffix: str = "", **labels) -> float:
    family = fams[name]
    for s in family.samples:
        if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((name, suffix, labels))


def test_delivery_outcomes_follow_alertmanagers_retrier():
    assert [metrics.delivery_outcome(s) for s in (200, 204, 400, 413, 401, 403, 500, 503)] == \
        ["200", "200", "400", "400", "401", "401", "5xx", "5xx"]
    assert [metrics.severity_class(s) for s in ("Critical", "", None, "page-me-now", "info")] == \
        ["critical", "none", "none", "other", "info"]


def test_process_counters_are_exposed_and_grow():
    before = families(metrics.render(None, None)[0])
    base = sample(before, "alertwrite_deliveries", "_total", outcome="5xx")
    metrics.observe_delivery(503, 0.02)
    metrics.observe_delivery("5xx", 0.2)
    metrics.observe_notification("slack", "sent", 1.5)
    body, content_type = metrics.render(None, None)
    assert content_type.startswith("text/plain; version=0.0.4")
    after = families(body)
    assert sample(after, "alertwrite_deliveries", "_total", outcome="5xx") == base + 2
    assert sample(after, "alertwrite_delivery_duration_seconds", "_bucket", le="0.025") >= 1
    assert sample(after, "alertwrite_notifications", "_total", channel_type="slack", outcome="sent") >= 1
    (build,) = after["alertwrite_build_info"].samples
    assert build.value == 1.0 and build.labels["version"] == metrics.version() != "unknown"
    with pytest.raises(ValueError):
        metrics.observe_notification("slack", "exploded")


def test_bundle_copies_share_one_set_of_counters(tmp_path):
    """serve imports each function bundle as its own package; a count made in one is seen by all."""
    from provision.bundle import build_bundle
    from provision.project import find_project
    from provision.runtime import load_entrypoint

    project = find_project(ROOT)
    bundle = build_bundle(project, "alert-processor", tmp_path, project.load_schema())
    entry = load_entrypoint(bundle)
    package = entry.__name__.rsplit(".", 2)[0]
    __import__(f"{package}.src.alertwrite.stats.metrics")
    copy = sys.modules[f"{package}.src.alertwrite.stats.metrics"]
    assert copy is not metrics
    base = sample(families(metrics.render(None, None)[0]), "alertwrite_deliveries", "_total", outcome="401")
    copy.observe_delivery(401, 0.001)
    assert sample(families(metrics.render(None, None)[0]), "alertwrite_deliveries", "_total", outcome="401") == base + 1


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (Debian package prometheus; tests/run.sh installs it)")
    return path


def test_rules_pass_promtool_check_and_their_unit_tests():
    tool = promtool()
    check = subprocess.run([tool, "check", "rules", str(MONITORING / "alertwrite.rules.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 9 rules found" in check.stdout
    unit = subprocess.run([tool, "test", "rules", "alertwrite.rules.test.yml"], cwd=MONITORING,
                          capture_output=True, text=True)
    assert unit.returncode == 0, unit.stdout + unit.stderr


METRIC_NAME = re.compile(r"\balertwrite_[a-z0-9_]+")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_info", "_created")


def used_metrics(exprs: list[str]) -> set[str]:
    return {m for e in exprs for m in METRIC_NAME.findall(e)}


def exposed_names(fams: dict) -> set[str]:
    """Every series name the exposition can carry, including families with no sample yet."""
    names = set()
    for f in fams.values():
        names.add(f.name)
        names.update(s.name for s in f.samples)
        if f.type == "counter":
            names.add(f.name + "_total")
        if f.type == "histogram":
            names.update(f.name + s for s in ("_bucket", "_count", "_sum"))
        if f.type == "info":
            names.add(f.name + "_info")
    return names


def shipped_exprs() -> tuple[list[str], list[str]]:
    import yaml

    rules = yaml.safe_load((MONITORING / "alertwrite.rules.yml").read_text())
    rule_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    dash_exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    return rule_exprs, dash_exprs


def test_gauges_are_read_from_the_tables(tmp_path, schema):
    from alertwrite.settings import Settings
    from alertwrite.stores import open_rows

    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "m.db"))
    t = "2026-11-01T00:00:00.000+00:00"

    def alert(fp, status, severity, **extra):
        return {"$id": fp, "fingerprint": fp, "status": status, "severity": severity, "startsAt": t,
                "occurrences": 1, **extra}
    with open_rows(settings, schema) as rows:
        rows.create("alerts", [alert("a", "firing", "critical"), alert("b", "firing", "Critical",
                                                                       acknowledgedAt=t, acknowledgedBy="al"),
                               alert("c", "firing", "page-now"), alert("d", "resolved", "warning"),
                               alert("e", "resolved", ""), alert("f", "resolved", "sev1")])
        if "silencedUntil" in {c.key for c in schema.table("alerts").columns}:
            rows.create("alerts", [alert("g", "firing", "info", silencedUntil="2999-01-01T00:00:00.000+00:00")])
        fams = families(metrics.render(rows, schema)[0])
    got = {(s.labels["state"], s.labels["severity"]): s.value for s in fams["alertwrite_alerts"].samples if s.value}
    expected = {("firing", "critical"): 1, ("acknowledged", "critical"): 1, ("firing", "other"): 1,
                ("resolved", "warning"): 1, ("resolved", "none"): 1, ("resolved", "other"): 1}
    if "silencedUntil" in {c.key for c in schema.table("alerts").columns}:
        expected[("silenced", "info")] = 1
    assert got == expected
    for name in ("alertwrite_notifications_pending", "alertwrite_notifications_dead",
                 "alertwrite_escalation_lateness_seconds", "alertwrite_heartbeat_last_seen_timestamp_seconds"):
        assert name in fams
    no_fingerprints = [s for f in fams.values() for s in f.samples if set(s.labels.values()) & set("abcdefg")]
    assert no_fingerprints == []


def test_rules_and_dashboard_use_only_exposed_metrics(tmp_path, schema):
    from alertwrite.settings import Settings
    from alertwrite.stores import open_rows

    with open_rows(Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "d.db")), schema) as rows:
        names = exposed_names(families(metrics.render(rows, schema)[0]))
    rule_exprs, dash_exprs = shipped_exprs()
    assert len(dash_exprs) >= 12 and len(rule_exprs) == 9
    for expr in rule_exprs + dash_exprs:
        assert used_metrics([expr]), expr
        assert used_metrics([expr]) <= names, (expr, used_metrics([expr]) - names)
    required = {"alertwrite_alerts", "alertwrite_deliveries_total", "alertwrite_delivery_duration_seconds_bucket",
                "alertwrite_notifications_total", "alertwrite_notification_latency_seconds_bucket",
                "alertwrite_notifications_pending", "alertwrite_notifications_dead",
                "alertwrite_escalation_lateness_seconds", "alertwrite_heartbeat_last_seen_timestamp_seconds",
                "alertwrite_build_info"}
    assert required <= names
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
