"""The alert-dispatcher bundle on the Appwrite backend (the stateful fake), sending to a real
loopback chat endpoint: what a deployment does after intake recorded a notification."""
import json

import pytest

from alertwrite.channels import admin
from alertwrite.channels.model import Channel
from alertwrite.settings import load_settings
from alertwrite.stores import open_rows
from chat_fakes import ChatFakes
from provision.runtime import Request, execution_headers, invoke
from support import body_of, run_dispatcher, webhook_request


@pytest.fixture
def fakes():
    with ChatFakes() as f:
        yield f
    assert f.violations == []


@pytest.fixture
def hook(appwrite_env, fakes, schema, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_CHANNELS_ALLOW_PRIVATE", "1")
    settings = load_settings({"APPWRITE_FUNCTION_API_ENDPOINT": appwrite_env.endpoint,
                              "APPWRITE_FUNCTION_PROJECT_ID": appwrite_env.project}, {"x-appwrite-key": appwrite_env.key},
                             need_tokens=False)
    with open_rows(settings, schema) as rows:
        admin.add(rows, Channel("hook", "webhook", url=fakes.url("webhook", "hook")), schema)
    return appwrite_env


def event_run(dispatcher, fake, row: dict):
    """What Appwrite runs on a notifications row create: the row as the JSON body."""
    headers = {"content-type": "application/json",
               **execution_headers(trigger="event", key=fake.key,
                                   event=f"databases.monitoring.tables.notifications.rows.{row['$id']}.create")}
    return invoke(dispatcher, Request("POST", "/", "", headers, json.dumps(row).encode()))


def test_an_event_run_sends_every_due_notification_once_and_records_it(processor, dispatcher, hook, fakes):
    fake = hook
    assert invoke(processor, webhook_request(body_of("0001"))).status == 200
    notes = fake.rows("monitoring", "notifications")
    (hook_id,) = [i for i, n in notes.items() if n["channel"] == "hook"]
    answer = event_run(dispatcher, fake, notes[hook_id])
    assert answer.status == 200 and answer.json()["sent"] == len(notes)  # the topic channels' rows too
    (got,) = fakes.got("webhook", "hook")
    assert got.headers["webhook-id"] == hook_id
    note = fake.rows("monitoring", "notifications")[hook_id]
    assert (note["status"], note["attempts"], note["lastStatus"]) == ("sent", 1, 200) and note["sentAt"]
    attempt = fake.rows("monitoring", "notification_attempts")[f"{hook_id}.1"]
    assert (attempt["outcome"], attempt["httpStatus"]) == ("ok", 200) and attempt["finishedAt"]
    assert fake.rows("monitoring", "channels")["hook"]["lastSuccessAt"]

    # the other rows' events, and the minute's schedule, find nothing left to send
    for row_id, row in notes.items():
        if row_id != hook_id:
            assert event_run(dispatcher, fake, row).json()["sent"] == 0
    assert run_dispatcher(dispatcher, fake.key).json()["sent"] == 0
    assert len(fakes.got("webhook", "hook")) == 1


def test_calls_per_run(processor, dispatcher, hook, fakes):
    """A round is a fixed number of calls (find, channels, bulk claim, claim update), then one
    write per notification, per attempt and per channel; the alerts a notification carries
    cost nothing more."""
    fake = hook
    calls = {}
    for deliveries, alerts in ((1, 1), (1, 8), (3, 1)):
        for d in range(deliveries):
            body = json.loads(body_of("0001"))
            body["alerts"] = [dict(body["alerts"][0], fingerprint=f"{deliveries:04x}{alerts:04x}{d:04x}{i:04x}",
                                   labels={**body["alerts"][0]["labels"], "instance": f"h{d}-{i}"})
                              for i in range(alerts)]
            assert invoke(processor, webhook_request(json.dumps(body).encode())).status == 200
        fake.reset_calls()
        assert run_dispatcher(dispatcher, fake.key).status == 200
        calls[(deliveries, alerts)] = (fake.count("GET"), fake.writes())
    assert calls[(1, 1)] == calls[(1, 8)]
    # three deliveries: three notifications for each of the 3 channels instead of one; the topic
    # channels fold theirs into the same messages, so only the notification and attempt rows add up
    assert calls[(3, 1)][0] == calls[(1, 1)][0] == 2
    assert calls[(3, 1)][1] - calls[(1, 1)][1] == 2 * (9 - 3)
