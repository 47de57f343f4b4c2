"""Statistics over synthetic histories: a small hand-computed one, and random ones checked by brute force."""
from __future__ import annotations

import statistics as pystats
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertwrite.stats.statistics import (Episode, Options, StatsInputError, Window, bucket_starts, compute,
                                         parse_window)

UTC = timezone.utc
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
WEEK = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
S = timedelta(seconds=1)
H = timedelta(hours=1)


def ep(fp, start, name, severity, team, ack=None, resolve=None, by="alertmanager", silenced=0.0, instance="i1"):
    resolved_at = start + resolve * S if resolve is not None else None
    return Episode(fp, start, "resolved" if resolved_at else "firing", alertname=name, severity=severity,
                   instance=instance, receiver="ops", labels={"alertname": name, "team": team, "tenant": "acme"},
                   resolved_at=resolved_at, resolved_by=by if resolved_at else "",
                   first_ack_at=start + ack * S if ack is not None else None, silenced_seconds=silenced)


HISTORY = [
    ep("a", T0, "DiskFull", "critical", "db", ack=60, resolve=600),
    ep("a", T0 + H, "DiskFull", "critical", "db", ack=180, resolve=1200),
    ep("a", T0 + 2 * H, "DiskFull", "critical", "db", resolve=300),               # a page nobody acked
    ep("b", T0 + 3 * H, "HighLatency", "warning", "web", ack=30, resolve=43200, by="janitor"),
    ep("b", T0 + 4 * H, "HighLatency", "warning", "web"),                          # still firing
    ep("c", T0 + 5 * H, "DiskFull", "critical", "db", resolve=900, silenced=100.0, instance="i2"),
    ep("a", datetime(2026, 10, 31, tzinfo=UTC), "DiskFull", "critical", "db", ack=1, resolve=2),  # outside
]


def test_hand_computed_overall():
    report = compute(HISTORY, WEEK)
    o = report["overall"]
    assert (o["episodes"], o["alerts"], o["open"], o["resolved"], o["acked"]) == (6, 3, 1, 5, 3)
    assert (o["janitorResolved"], o["pages"], o["neverAckedPages"], o["silencedSeconds"]) == (1, 4, 1, 100.0)
    # TTA 60, 180, 30; TTR 600, 1200, 300, 900 (the janitor's 43200 is left out).
    assert o["mtta"] == {"n": 3, "mean": 90.0, "median": 60.0, "p90": 180.0}
    assert o["mttr"] == {"n": 4, "mean": 750.0, "median": 750.0, "p90": 1200.0}


def test_hand_computed_groups_noisy_never_acked():
    report = compute(HISTORY, WEEK, Options(by="alertname", top=2))
    disk, latency = report["groups"]
    assert (disk["key"], disk["episodes"], latency["key"], latency["episodes"]) == ("DiskFull", 4, "HighLatency", 2)
    assert disk["mtta"] == {"n": 2, "mean": 120.0, "median": 120.0, "p90": 180.0}
    assert latency["mttr"]["n"] == 0 and latency["mttr"]["mean"] is None
    assert [(r["fingerprint"], r["episodes"]) for r in report["noisy"]] == [("a", 3), ("b", 2)]
    assert [(r["fingerprint"], r["neverAcked"], r["pages"]) for r in report["neverAcked"]] == [("a", 1, 3)]
    teams = compute(HISTORY, WEEK, Options(by="label:team"))["groups"]
    assert [(g["key"], g["episodes"]) for g in teams] == [("db", 4), ("web", 2)]
    assert [g["key"] for g in compute(HISTORY, WEEK, Options(by="instance"))["groups"]] == ["i1", "i2"]
    assert [g["key"] for g in compute(HISTORY, WEEK, Options(by="tenant"))["groups"]] == ["acme"]
    assert [g["key"] for g in compute(HISTORY, WEEK, Options(by="label:missing"))["groups"]] == ["(none)"]


def test_flapping_threshold_is_inclusive_of_the_window():
    two_hours = compute(HISTORY, WEEK, Options(flap_refires=2, flap_window=2 * H))["flapping"]
    assert [(r["fingerprint"], r["maxRefiresInWindow"]) for r in two_hours] == [("a", 2)]
    assert compute(HISTORY, WEEK, Options(flap_refires=2, flap_window=2 * H - S))["flapping"] == []


def test_daily_series_counts_each_episode_once():
    points = compute(HISTORY, WEEK)["series"]["points"]
    assert len(points) == 7 and points[1]["start"] == "2026-11-02T00:00:00+00:00"
    assert [p["episodes"] for p in points] == [0, 6, 0, 0, 0, 0, 0]
    assert points[1]["mttaMean"] == 90.0


def test_day_buckets_follow_local_midnight_across_dst():
    # Berlin leaves summer time on Sunday 2026-10-25: that day has 25 hours.
    window = Window(datetime(2026, 10, 23, 22, tzinfo=UTC), datetime(2026, 10, 26, 23, tzinfo=UTC))
    starts = bucket_starts(window, "day", "Europe/Berlin")
    assert [s.isoformat() for s in starts] == ["2026-10-23T22:00:00+00:00", "2026-10-24T22:00:00+00:00",
                                               "2026-10-25T23:00:00+00:00"]
    assert len(bucket_starts(window, "hour", "Europe/Berlin")) == 73


