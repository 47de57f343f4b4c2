from datetime import datetime, timedelta, timezone

from alertwrite.janitor import sweep
from alertwrite.lifecycle import reconcile
from alertwrite.stores.sqlite import SqliteBackend
from alertwrite.webhook import parse_delivery
from provision.runtime import Request, execution_headers, invoke, load_entrypoint
from support import body_of, webhook_request

NOW = datetime(2026, 11, 23, tzinfo=timezone.utc)


def test_stale_firing_alerts_are_resolved_and_reopen_if_alertmanager_still_sends_them(schema, tmp_path):
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    firing = parse_delivery(body_of("0003"))
    with backend.unit_of_work() as (store, _):
        plan = reconcile(firing, {}, NOW - timedelta(hours=13))
        store.save(plan.episodes, plan.alerts)
    with backend.unit_of_work() as (store, _):
        assert sweep(store, NOW, timedelta(hours=12)).resolved == 2
        assert sweep(store, NOW, timedelta(hours=12)).resolved == 0
        after = store.fetch_alerts([a.fingerprint for a in firing.alerts])
    assert {(r.status, r.resolved_by) for r in after.values()} == {("resolved", "janitor")}
    plan = reconcile(firing, after, NOW)  # the next repeat from Alertmanager
    assert [t.kind for t in plan.transitions] == ["firing", "firing"]
    assert {r.status for r in plan.alerts} == {"firing"}


def test_recent_alerts_are_left_alone(schema, tmp_path):
    backend = SqliteBackend(str(tmp_path / "j.db"), schema)
    with backend.unit_of_work() as (store, _):
        plan = reconcile(parse_delivery(body_of("0001")), {}, NOW - timedelta(hours=1))
        store.save(plan.episodes, plan.alerts)
        assert sweep(store, NOW, timedelta(hours=12)).resolved == 0


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
