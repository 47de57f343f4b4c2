"""Retention (finished rows only, batched) and heartbeat evaluation, on the real SQLite RowStore."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alertwrite.scheduling import retention
from alertwrite.scheduling.heartbeats import HeartbeatError, evaluate, parse_heartbeat
from alertwrite.stores.sqlite_rows import SqliteRows
from alertwrite.timeutil import format_ms

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def ago(days):
    return format_ms(NOW - timedelta(days=days))


def test_retention_deletes_only_old_finished_rows_in_batches(schema, tmp_path):
    with SqliteRows.transaction(str(tmp_path / "r.db"), schema) as rows:
        rows.create("alert_episodes", [
            {"$id": f"old{i}", "fingerprint": "f", "startsAt": ago(200), "status": "resolved", "resolvedAt": ago(100)}
            for i in range(retention.BATCH + 5)] + [
            {"$id": "open", "fingerprint": "f", "startsAt": ago(200), "status": "firing"},
            {"$id": "recent", "fingerprint": "f", "startsAt": ago(10), "status": "resolved", "resolvedAt": ago(5)}])
        rows.create("audit_log", [
            {"$id": f"a{d}", "at": ago(d), "actor": "x", "actorKind": "system", "action": "ack",
             "targetType": "alert", "target": "f"} for d in (100, 400)])
        rows.create("escalations", [
            {"$id": "e-open", "fingerprint": "f", "episode": 1, "policy": "p", "snapshot": "{}",
             "startedAt": ago(200), "status": "open"},
            {"$id": "e-done", "fingerprint": "g", "episode": 1, "policy": "p", "snapshot": "{}",
             "startedAt": ago(200), "status": "closed", "closedAt": ago(150)}])
        rows.create("escalation_log", [
            {"$id": f"t-{e}", "escalation": e, "fingerprint": "f", "kind": "step", "at": ago(180)}
            for e in ("e-open", "e-done")])
        first = retention.run(rows, schema, None, NOW, env={})
        assert first["deleted"] == {"alert_episodes": retention.BATCH, "audit_log": 1, "escalations": 1,
                                    "escalation_log": 1}
        second = retention.run(rows, schema, None, NOW, env={})
        assert second["deleted"] == {"alert_episodes": 5}
        left = {r["$id"] for r in rows.find_all("alert_episodes")}
        assert left == {"open", "recent"}
        assert {r["$id"] for r in rows.find_all("audit_log")} == {"a100"}  # the audit trail is kept longer
        assert {r["$id"] for r in rows.find_all("escalation_log")} == {"t-e-open"}  # never under an open escalation
        assert retention.run(rows, schema, None, NOW, env={"ALERTWRITE_RETENTION_DAYS": "0",
                                                           "ALERTWRITE_AUDIT_RETENTION_DAYS": "0"}) == {"deleted": {}}
    with pytest.raises(ValueError):
        retention.rules({"ALERTWRITE_RETENTION_DAYS": "soon"}, NOW)


def test_heartbeat_is_armed_by_the_first_ping_and_missing_after_period_plus_grace():
    hb = parse_heartbeat("w", {"alertname": "Watchdog", "period": "5m", "grace": "1m"})
    assert evaluate(hb, None, None, NOW).state == "waiting"
    ping = NOW - timedelta(minutes=6)
    assert evaluate(hb, ping, ping, NOW).state == "ok"
    assert evaluate(hb, ping, ping, NOW + timedelta(seconds=1)).state == "missing"
    deploy = parse_heartbeat("d", {"any": True, "period": "1m", "grace": "1m", "arm_on_deploy": True})
    assert evaluate(deploy, None, None, NOW).state == "ok"
    assert evaluate(deploy, None, NOW, NOW + timedelta(minutes=3)).state == "missing"


@pytest.mark.parametrize("spec, path", [({"alertname": "W", "period": "30s"}, "heartbeats.x.period"),
                                        ({"alertname": "W", "grace": "2d"}, "heartbeats.x.grace"),
                                        ({"period": "5m"}, "heartbeats.x.alertname")])
def test_bad_heartbeats_name_the_key(spec, path):
    with pytest.raises(HeartbeatError) as err:
        parse_heartbeat("x", spec)
    assert err.value.path == path
