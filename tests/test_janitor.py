from datetime import datetime, timedelta, timezone

from alertwrite.janitor import sweep
from alertwrite.lifecycle import reconcile
from alertwrite.stores.sqlite import SqliteBackend
from alertwrite.webhook import parse_delivery
from alertwrite.writes import write_alerts, write_episodes
from provision.runtime import Request, execution_headers, invoke, load_entrypoint
from support import body_of, webhook_request

NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def save(store, schema, plan):
    write_episodes(store, schema, plan.episodes)
    assert write_alerts(store, schema, plan.alerts) == []


def test_stale_firing_alerts_are_resolved_and_reopen_if_alertmanager_still_sends_them(schema, tmp_path):
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    firing = parse_delivery(body_of("0003"))
    with backend.unit_of_work() as (store, _):
        plan = reconcile(firing, {}, NOW - timedelta(hours=13))
        save(store, schema, plan)
    with backend.unit_of_work() as (store, _):
        assert sweep(store, schema, NOW, timedelta(hours=12)).resolved == 2
        assert sweep(store, schema, NOW, timedelta(hours=12)).resolved == 0
        after = store.fetch_alerts([a.fingerprint for a in firing.alerts])
    assert {(r.status, r.resolved_by) for r in after.values()} == {("resolved", "janitor")}
    plan = reconcile(firing, after, NOW)  # the next repeat from Alertmanager
    assert [t.kind for t in plan.transitions] == ["firing", "firing"]
    assert {c.new.status for c in plan.alerts} == {"firing"}


def test_recent_alerts_are_left_alone(schema, tmp_path):
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    with backend.unit_of_work() as (store, _):
        plan = reconcile(parse_delivery(body_of("0001")), {}, NOW - timedelta(hours=1))
        save(store, schema, plan)
        assert sweep(store, schema, NOW, timedelta(hours=12)).resolved == 0


def test_the_scheduled_function_against_appwrite(bundles, appwrite_env, processor, monkeypatch):
    scheduler = load_entrypoint(bundles["alert-scheduler"])  # the janitor is one of its jobs
    assert invoke(processor, webhook_request(body_of("0001"))).status == 200
    schedule = Request("POST", "/", "", execution_headers(trigger="schedule", key=appwrite_env.key), b"")
    assert invoke(scheduler, schedule).json()["janitor"] == {"resolved": 0, "moreLeft": False}
    monkeypatch.setenv("ALERTWRITE_STALE_AFTER_MINUTES", "0.0001")
    import time
    time.sleep(0.05)
    result = invoke(scheduler, schedule)
    assert result.json()["janitor"] == {"resolved": 1, "moreLeft": False}
    row = appwrite_env.rows("monitoring", "alerts")["ab906f89a7cb9bdc"]
    assert (row["status"], row["resolvedBy"]) == ("resolved", "janitor")
    monkeypatch.setenv("ALERTWRITE_STALE_AFTER_MINUTES", "0")
    assert invoke(scheduler, schedule).json()["janitor"] == {"off": True}


def _huge_alert_body(description_kb: int, labels_kb: int) -> bytes:
    import json
    labels = {"alertname": "Huge", "severity": "critical", "instance": "db-1:9100"}
    for i in range(labels_kb):
        labels[f"l{i:03d}"] = "v" * 1000
    alert = {"status": "firing", "labels": labels, "fingerprint": "00000000000000aa",
             "annotations": {"summary": "big one", "description": "d" * (description_kb * 1024)},
             "startsAt": "2026-11-22T10:00:00.5Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}
    return json.dumps({"version": "4", "status": "firing", "receiver": "r", "groupKey": "g", "alerts": [alert],
                       "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": ""}).encode()


def test_janitor_never_erases_alert_text_or_labels(schema, tmp_path):
    """§5: a 70 KB description and more than 64 KB of labels survive a janitor run, and the cut
    JSON columns stay valid JSON."""
    import json
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    delivery = parse_delivery(_huge_alert_body(70, 70))
    with backend.unit_of_work() as (store, _):
        save(store, schema, reconcile(delivery, {}, NOW - timedelta(hours=13)))
        before = store.rows("alerts", ["00000000000000aa"])["00000000000000aa"]
    assert len(before["labels"]) <= 65535 and json.loads(before["labels"])["alertname"] == "Huge"
    assert json.loads(before["annotations"])["summary"] == "big one"
    with backend.unit_of_work() as (store, _):
        assert sweep(store, schema, NOW, timedelta(hours=12)).resolved == 1
        after = store.rows("alerts", ["00000000000000aa"])["00000000000000aa"]
    for key in ("summary", "description", "annotations", "labels", "alertname", "severity", "instance"):
        assert after[key] == before[key] and after[key], key
    assert (after["status"], after["resolvedBy"]) == ("resolved", "janitor")


def test_stale_after_setting_is_checked_not_crashed(bundles, appwrite_env, monkeypatch):
    """The janitor is a job of alert-scheduler: a bad setting is said, and the other jobs run."""
    scheduler = load_entrypoint(bundles["alert-scheduler"])
    schedule = Request("POST", "/", "", execution_headers(trigger="schedule", key=appwrite_env.key), b"")
    for raw in ("nan", "inf", "1e12", "-5", "ten"):
        monkeypatch.setenv("ALERTWRITE_STALE_AFTER_MINUTES", raw)
        result = invoke(scheduler, schedule)
        assert result.status == 200 and "error" in result.json()["janitor"], raw
        assert "escalation" in result.json() and "error" not in result.json()["escalation"]
        log = "\n".join(result.logs + result.errors)
        assert raw[:4] in log and "=0" not in log and "Traceback" not in log, log


def test_an_unreadable_row_never_takes_the_sweep_down(schema, tmp_path):
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    with backend.unit_of_work() as (store, _):
        save(store, schema, reconcile(parse_delivery(body_of("0003")), {}, NOW - timedelta(hours=13)))
        (bad, _) = sorted(store.rows("alerts", [a.fingerprint for a in parse_delivery(body_of("0003")).alerts]))
        store.conn.execute('UPDATE alerts SET startsAt = ?, occurrences = ?, labels = ? WHERE "$id" = ?',
                           ("0001-01-01T00:00:00.000+00:00", "many", "{cut", bad))
    with backend.unit_of_work() as (store, _):
        assert sweep(store, schema, NOW, timedelta(hours=12)).resolved == 2
        assert store.rows("alerts", [bad])[bad]["labels"] == "{cut"  # not written back, not "fixed"