def test_window_parsing():
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert parse_window(now, since="7d") == Window(now - timedelta(days=7), now)
    assert parse_window(now, since="90m").since == now - timedelta(minutes=90)
    w = parse_window(now, from_="2026-11-01", until="2026-11-02T06:00:00Z", tz="Europe/Berlin")
    assert w.since == datetime(2026, 10, 31, 23, tzinfo=UTC) and w.until == datetime(2026, 11, 2, 6, tzinfo=UTC)
    for bad in ({"since": "7x"}, {"since": "7d", "from_": "2026-11-01"}, {"from_": "2026-12-02"},
                {"from_": "yesterday"}, {"since": "1d", "tz": "Mars/Olympus"}):
        with pytest.raises(StatsInputError):
            parse_window(now, **bad)
    with pytest.raises(StatsInputError):
        compute(HISTORY, WEEK, Options(by="colour"))


# --- random histories, checked against a brute-force reading of the definitions ---------------

def nearest_rank(values, p):
    for v in sorted(values):
        if sum(1 for x in values if x <= v) / len(values) >= p / 100:
            return v


def brute(episodes, window, pages=("critical",)):
    inside = [e for e in episodes if window.since <= e.started < window.until]
    ttas = [max((e.first_ack_at - e.started).total_seconds(), 0) for e in inside if e.first_ack_at]
    ttrs = [(e.resolved_at - e.started).total_seconds() for e in inside
            if e.resolved_at and e.status == "resolved" and e.resolved_by not in ("janitor", "superseded")]
    never = [e for e in inside if e.severity in pages and e.resolved_at and not e.first_ack_at
             and not e.silenced_seconds]
    return inside, ttas, ttrs, never


def expect_summary(got, values):
    assert got["n"] == len(values)
    if not values:
        assert got["mean"] is None
        return
    assert got["mean"] == pytest.approx(pystats.fmean(values), abs=1e-3)
    assert got["median"] == pytest.approx(pystats.median(values), abs=1e-3)
    assert got["p90"] == pytest.approx(nearest_rank(values, 90), abs=1e-3)


@st.composite
def histories(draw):
    out = []
    for fp in draw(st.lists(st.sampled_from("abcdef"), min_size=0, max_size=40)):
        start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(-600, 11000)))
        ack = draw(st.one_of(st.none(), st.integers(0, 7200)))
        resolve = draw(st.one_of(st.none(), st.integers(0, 20000)))
        by = draw(st.sampled_from(["alertmanager", "janitor", "superseded", "alice"]))
        out.append(Episode(fp, start, ("superseded" if by == "superseded" else "resolved") if resolve is not None
                           else "firing", alertname=fp.upper(), severity=draw(st.sampled_from(["critical", "warning"])),
                           resolved_at=start + timedelta(seconds=resolve) if resolve is not None else None,
                           resolved_by=by if resolve is not None else "",
                           first_ack_at=start + timedelta(seconds=ack) if ack is not None else None,
                           silenced_seconds=float(draw(st.sampled_from([0, 0, 60])))))
    return out


WINDOW = Window(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))


@settings(max_examples=150, deadline=None)
@given(histories(), st.integers(1, 4), st.integers(1, 300))
def test_random_histories_match_brute_force(history, refires, window_minutes):
    span = timedelta(minutes=window_minutes)
    report = compute(history, WINDOW, Options(by="alertname", top=100, flap_refires=refires, flap_window=span))
    inside, ttas, ttrs, never = brute(history, WINDOW)
    assert report["overall"]["episodes"] == len(inside)
    expect_summary(report["overall"]["mtta"], ttas)
    expect_summary(report["overall"]["mttr"], ttrs)
    assert report["overall"]["neverAckedPages"] == len(never)
    assert sum(g["episodes"] for g in report["groups"]) == len(inside)
    for g in report["groups"]:
        mine = [e for e in inside if e.alertname == g["key"]]
        _, g_ttas, g_ttrs, _ = brute(mine, WINDOW)
        assert g["episodes"] == len(mine)
        expect_summary(g["mtta"], g_ttas)
        expect_summary(g["mttr"], g_ttrs)
    counts = {}
    for e in inside:
        counts[e.fingerprint] = counts.get(e.fingerprint, 0) + 1
    assert {r["fingerprint"]: r["episodes"] for r in report["noisy"]} == counts
    assert [r["episodes"] for r in report["noisy"]] == sorted(counts.values(), reverse=True)
    flappers = set()
    for fp in counts:
        starts = [e.started for e in inside if e.fingerprint == fp]
        if any(sum(1 for t in starts if s <= t <= s + span) >= refires + 1 for s in starts):
            flappers.add(fp)
    assert {r["fingerprint"] for r in report["flapping"]} == flappers
    assert sum(p["episodes"] for p in report["series"]["points"]) == len(inside)
