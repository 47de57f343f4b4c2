"""alert-scheduler against the Appwrite fake: calls per run do not grow with the number of due alerts."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone


from alertwrite.processor import process
from alertwrite.scheduling import scheduler, service
from alertwrite.settings import Settings
from alertwrite.stores.appwrite import AppwriteMessenger, AppwriteStore, make_client
from alertwrite.stores.appwrite_rows import AppwriteRows
from alertwrite.timeutil import format_ms
from alertwrite.webhook import parse_delivery

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _delivery(n: int) -> bytes:
    alerts = [{"status": "firing", "labels": {"alertname": f"Disk{i}", "severity": "critical"},
               "annotations": {"summary": "disk full"}, "startsAt": format_ms(T0), "endsAt": "0001-01-01T00:00:00Z",
               "generatorURL": "", "fingerprint": f"{i:016x}"} for i in range(n)]
    return json.dumps({"version": "4", "status": "firing", "receiver": "aw", "groupKey": "{}", "groupLabels": {},
                       "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "alerts": alerts}).encode()


def calls_per_run(fake, schema, due: int) -> list[int]:
    fake.messaging.add_user("cy", email="cy@example.com")
    fake.messaging.add_user("lead", phone="+15550100")
    client = make_client(fake.endpoint, fake.project, fake.key, 5)
    rows = AppwriteRows(client, schema)
    service.put_schedule(rows, "primary", {"timezone": "UTC", "layers": [
        {"users": ["cy"], "rotation_start": "2026-01-01", "turn": "1w"}]})
    service.put_schedule(rows, "leads", {"timezone": "UTC", "layers": [
        {"users": ["lead"], "rotation_start": "2026-01-01", "turn": "1w"}]})
    service.put_policy(rows, "pages", {"match": {"severity": "critical"}, "steps": [
        {"notify": ["oncall:primary"], "media": ["email"]}, {"after": "5m", "notify": ["oncall:leads"], "media": ["sms"]}]})
    process(parse_delivery(_delivery(due)), AppwriteStore(client, schema), AppwriteMessenger(client), schema, T0)
    settings = Settings(tokens=(), backend="appwrite")
    counts = []
    for minute in (0, 1, 5):
        fake.reset_calls()
        summary = scheduler.run(rows, schema, settings, T0 + timedelta(minutes=minute))
        counts.append(len(fake.calls))
        if minute == 0:
            assert summary["escalation"]["started"] == due and summary["escalation"]["notified"] == due
        if minute == 5:
            assert summary["escalation"]["notified"] == due
    pages = sorted((tuple(m.get("users") or ()), m.get("providerType")) for m in fake.messaging.messages.values()
                   if m.get("users"))
    assert pages == [(("cy",), "email"), (("lead",), "sms")]  # one message each, however many alerts
    return counts


def test_calls_per_run_are_constant_in_the_number_of_due_alerts(fake, schema):
    from appwrite_fake import AppwriteFake
    from support import seed_schema

    few = calls_per_run(fake, schema, 2)
    other = AppwriteFake()
    with other.running():
        seed_schema(other, schema)
        many = calls_per_run(other, schema, 30)
    assert few == many, (few, many)
    # README "Escalation and on-call" states these: first run (start + step 1), an idle run, step 2.
    assert many == EXPECTED, many


EXPECTED = [22, 16, 18]  # 2 of them: the console-ack sweep (operations/manual.py)


def test_oncall_routes_answer_from_the_one_resolver(fake, schema):
    import sys
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from api_support import API_TOKENS, Api

    api = Api(schema, {"APPWRITE_FUNCTION_API_ENDPOINT": fake.endpoint, "APPWRITE_FUNCTION_PROJECT_ID": fake.project,
                       "ALERTWRITE_API_TOKENS": API_TOKENS}, key=fake.key)
    rows = AppwriteRows(make_client(fake.endpoint, fake.project, fake.key, 5), schema)
    service.put_schedule(rows, "primary", {"timezone": "America/New_York", "layers": [
        {"users": ["ann", "bob"], "rotation_start": "2026-11-02", "handoff": "09:00", "turn": "1w"}]})
    now = api("GET", "/oncall", query="schedule=primary&at=2026-12-01T15:00:00Z", role="viewer")
    assert now.status == 200, now.body
    answer = now.body["schedules"][0]
    assert answer["now"] == ["ann"] and answer["next"][1] == {"user": "bob", "start": "2026-12-07T14:00:00Z",
                                                             "end": "2026-12-14T14:00:00Z"}
    made = api("POST", "/schedules/primary/overrides", {"user": "cy", "start": "2026-12-08T00:00:00Z",
                                                        "end": "2026-12-09T00:00:00Z"}, role="responder")
    assert made.status == 201, made.body
    again = api("GET", "/oncall", query="schedule=primary&at=2026-12-08T12:00:00Z", role="viewer")
    assert again.body["schedules"][0]["now"] == ["cy"]
    assert api("POST", "/schedules/primary/overrides", {"user": "cy"}, role="viewer").status == 403
    assert api("GET", "/oncall", query="schedule=nope", role="viewer").status == 404


def test_two_runs_at_once_page_once(fake, schema):
    import threading

    fake.messaging.add_user("cy", email="cy@example.com")
    client = make_client(fake.endpoint, fake.project, fake.key, 5)
    rows = AppwriteRows(client, schema)
    service.put_schedule(rows, "primary", {"timezone": "UTC", "layers": [
        {"users": ["cy"], "rotation_start": "2026-01-01", "turn": "1w"}]})
    service.put_policy(rows, "pages", {"match": {"severity": "critical"}, "steps": [
        {"notify": ["oncall:primary"], "media": ["email"]}]})
    process(parse_delivery(_delivery(5)), AppwriteStore(client, schema), AppwriteMessenger(client), schema, T0)
    barrier, results = threading.Barrier(2), []

    def one():
        mine = AppwriteRows(make_client(fake.endpoint, fake.project, fake.key, 5), schema)
        barrier.wait()
        results.append(scheduler.run(mine, schema, Settings(tokens=(), backend="appwrite"), T0))
    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pages = [m for m in fake.messaging.messages.values() if m.get("users")]
    assert len(pages) == 1 and sum(r["escalation"]["notified"] for r in results) == 5
