"""The delivery log end to end on the real SQLite RowStore, against the loopback chat fakes."""
import json
import logging
import threading
from datetime import datetime, timedelta

import pytest

from alertwrite.channels import admin, dispatch, outbox
from alertwrite.channels.model import ATTEMPTS_TABLE, CHANNELS_TABLE, NOTIFICATIONS_TABLE, Channel
from alertwrite.channels.filters import Filter
from alertwrite.channels.webhook import new_secret
from alertwrite.processor import process
from alertwrite.settings import load_settings
from alertwrite.stores import open_backend, open_rows
from alertwrite.timeutil import utcnow
from alertwrite.webhook import parse_delivery
from chat_fakes import ChatFakes
from support import body_of

ENV = {"ALERTWRITE_CHANNELS_ALLOW_PRIVATE": "1", "ALERTWRITE_CHANNELS_TIMEOUT": "1",
       "ALERTWRITE_CHANNELS_RETRY_BASE_SECONDS": "2", "ALERTWRITE_CHANNELS_MAX_ATTEMPTS": "4"}


@pytest.fixture
def fakes():
    with ChatFakes() as f:
        yield f
    assert f.violations == []  # every payload that reached a fake kept its platform's limits


@pytest.fixture
def env(tmp_path, schema):
    settings = load_settings({"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "a.db")}, {},
                             need_tokens=False)

    class Env:
        def rows(self):
            return open_rows(settings, schema)

        def run(self, now=None, **kw):
            return dispatch.run_due(None, schema, settings, now, env=ENV, sleep=lambda s: None, **kw)

        def add(self, channel):
            with self.rows() as rows:
                admin.add(rows, channel, schema)

        def deliver(self, capture="0001", now=None):
            """The processor's commit: lifecycle, claims, notification rows, alerts."""
            delivery = parse_delivery(body_of(capture))
            now = now or utcnow()
            with open_backend(settings, schema) as (store, messenger):
                return process(delivery, store, messenger, schema, now).notification_ids

        def notes(self, **kw):
            with self.rows() as rows:
                return admin.notifications(rows, **kw)

        def get(self, table, rid):
            with self.rows() as rows:
                return rows.get(table, rid)

    return Env()


def chat_channels(env, fakes, scripts=None, **filters):
    scripts = scripts or {}
    env.add(Channel("slack-ops", "slack", url=fakes.url("slack", "ops", scripts.get("slack")), filter=Filter(**filters)))
    env.add(Channel("discord-ops", "discord", url=fakes.url("discord", "ops", scripts.get("discord"))))
    env.add(Channel("teams-ops", "teams", url=fakes.url("teams", "ops", scripts.get("teams"))))
    secret = new_secret()
    env.add(Channel("hook", "webhook", url=fakes.url("webhook", "hook", scripts.get("webhook"), secret=secret),
                    secret=secret))
    env.add(Channel("pd", "pagerduty", url=fakes.url("pagerduty", "pd", scripts.get("pagerduty")), secret="r" * 32))


def test_fire_reaches_every_matching_channel_once_and_resolve_once(env, fakes):
    chat_channels(env, fakes)
    env.add(Channel("warnings-only", "slack", url=fakes.url("slack", "warn"), filter=Filter(severities=("warning",))))
    created = env.deliver("0001")
    assert len(created) == 2 + 5  # two declared topic channels, five chat channels; not warnings-only
    assert env.deliver("0001") == []  # a re-delivery records nothing new
    summary = env.run()
    assert summary["sent"] == 7 and summary["dead"] == summary["retrying"] == 0
    assert {(r.kind, r.name) for r in fakes.got()} == {("slack", "ops"), ("discord", "ops"), ("teams", "ops"),
                                                       ("webhook", "hook"), ("pagerduty", "pd")}
    assert len(fakes.got()) == 5 and fakes.got("slack", "warn") == []
    assert env.run()["due"] == 0 and len(fakes.got()) == 5  # nothing sent twice
    env.deliver("0004")  # web-1 resolves (and web-2 fires)
    env.deliver("0004")  # Alertmanager re-sends it
    env.run()
    assert len(fakes.got("slack", "ops")) == len(fakes.got("teams")) == len(fakes.got("discord")) == 2
    assert "RESOLVED" in fakes.got("slack", "ops")[-1].body.decode()
    assert len(fakes.got("slack", "warn")) == 1  # web-2 is a warning: only its firing went there
    actions = [(r.json["event_action"], r.json["dedup_key"]) for r in fakes.got("pagerduty")]
    assert actions.count(("resolve", "ab906f89a7cb9bdc")) == 1 and actions.count(("trigger", "ab906f89a7cb9bdc")) == 1


def test_an_outage_retries_with_backoff_then_delivers_with_the_attempts_logged(env, fakes):
    chat_channels(env, fakes, {"webhook": ["500", "500", "200"]})
    (nid,) = [n for n in env.deliver() if env.get(NOTIFICATIONS_TABLE, n)["channel"] == "hook"]
    t0 = utcnow()
    env.run(t0)
    row = env.get(NOTIFICATIONS_TABLE, nid)
    assert (row["status"], row["attempts"], row["lastStatus"]) == ("retrying", 1, 500)
    first_wait = (datetime.fromisoformat(row["nextAttemptAt"]) - t0).total_seconds()
    assert 1.5 <= first_wait <= 3.0  # base 2 s ± 20 % jitter, after the run's own time
    assert env.run(t0)["due"] == 0  # not due yet
    env.run(t0 + timedelta(seconds=3))
    row = env.get(NOTIFICATIONS_TABLE, nid)
    second_wait = (datetime.fromisoformat(row["nextAttemptAt"]) - t0 - timedelta(seconds=3)).total_seconds()
    assert row["attempts"] == 2 and 3 <= second_wait <= 5.5  # doubled
    env.run(t0 + timedelta(seconds=10))
    row = env.get(NOTIFICATIONS_TABLE, nid)
    assert row["status"] == "sent" and row["sentAt"] and row["lastError"] is None
    with env.rows() as rows:
        log = admin.attempts(rows, nid)
    assert [(a["attempt"], a["outcome"], a["httpStatus"]) for a in log] == [(1, "retry", 500), (2, "retry", 500),
                                                                             (3, "ok", 200)]
    ids = {r.headers["webhook-id"] for r in fakes.got("webhook")}
    assert ids == {nid}  # the same webhook-id on every attempt, so the receiver can de-duplicate


def test_429_waits_for_retry_after_and_discords_retry_after(env, fakes):
    chat_channels(env, fakes, {"slack": ["429:7", "200"], "discord": ["429:3", "200"]})
    env.deliver()
    t0 = utcnow()
    env.run(t0)
    for name, wait in (("slack-ops", 7), ("discord-ops", 3)):
        (row,) = env.notes(channel=name)
        assert row["status"] == "retrying" and row["lastStatus"] == 429
        due = (datetime.fromisoformat(row["nextAttemptAt"]) - t0).total_seconds()
        assert wait <= due <= wait + 1
        channel = env.get(CHANNELS_TABLE, name)
        assert datetime.fromisoformat(channel["nextSendAt"]) >= t0 + timedelta(seconds=wait)


def test_400_is_dead_at_once_with_the_answer_and_410_disables_the_channel(env, fakes):
    chat_channels(env, fakes, {"teams": ["400"], "discord": ["410"]})
    env.deliver()
    env.run()
    (teams,) = env.notes(channel="teams-ops")
    assert teams["status"] == "dead" and teams["lastError"] == "400: invalid_payload" and teams["attempts"] == 1
    (discord,) = env.notes(channel="discord-ops")
    assert discord["status"] == "dead" and discord["lastError"].startswith("410 Gone")
    channel = env.get(CHANNELS_TABLE, "discord-ops")
    assert channel["enabled"] is False and "410" in channel["disabledReason"]
    env.deliver("0003")
    assert env.notes(channel="discord-ops")[0]["$id"] == discord["$id"]  # a disabled channel gets nothing new
    assert [n["channel"] for n in env.notes(status="dead")].count("teams-ops") == 1


def test_a_hanging_endpoint_times_out_without_holding_up_the_others(env, fakes):
    chat_channels(env, fakes, {"slack": ["hang:5", "200"]})
    env.deliver()
    summary = env.run()
    assert summary["sent"] == 6 and summary["retrying"] == 1
    (slack,) = env.notes(channel="slack-ops")
    assert slack["status"] == "retrying" and "timed out" in slack["lastError"]


def test_a_channel_added_at_runtime_gets_the_next_delivery(env, fakes):
    env.deliver("0001")
    env.run()
    assert fakes.got() == []
    env.add(Channel("late", "slack", url=fakes.url("slack", "late")))
    env.deliver("0003")
    env.run()
    assert len(fakes.got("slack", "late")) == 1


def test_over_budget_notifications_are_coalesced_into_one_message(env, fakes, schema):
    env.add(Channel("busy", "slack", url=fakes.url("slack", "busy")))
    for capture in ("0001", "0003", "0004"):
        env.deliver(capture)
    assert len(env.notes(channel="busy")) == 3
    summary = env.run()
    assert summary["coalesced"] >= 2 and {r["status"] for r in env.notes(channel="busy")} == {"sent"}
    (message,) = fakes.got("slack", "busy")
    text = message.body.decode()
    assert "FIRING" in text and "RESOLVED" in text  # the transitions of three deliveries in one message
    rows = env.notes(channel="busy")
    primary = [r for r in rows if not r["coalescedInto"]]
    assert len(primary) == 1 and all(r["coalescedInto"] == primary[0]["$id"] for r in rows if r not in primary)
    # right after a send Slack's budget (1/s) is spent: the next one waits for it, never hammers
    assert datetime.fromisoformat(env.get(CHANNELS_TABLE, "busy")["nextSendAt"]) > utcnow()


def at_once(n, run):
    """n threads start `run` together; their results."""
    barrier = threading.Barrier(n)
    results = []

    def one():
        barrier.wait()
        results.append(run())
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_dispatchers_at_once_send_each_notification_once(env, fakes):
    chat_channels(env, fakes)
    env.deliver()
    results = at_once(3, env.run)
    assert len(fakes.got()) == 5 and sum(r["sent"] for r in results) == 7


def test_runs_in_separate_executions_claim_each_notification_once(env, fakes):
    """Runs that cannot hand over (other containers: here `ids` runs, which never do) race on
    the claims; each notification still goes out once."""
    chat_channels(env, fakes)
    ids = env.deliver()
    results = at_once(3, lambda: env.run(ids=ids))
    assert len(fakes.got()) == 5 and sum(r["sent"] for r in results) == 7
    assert not any(r.get("handedOver") for r in results)


def test_a_run_that_starts_while_another_sends_hands_over_and_a_held_channel_holds_only_itself(env, fakes):
    env.add(Channel("slow", "webhook", url=fakes.url("webhook", "slow", ["hold"])))
    env.add(Channel("fast", "webhook", url=fakes.url("webhook", "fast")))
    first = threading.Thread(target=lambda: results.append(env.run()))
    results = []
    env.deliver("0001")
    first.start()
    fakes.wait_for(1, "webhook", "slow")  # the run is now waiting on slow's answer
    (slow_id,) = [n["$id"] for n in env.notes(channel="slow")]
    # claimed: not due again before its lease ends, here or in another execution
    assert datetime.fromisoformat(env.get(NOTIFICATIONS_TABLE, slow_id)["nextAttemptAt"]) > utcnow()

    env.deliver("0003")
    assert env.run().get("handedOver") == 1  # returns at once, the running one takes the work
    assert len(fakes.wait_for(2, "webhook", "fast")) == 2  # sent while slow still holds its answer
    assert len(fakes.got("webhook", "slow")) == 1
    assert env.get(ATTEMPTS_TABLE, f"{slow_id}.1")["finishedAt"] is None

    fakes.release()
    first.join(10)
    assert not first.is_alive()
    # slow's second notification was skipped while its first was out, then sent by the same run
    assert len(fakes.got("webhook", "slow")) == 2
    assert {n["status"] for n in env.notes(channel="slow") + env.notes(channel="fast")} == {"sent"}
    assert results[0]["sent"] >= 4 and results[0]["busy"] >= 1


def test_an_attempt_lost_in_a_crash_is_sent_again_once_after_its_lease(env, fakes):
    env.add(Channel("hook", "webhook", url=fakes.url("webhook", "h")))
    (nid,) = [n for n in env.deliver() if env.get(NOTIFICATIONS_TABLE, n)["channel"] == "hook"]
    started = utcnow() - timedelta(minutes=5)
    with env.rows() as rows:  # a dispatcher claimed attempt 1, then died before recording
        rows.create(ATTEMPTS_TABLE, [{"$id": f"{nid}.1", "notification": nid, "channel": "hook", "attempt": 1,
                                      "startedAt": started.isoformat(timespec="milliseconds")}])
    env.run(channel="hook")
    row = env.get(NOTIFICATIONS_TABLE, nid)
    assert row["status"] == "sent" and row["attempts"] == 2
    assert env.get(ATTEMPTS_TABLE, f"{nid}.1")["outcome"] == "lost"
    assert [r.headers["webhook-id"] for r in fakes.got("webhook")] == [nid]


def test_topic_channels_send_through_messaging_once(env, tmp_path):
    env.deliver("0001")
    env.run()
    env.run()
    import sqlite3
    conn = sqlite3.connect(tmp_path / "a.db")
    media = sorted(r[0] for r in conn.execute('SELECT medium FROM messages'))
    assert media == ["email", "push", "sms"]


def test_private_targets_are_refused_without_the_setting_and_secrets_never_logged(env, fakes, schema, tmp_path,
                                                                                  caplog):
    url = fakes.url("slack", "sec", ["400"])
    env.add(Channel("sec", "slack", url=url))
    env.deliver()
    caplog.set_level(logging.INFO, "alertwrite.channels")
    settings = load_settings({"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "a.db")}, {},
                             need_tokens=False)
    dispatch.run_due(None, schema, settings, env={"ALERTWRITE_CHANNELS_ALLOW_PRIVATE": "0"}, channel="sec")
    (row,) = env.notes(channel="sec")
    assert row["status"] == "dead" and row["lastError"].startswith("refused: only https")
    assert fakes.got("slack", "sec") == []
    assert "/slack/sec" not in caplog.text and "/slack/sec" not in json.dumps(env.get(CHANNELS_TABLE, "sec") | {"url": ""})


def test_notifications_retry_puts_dead_ones_back_with_fresh_budgets(env, fakes):
    chat_channels(env, fakes, {"teams": ["400", "200"]})
    env.deliver()
    env.run()
    (dead,) = env.notes(status="dead")
    with env.rows() as rows:
        assert admin.retry(rows, dead=True) == [dead["$id"]]
    env.run()
    row = env.get(NOTIFICATIONS_TABLE, dead["$id"])
    assert row["status"] == "sent" and row["attempts"] == 2
    with env.rows() as rows:
        with pytest.raises(Exception, match="sent already"):
            admin.retry(rows, [dead["$id"]])


def test_notify_is_the_entry_point_for_other_capabilities(env, fakes, schema):
    env.add(Channel("a", "discord", url=fakes.url("discord", "a")))
    env.add(Channel("b", "discord", url=fakes.url("discord", "b")))
    with env.rows() as rows:
        ids = outbox.notify(rows, schema, admin.test_event("a", utcnow()), channels=["a"])
    assert len(ids) == 1
    env.run()
    assert len(fakes.got("discord", "a")) == 1 and fakes.got("discord", "b") == []
    assert "[TEST]" in fakes.got("discord", "a")[0].json["content"]


def test_a_bad_timeout_setting_is_logged_and_the_default_used(env, fakes, schema, tmp_path, caplog):
    settings = load_settings({"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "a.db")}, {},
                             need_tokens=False)
    env.add(Channel("hook", "webhook", url=fakes.url("webhook", "h")))
    env.deliver()
    with caplog.at_level(logging.ERROR, logger="alertwrite.channels"):
        summary = dispatch.run_due(None, schema, settings, env={**ENV, "ALERTWRITE_CHANNELS_TIMEOUT": "soon"})
    assert summary["sent"] >= 1 and len(fakes.got("webhook", "h")) == 1
    assert "ALERTWRITE_CHANNELS_TIMEOUT='soon' is not a number" in caplog.text


def test_one_channels_backlog_never_hides_the_other_channels_due_rows(env, fakes, schema):
    """More than a page of one channel's rows (its endpoint hangs) come first in the due order;
    the next channel's notification still goes out while that endpoint holds its answer."""
    from alertwrite.channels.model import Event

    env.add(Channel("slow", "webhook", url=fakes.url("webhook", "slow", ["hold"])))
    env.add(Channel("fast", "webhook", url=fakes.url("webhook", "fast")))
    with env.rows() as rows:
        for i in range(dispatch.DUE_BATCH + 20):
            outbox.notify(rows, schema, Event("event", (), f"backlog {i}", "x"), channels=["slow"])
    with env.rows() as rows:
        outbox.notify(rows, schema, Event("event", (), "the next one", "x"), channels=["fast"])
    results = []
    run = threading.Thread(target=lambda: results.append(env.run()))
    run.start()
    try:
        assert len(fakes.wait_for(1, "webhook", "slow")) == 1  # slow now holds its first answer
        assert len(fakes.wait_for(1, "webhook", "fast")) == 1  # and fast went out all the same
        assert len(fakes.got("webhook", "slow")) == 1
    finally:
        fakes.release()
        run.join(30)
    assert not run.is_alive()
