"""The pure escalation engine: steps, ack, unack, ack timeout, empty slots, repeat, personal chains."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from alertwrite.scheduling.escalation import AlertView, advance
from alertwrite.scheduling.policies import (PolicyError, choose, from_snapshot, load_policies, parse_person,
                                            parse_policy, snapshot)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
ALERT = AlertView("fp1", 1, "firing", {"severity": "critical"}, T0, alertname="HighCPU")


def minutes(n):
    return T0 + timedelta(minutes=n)


class Sim:
    """Runs the engine once per minute like the scheduler, keeping the timeline."""

    def __init__(self, policy, people=None, oncall=None):
        self.policy, self.people = policy, people or {}
        self.oncall = oncall if oncall is not None else {"primary": ["ann"], "secondary": ["bob"]}
        self.log, self.sent, self.alert = [], [], ALERT

    def who(self, schedule, at):
        value = self.oncall.get(schedule)
        return value(at) if callable(value) else value

    def run(self, at):
        out = advance(self.policy, self.people, T0, self.log, self.alert, at, self.who)
        self.log += out.entries
        self.sent += [(at, n.target, n.medium) for n in out.notifications]
        if out.unack:
            self.alert = replace(self.alert, acknowledged_at=None, acknowledged_by="")
        return out

    def until(self, end_minute, start_minute=0):
        for m in range(start_minute, end_minute + 1):
            self.run(minutes(m))


TWO_STEPS = parse_policy("p", {"steps": [
    {"notify": ["oncall:primary"], "media": ["push"]},
    {"after": "5m", "notify": ["oncall:secondary"], "media": ["sms"]}]})


def test_two_steps_run_once_each_at_their_time():
    sim = Sim(TWO_STEPS)
    sim.until(30)
    assert sim.sent == [(minutes(0), "user:ann", "push"), (minutes(5), "user:bob", "sms")]
    assert [e.kind for e in sim.log if e.kind in ("step", "exhausted")] == ["step", "step", "exhausted"]


def test_ack_between_steps_stops_step_two_and_unack_restarts_from_step_one():
    sim = Sim(TWO_STEPS)
    sim.until(2)
    sim.alert = replace(ALERT, acknowledged_at=minutes(2), acknowledged_by="ann")
    sim.until(12, 3)
    assert sim.sent == [(minutes(0), "user:ann", "push")]
    sim.alert = ALERT
    sim.until(20, 13)
    assert sim.sent[1:] == [(minutes(13), "user:ann", "push"), (minutes(18), "user:bob", "sms")]
    assert any(e.kind == "restart" and "unacknowledged" in e.detail for e in sim.log)


def test_ack_timeout_re_escalates_and_undoes_the_ack():
    policy = replace(TWO_STEPS, ack_timeout=timedelta(minutes=30))
    sim = Sim(policy)
    sim.until(1)
    sim.alert = replace(ALERT, acknowledged_at=minutes(1), acknowledged_by="ann")
    outs = [sim.run(minutes(m)) for m in range(2, 32)]
    assert not any(o.unack for o in outs[:-1]) and outs[-1].unack
    assert sim.sent[-1] == (minutes(31), "user:ann", "push")
    assert sim.alert.acknowledged_at is None


def test_resolve_stops_and_closes():
    sim = Sim(TWO_STEPS)
    sim.until(1)
    sim.alert = replace(ALERT, status="resolved")
    assert sim.run(minutes(6)).close
    assert len(sim.sent) == 1


@pytest.mark.parametrize("rule, expected", [
    ("skip", [(0, "user:bob", "sms")]),                        # next step at once, no 5-minute wait
    ("wait", [(3, "user:carl", "push"), (8, "user:bob", "sms")]),  # held until carl comes on at minute 3
    ("fallback:topic:ops", [(0, "topic:ops", "push"), (5, "user:bob", "sms")]),
])
def test_empty_slot_rules_and_each_is_on_the_timeline(rule, expected):
    policy = parse_policy("p", {"steps": [
        {"notify": ["oncall:primary"], "media": ["push"], "on_empty": rule},
        {"after": "5m", "notify": ["oncall:secondary"], "media": ["sms"]}]})
    sim = Sim(policy, oncall={"primary": lambda at: ["carl"] if at >= minutes(3) else [], "secondary": ["bob"]})
    sim.until(15)
    assert [(int((at - T0).total_seconds() // 60), t, m) for at, t, m in sim.sent] == expected
    first = [e for e in sim.log if e.step == 0 and e.kind in ("step", "waiting")]
    assert "nobody on call" in first[0].detail


def test_repeat_runs_the_steps_again_after_repeat_after():
    policy = parse_policy("p", {"repeat": 2, "repeat_after": "10m", "steps": [{"notify": ["user:ann"], "media": ["sms"]}]})
    sim = Sim(policy)
    sim.until(60)
    assert [at for at, _, _ in sim.sent] == [minutes(0), minutes(10), minutes(20)]


def test_catch_up_runs_an_overdue_step_once_and_the_next_keeps_its_wait():
    sim = Sim(TWO_STEPS)
    sim.run(minutes(0))
    sim.run(minutes(40))  # the scheduler was down from minute 1 to 39
    sim.run(minutes(40))  # an overlapping run at the same minute
    assert sim.sent == [(minutes(0), "user:ann", "push"), (minutes(40), "user:bob", "sms")]
    late = [e.data["lateSeconds"] for e in sim.log if e.kind == "step"]
    assert late == [0.0, 35 * 60.0]


def test_personal_chain_runs_until_ack_even_when_escalation_moves_on():
    people = {"ann": parse_person("ann", {"default": ["push", {"medium": "sms", "after": "2m"},
                                                       {"medium": "email", "after": "10m"}],
                                          "important": ["sms"]})}
    sim = Sim(TWO_STEPS, people)
    sim.until(10)
    assert sim.sent == [(minutes(0), "user:ann", "push"), (minutes(2), "user:ann", "sms"), (minutes(5), "user:bob", "sms")]
    sim.alert = replace(ALERT, acknowledged_at=minutes(11))
    sim.until(20, 11)
    assert len(sim.sent) == 3  # the email at minute 12 never goes


def test_unknown_schedule_is_logged_not_silent():
    policy = parse_policy("p", {"steps": [{"notify": ["oncall:nope"], "on_empty": "skip"}]})
    sim = Sim(policy)
    sim.run(minutes(0))
    assert "no such schedule" in sim.log[0].detail and sim.sent == []


def test_snapshot_round_trips_and_choose_takes_the_first_match():
    people = {"ann": parse_person("ann", {"default": ["push"]})}
    policy, back_people = from_snapshot(snapshot(TWO_STEPS, people))
    assert policy.steps == TWO_STEPS.steps and back_people == people and policy.ack_timeout == timedelta(minutes=30)

    class S:
        def section(self, name):
            return {"policies": {"crit": {"match": {"severity": ["critical"]}, "steps": [{"notify": "user:a"}]},
                                 "any": {"steps": [{"notify": "user:b"}]}}}.get(name, {})
    policies = load_policies(S())
    assert choose(policies, {"severity": "critical"}).name == "crit"
    assert choose(policies, {"severity": "info"}).name == "any"


@pytest.mark.parametrize("spec, path", [
    ({"steps": [{"notify": "user:a"}, {"after": "30s", "notify": "user:b"}]}, "policies.p.steps[1].after"),
    ({"steps": [{"notify": "pager:a"}]}, "policies.p.steps[0].notify[0]"),
    ({"steps": [{"notify": "user:a", "on_empty": "cry"}]}, "policies.p.steps[0].on_empty"),
    ({"repeat": 10, "steps": [{"notify": "user:a"}]}, "policies.p.repeat"),
    ({"steps": [{"notify": "user:a", "media": ["fax"]}]}, "policies.p.steps[0].media"),
    ({"steps": []}, "policies.p.steps"),
])
def test_bad_policies_name_the_key(spec, path):
    with pytest.raises(PolicyError) as err:
        parse_policy("p", spec)
    assert err.value.path == path


def test_a_run_that_starts_sooner_in_its_minute_does_not_slip_the_next_step_a_minute():
    policy = parse_policy("p", {"steps": [{"notify": ["user:ann"], "media": ["push"]},
                                          {"after": "1m", "notify": ["user:bob"], "media": ["sms"]}]})
    sim = Sim(policy)
    sim.run(minutes(0) + timedelta(milliseconds=400))
    sim.run(minutes(1) + timedelta(milliseconds=100))  # 300 ms before step 2 is due
    assert [t for _, t, _ in sim.sent] == ["user:ann", "user:bob"]
