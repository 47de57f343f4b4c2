"""The on-call resolver: properties over random schedules, and DST cases by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from alertwrite.scheduling.oncall import (Layer, Override, Restriction, Schedule, ScheduleError, gaps, handoff,
                                          layer_user, on_call, parse_schedule, resolve, shifts, turn_at)

UTC = timezone.utc
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"]
BASE = datetime(2026, 1, 1, tzinfo=UTC)

instants = st.integers(min_value=-400 * 24 * 60, max_value=400 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))
turns = st.sampled_from([timedelta(hours=h) for h in (1, 8, 12, 24, 48, 168, 336)])
restrictions = st.lists(st.builds(
    Restriction,
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    duration=st.integers(min_value=1, max_value=24 * 60).map(lambda m: timedelta(minutes=m)),
    day=st.one_of(st.none(), st.integers(min_value=1, max_value=7))), max_size=2)


@st.composite
def layers(draw, restricted=None):
    users = tuple(draw(st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=5)))
    start = draw(instants).replace(tzinfo=None)  # rotations may start years before or after "now"
    return Layer(draw(st.sampled_from(["l1", "l2", "l3"])), users, start, draw(turns), ZoneInfo(draw(st.sampled_from(ZONES))),
                 tuple(draw(restrictions)) if restricted is None else restricted)


@st.composite
def schedules(draw):
    ls = tuple(draw(st.lists(layers(), min_size=1, max_size=3)))
    overrides = []
    for i in range(draw(st.integers(0, 3))):
        a = draw(instants)
        overrides.append(Override(draw(st.sampled_from("xyz")), a, a + timedelta(minutes=draw(st.integers(1, 5000))), f"o{i}"))
    return Schedule("s", ZoneInfo("UTC"), ls, tuple(overrides))


@settings(max_examples=300, deadline=None)
@given(layers(), instants)
def test_a_layer_yields_at_most_one_person_and_its_turn_contains_the_instant(layer, at):
    k = turn_at(layer, at)
    assert handoff(layer, k) <= at
    assert not any(handoff(layer, j) <= at for j in (k + 1, k + 2, k + 3))
    user = layer_user(layer, at)
    assert user is None or user == layer.users[k % len(layer.users)]


@settings(max_examples=300, deadline=None)
@given(layers(restricted=()), instants)
def test_an_unrestricted_layer_with_users_always_yields_one(layer, at):
    assert layer_user(layer, at) in layer.users
    assert len(on_call(Schedule("s", ZoneInfo("UTC"), (layer,)), at)) == 1


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, st.integers(0, 10_000))
def test_an_override_wins_exactly_in_its_interval(schedule, at, minutes):
    o = Override("override-user", at, at + timedelta(minutes=minutes + 1), "last")
    s = schedule.with_overrides([o])
    assert on_call(s, at) == ["override-user"]
    assert on_call(s, o.end - timedelta(milliseconds=1)) == ["override-user"]
    # Outside its interval the schedule is exactly what it was without it.
    for t in (at - timedelta(milliseconds=1), o.end, o.end + timedelta(hours=3)):
        assert on_call(s, t) == on_call(schedule, t)


@settings(max_examples=60, deadline=None)
@given(schedules(), instants, st.lists(st.integers(0, 7 * 24 * 60 - 1), min_size=1, max_size=20))
def test_shifts_and_gaps_agree_with_on_call_everywhere(schedule, start, probes):
    end = start + timedelta(days=7)
    listed, holes = shifts(schedule, start, end), gaps(schedule, start, end)
    for minute in probes:
        t = start + timedelta(minutes=minute)
        in_shift = [s.user for s in listed if s.start <= t < s.end]
        in_gap = [g for g in holes if g[0] <= t < g[1]]
        assert len(in_shift) + len(in_gap) == 1
        assert in_shift == on_call(schedule, t)
    for a, b in zip(listed, listed[1:]):
        assert a.end <= b.start and (a.user != b.user or a.end != b.start)


BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def daily(tz, users=("ann", "bob", "cy"), handoff="09:00", **extra):
    return parse_schedule("primary", {"timezone": tz, "layers": [
        {"users": list(users), "rotation_start": "2025-06-02", "handoff": handoff, "turn": "1d", **extra}]})


@pytest.mark.parametrize("tz, change", [("Europe/Berlin", "2026-03-29"), ("Europe/Berlin", "2026-10-25"),
                                        ("America/New_York", "2026-03-08"), ("America/New_York", "2026-11-01")])
def test_daily_handoff_stays_at_local_nine_across_dst(tz, change):
    # The 2026 DST changes: Berlin 29 March / 25 October, New York 8 March / 1 November.
    day = datetime.fromisoformat(change)
    s, zone = daily(tz), ZoneInfo(tz)
    listed = shifts(s, (day - timedelta(days=3)).replace(tzinfo=zone), (day + timedelta(days=3)).replace(tzinfo=zone))
    for shift in listed[1:-1]:
        assert shift.start.astimezone(zone).hour == 9 and shift.start.astimezone(zone).minute == 0
    lengths = {s_.end - s_.start for s_ in listed[1:-1]}
    # The shift containing the change is 23 h (spring) or 25 h (fall); the others 24 h.
    assert timedelta(hours=24) in lengths and (lengths - {timedelta(hours=24)}) <= {timedelta(hours=23), timedelta(hours=25)}
    assert len(lengths) == 2
    users = [x.user for x in listed]
    assert all(a != b for a, b in zip(users, users[1:]))


def test_handoff_in_the_spring_gap_moves_forward_and_in_the_fall_fold_takes_the_first():
    s = daily("Europe/Berlin", handoff="02:30")
    # 29 March 2026 02:30 does not exist in Berlin: read with the offset before the gap (01:30 UTC).
    assert resolve(s, datetime(2026, 3, 29, 1, 29, tzinfo=UTC))[0] != resolve(s, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))[0]
    # 25 October 02:30 happens twice: the first (CEST, 00:30 UTC) is the hand-off.
    assert resolve(s, datetime(2026, 10, 25, 0, 29, tzinfo=UTC))[0] != resolve(s, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))[0]
    assert resolve(s, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))[0] == resolve(s, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))[0]


def test_weekly_rotation_started_before_the_schedule_existed_keeps_its_order():
    s = parse_schedule("p", {"timezone": "America/New_York", "layers": [
        {"users": ["ann", "bob", "cy"], "rotation_start": "2020-01-06T09:00", "turn": "1w"}]})
    # 2020-01-06 was a Monday; 2026-03-02 is 321 weeks later: 321 % 3 == 0, so ann again, at 09:00 EST.
    assert on_call(s, datetime(2026, 3, 2, 14, 0, tzinfo=UTC)) == ["ann"]
    assert on_call(s, datetime(2026, 3, 2, 13, 59, tzinfo=UTC)) == ["cy"]
    # After the spring change (8 March) the hand-off is 09:00 EDT = 13:00 UTC.
    assert on_call(s, datetime(2026, 3, 9, 13, 0, tzinfo=UTC)) == ["bob"]
    assert on_call(s, datetime(2026, 3, 9, 12, 59, tzinfo=UTC)) == ["ann"]


def test_restricted_upper_layer_wins_only_in_its_window_and_in_local_time():
    s = parse_schedule("p", {"timezone": "Europe/Berlin", "layers": [
        {"name": "base", "users": ["night"], "rotation_start": "2026-01-01", "turn": "1d"},
        {"name": "office", "users": ["day1", "day2"], "rotation_start": "2026-01-05", "turn": "1w",
         "restrictions": [{"start": "09:00", "duration": "8h"}]}]})
    assert on_call(s, datetime(2026, 3, 27, 8, 0, tzinfo=UTC)) == ["day2"]   # 09:00 CET, week 12
    assert on_call(s, datetime(2026, 3, 27, 7, 59, tzinfo=UTC)) == ["night"]
    assert on_call(s, datetime(2026, 3, 30, 7, 0, tzinfo=UTC)) == ["day1"]   # 09:00 CEST after the change
    assert on_call(s, datetime(2026, 3, 30, 15, 0, tzinfo=UTC)) == ["night"]  # 17:00 CEST


def test_gaps_of_a_weekday_only_layer():
    s = parse_schedule("p", {"timezone": "UTC", "layers": [
        {"users": ["a"], "rotation_start": "2026-01-05", "turn": "1w",
         "restrictions": [{"day": "mon", "start": "00:00", "duration": "5d"}]}]})
    found = gaps(s, datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))
    assert found == [(datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
                     (datetime(2026, 3, 14, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))]


@pytest.mark.parametrize("spec, path", [
    ({"timezone": "Mars/Base", "layers": [{"users": ["a"], "rotation_start": "2026-01-01"}]}, "schedules.p.timezone"),
    ({"layers": [{"users": [], "rotation_start": "2026-01-01"}]}, "schedules.p.layers[0].users"),
    ({"layers": [{"users": ["a"], "rotation_start": "2026-01-01", "turn": "10m"}]}, "schedules.p.layers[0].turn"),
    ({"layers": [{"users": ["a"]}]}, "schedules.p.layers[0].rotation_start"),
    ({"layers": [{"users": ["a"], "rotation_start": "2026-01-01",
                  "restrictions": [{"start": "25:00", "duration": "1h"}]}]}, "schedules.p.layers[0].restrictions[0].start"),
])
def test_bad_schedules_name_the_key(spec, path):
    with pytest.raises(ScheduleError) as err:
        parse_schedule("p", spec)
    assert err.value.path == path
