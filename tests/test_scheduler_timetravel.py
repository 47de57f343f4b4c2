"""Time travel through `alertwrite run alert-scheduler --at ...` on the local store.

A project of its own declares a schedule of three people, a two-step policy and a heartbeat;
alerts arrive through the real processor; acks are written to the alerts row as the API does.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner

from alertwrite.processor import process
from alertwrite.stores.sqlite import SqliteBackend
from alertwrite.timeutil import format_ms
from alertwrite.webhook import parse_delivery
from provision.cli import main
from provision.project import Project

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)  # a Tuesday; cy's week (see ROTATION)

ROTATION = {"timezone": "Europe/Berlin", "layers": [
    {"users": ["ann", "bob", "cy"], "rotation_start": "2026-11-17", "handoff": "09:00", "turn": "1w"}]}
LEADS = {"timezone": "UTC", "layers": [{"users": ["lead"], "rotation_start": "2026-01-01", "turn": "1d"}]}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def world(tmp_path, project, monkeypatch):
    root = tmp_path / "proj"
    shutil.copytree(project.root / "schemas", root / "schemas")
    shutil.copytree(project.root / "functions", root / "functions",
                    ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    doc = yaml.safe_load((root / "schemas" / "escalation.yaml").read_text())
    doc["schedules"] = {"primary": ROTATION, "leads": LEADS, "empty": {"timezone": "UTC", "layers": [
        {"users": ["x"], "rotation_start": "2026-01-01", "turn": "1d",
         "restrictions": [{"start": "00:00", "duration": "1m"}]}]}}
    doc["policies"] = {"pages": {"match": {"severity": "critical"}, "ack_timeout": "30m", "steps": [
        {"notify": ["oncall:primary"], "media": ["push"]},
        {"after": "5m", "notify": ["oncall:leads"], "media": ["sms"]}]}}
    doc["people"] = {}
    doc["heartbeats"] = {"watchdog": {"alertname": "Watchdog", "period": "5m", "grace": "1m"}}
    (root / "schemas" / "escalation.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("ALERTWRITE_WEBHOOK_TOKENS", "t" * 32)
    monkeypatch.delenv("ALERTWRITE_SCHEDULER_AT", raising=False)
    sqlite3.connect(tmp_path / "tt.db").close()  # `run` wants an existing store
    return World(root, tmp_path / "tt.db")


class World:
    def __init__(self, root, db):
        self.root, self.db = root, db
        self.schema = Project(root).load_schema()

    def fire(self, alertname="HighCPU", severity="critical", now=T0, status="firing", fp="00000000000000a1"):
        body = {"version": "4", "status": status, "receiver": "alertwrite", "groupKey": "{}:{}", "groupLabels": {},
                "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am", "truncatedAlerts": 0,
                "alerts": [{"status": status, "labels": {"alertname": alertname, "severity": severity},
                            "annotations": {"summary": "CPU hot"}, "startsAt": format_ms(T0),
                            "endsAt": format_ms(now) if status == "resolved" else "0001-01-01T00:00:00Z",
                            "generatorURL": "", "fingerprint": fp}]}
        with SqliteBackend(str(self.db), self.schema).unit_of_work() as (store, outbox):
            process(parse_delivery(json.dumps(body).encode()), store, outbox, self.schema, now)

    def tick(self, minute: float) -> dict:
        result = CliRunner().invoke(main, ["--root", str(self.root), "run", "alert-scheduler", "--db", str(self.db),
                                           "--at", at(minute).isoformat().replace("+00:00", "Z")])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sql(self, query, *args):
        conn = sqlite3.connect(self.db)
        try:
            return conn.execute(query, args).fetchall()
        finally:
            conn.commit()
            conn.close()

    def ack(self, minute, fp="00000000000000a1", by="cy"):
        self.sql('UPDATE alerts SET acknowledgedAt = ?, acknowledgedBy = ? WHERE "$id" = ?',
                 format_ms(at(minute)) if by else None, by, fp)

    def pages(self):
        return [(json.loads(t)[0], m) for t, m in
                self.sql("SELECT topics, medium FROM messages WHERE subject LIKE '[ESCALATION]%' ORDER BY \"$createdAt\", rowid")]

    def timeline(self):
        return [d for (d,) in self.sql("SELECT detail FROM escalation_log ORDER BY at, rowid")]


def test_two_step_policy_pages_who_is_on_call_then_the_next_level(world):
    world.fire()
    world.tick(0)
    world.tick(1)
    assert world.pages() == [("user:cy", "push")]
    world.tick(5)
    world.tick(5)  # a second run in the same minute sends nothing twice
    assert world.pages() == [("user:cy", "push"), ("user:lead", "sms")]
    assert any(d.startswith("step 2: notified user:lead") for d in world.timeline())


def test_ack_between_steps_stops_step_two_and_unack_restarts(world):
    world.fire()
    world.tick(0)
    world.ack(2)
    world.tick(3)
    world.tick(10)
    assert world.pages() == [("user:cy", "push")]
    assert any("acknowledged by cy" in d for d in world.timeline())
    world.ack(11, by=None)  # unack
    world.tick(11)
    world.tick(16)
    assert world.pages() == [("user:cy", "push"), ("user:cy", "push"), ("user:lead", "sms")]


def test_ack_timeout_re_escalates_from_step_one_and_unacks_the_alert(world):
    world.fire()
    world.tick(0)
    world.ack(1)
    world.tick(30)
    assert len(world.pages()) == 1
    summary = world.tick(31)
    assert summary["escalation"]["unacked"] == 1
    assert world.pages()[-1] == ("user:cy", "push")
    assert world.sql("SELECT acknowledgedAt FROM alerts") == [(None,)]
    assert any("ack timeout" in d for d in world.timeline())


def test_resolve_stops_escalation(world):
    world.fire()
    world.tick(0)
    world.fire(status="resolved", now=at(2))
    world.tick(6)
    assert world.pages() == [("user:cy", "push")]
    assert world.sql("SELECT status FROM escalations") == [("closed",)]


def test_catch_up_after_downtime_runs_the_overdue_step_once(world):
    world.fire()
    world.tick(0)
    summary = world.tick(42)
    assert world.pages() == [("user:cy", "push"), ("user:lead", "sms")]
    assert summary["escalation"]["maxLateSeconds"] == 37 * 60


def test_heartbeat_missing_pages_then_resolves_when_it_returns(world):
    world.tick(0)
    assert world.tick(30)["heartbeats"]["waiting"] == 1  # not armed before the first ping
    world.fire(alertname="Watchdog", severity="none", fp="00000000000000b1", now=at(31))
    world.tick(32)
    summary = world.tick(38)  # 31 + 5 m period + 1 m grace has passed
    assert summary["heartbeats"]["fired"] == 1
    row = world.sql("SELECT status, labels FROM alerts WHERE alertname = 'AlertwriteHeartbeatMissing'")
    assert row[0][0] == "firing" and json.loads(row[0][1])["heartbeat"] == "watchdog"
    world.fire(alertname="Watchdog", severity="none", fp="00000000000000b1", now=at(40))
    summary = world.tick(40)
    assert summary["heartbeats"]["resolved"] == 1
    assert world.sql("SELECT status FROM alerts WHERE alertname = 'AlertwriteHeartbeatMissing'") == [("resolved",)]


def test_at_is_refused_on_appwrite(world):
    result = CliRunner().invoke(main, ["--root", str(world.root), "run", "alert-scheduler", "--backend", "appwrite",
                                       "--at", "2026-12-01T10:00:00Z"])
    assert result.exit_code == 2 and "local SQLite store only" in result.output


def cli(world, *args):
    return CliRunner().invoke(main, ["--root", str(world.root), *args, "--db", str(world.db)])


def test_oncall_commands_show_now_override_ical_check(world):
    now = cli(world, "oncall", "now", "primary", "--at", "2026-12-01T10:00:00Z", "--json")
    assert now.exit_code == 0, now.output
    assert json.loads(now.stdout)["schedules"][0]["now"] == ["cy"]
    added = cli(world, "oncall", "override", "primary", "--user", "dora", "--from", "2026-12-20T09:00",
                "--until", "2026-12-21T09:00")
    assert added.exit_code == 0, added.output
    shown = json.loads(cli(world, "oncall", "show", "primary", "--days", "30", "--json",
                           "--at", "2026-12-15T00:00:00Z").stdout)
    dora = [s for s in shown["shifts"] if s["user"] == "dora"]
    assert dora == [{"user": "dora", "start": "2026-12-20T08:00:00Z", "end": "2026-12-21T08:00:00Z", "source": "override"}]
    import icalendar
    ics = cli(world, "oncall", "ical", "primary")
    assert any("dora" in str(e.get("SUMMARY")) for e in icalendar.Calendar.from_ical(ics.stdout).walk("VEVENT"))
    check = cli(world, "oncall", "check", "--json")
    problems = json.loads(check.stdout)["problems"]
    assert check.exit_code == 1 and any(p["kind"] == "gap" and p["schedule"] == "empty" for p in problems)
    bad = cli(world, "oncall", "override", "primary", "--user", "x", "--from", "2026-12-21", "--until", "2026-12-20")
    assert bad.exit_code == 2 and "after" in bad.output
    beats = cli(world, "heartbeats", "--json")
    assert json.loads(beats.stdout)["heartbeats"][0]["state"] == "waiting"


def test_a_runtime_policy_edit_changes_new_pages_only(world, tmp_path):
    world.fire()
    world.tick(0)
    spec = tmp_path / "p.yaml"
    spec.write_text(yaml.safe_dump({"match": {"severity": "critical"}, "steps": [
        {"notify": ["topic:critical-alerts"], "media": ["email"]}]}))
    assert cli(world, "oncall", "set-policy", "pages", "--file", str(spec)).exit_code == 0
    world.tick(5)
    assert world.pages() == [("user:cy", "push"), ("user:lead", "sms")]  # the page in flight kept its copy
    world.fire(fp="00000000000000a2")
    world.tick(6)
    assert world.pages()[-1] == ("topic:critical-alerts", "email")


def _policy(world, tmp_path, spec):
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"match": {"severity": "critical"}, **spec}))
    assert cli(world, "oncall", "set-policy", "pages", "--file", str(path)).exit_code == 0


def test_empty_slot_wait_holds_until_someone_is_on_call_and_fallback_pages_the_target(world, tmp_path, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_STALE_AFTER_MINUTES", "0")  # Alertmanager would re-send it; no janitor here
    # `empty` has x on call only 00:00-00:01 UTC each day.
    _policy(world, tmp_path, {"steps": [
        {"notify": ["oncall:empty"], "media": ["sms"], "on_empty": "wait"},
        {"after": "5m", "notify": ["oncall:empty"], "media": ["email"], "on_empty": "fallback:user:lead"}]})
    world.fire()
    world.tick(0)
    world.tick(1)
    assert world.pages() == []
    assert sum("holding until someone is on call" in d for d in world.timeline()) == 1
    world.tick(14 * 60)  # 00:00 UTC the next day: x comes on
    assert world.pages() == [("user:x", "sms")]
    world.tick(14 * 60 + 5)
    assert world.pages()[-1] == ("user:lead", "email")
    assert any("fallback to user:lead" in d for d in world.timeline())


def test_repeat_runs_the_steps_n_more_times(world, tmp_path):
    _policy(world, tmp_path, {"repeat": 2, "repeat_after": "10m", "steps": [{"notify": ["user:lead"], "media": ["sms"]}]})
    world.fire()
    for minute in (0, 5, 10, 15, 20, 30, 40):
        world.tick(minute)
    assert world.pages() == [("user:lead", "sms")] * 3
    assert any("all steps ran 3 time(s)" in d for d in world.timeline())


def test_a_channel_target_is_queued_for_the_dispatcher_once(world, tmp_path):
    _policy(world, tmp_path, {"steps": [{"notify": ["channel:everything"]}]})
    world.fire()
    world.tick(0)
    world.tick(0)
    queued = world.sql("SELECT channel FROM notifications WHERE payload LIKE '%escalated%'")
    assert queued == [("everything",)]
