from datetime import datetime, timedelta, timezone

from alertwrite.lifecycle import reconcile, same_start
from alertwrite.records import AlertRecord, episode_id
from alertwrite.webhook import Alert, Delivery

T0 = datetime(2026, 11, 22, 10, 5, 30, 817000, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 22, 11, 0, tzinfo=timezone.utc)
FP = "ab906f89a7cb9bdc"
S = timedelta(seconds=1)


def alert(status="firing", starts=T0, ends=None, fp=FP, **labels):
    return Alert(fp, status, {"alertname": "HighCPU", "severity": "critical", **labels},
                 {"summary": "CPU high"}, starts, ends, "")


def delivery(*alerts, truncated=0):
    return Delivery("webhook-main", "firing", tuple(alerts), group_key="{}:{alertname=\"HighCPU\"}",
                    truncated_alerts=truncated)


def run(stored, *alerts, now=NOW):
    return reconcile(delivery(*alerts), {r.fingerprint: r for r in stored}, now)


class Timeline:
    """Deliveries one after another against one stored state, as the processor applies them."""

    def __init__(self):
        self.state: dict[str, AlertRecord] = {}
        self.episodes: dict[str, str] = {}
        self.announced: list[str] = []

    def deliver(self, *alerts, at):
        out = reconcile(delivery(*alerts), self.state, at)
        for change in out.alerts:
            self.state[change.new.fingerprint] = change.new
        for ep in out.episodes:
            self.episodes[ep.record.row_id] = ep.record.status
        self.announced += [t.kind for t in out.transitions]
        return out

    @property
    def current(self) -> AlertRecord:
        return self.state[FP]


def stored(status="firing", starts=T0, occurrences=1, **over):
    rec = AlertRecord(FP, status, starts, labels={"alertname": "HighCPU", "severity": "critical"},
                      occurrences=occurrences, last_seen_at=NOW - timedelta(hours=1))
    if status == "resolved":
        rec = rec.evolve(ends_at=starts + timedelta(minutes=5), resolved_at=starts + timedelta(minutes=5),
                         last_seen_at=starts + timedelta(minutes=5, seconds=10))
    return rec.evolve(**over)


def test_new_alert_fires_and_opens_an_episode():
    out = run([], alert())
    assert [t.kind for t in out.transitions] == ["firing"]
    (change,) = out.alerts
    assert change.old is None and (change.new.status, change.new.occurrences, change.new.last_seen_at) == ("firing", 1, NOW)
    assert [e.record.row_id for e in out.episodes] == [episode_id(FP, 1)]


def test_repeat_only_touches_last_seen():
    out = run([stored()], alert())
    assert out.transitions == [] and out.counts == {"unchanged": 1}
    assert out.alerts[0].new.last_seen_at == NOW and out.alerts[0].new.status == "firing"
    assert out.episodes == []


def test_resolve_with_coarser_starts_at_resolves_the_same_episode():
    # amtool re-posts the resolve with startsAt cut to the second (captures 0001 -> 0004).
    ends = T0 + timedelta(minutes=1)
    out = run([stored()], alert("resolved", starts=T0.replace(microsecond=0), ends=ends))
    assert [t.kind for t in out.transitions] == ["resolved"]
    rec = out.alerts[0].new
    assert (rec.status, rec.resolved_at, rec.starts_at) == ("resolved", ends, T0)
    assert [(e.record.row_id, e.opens) for e in out.episodes] == [(episode_id(FP, 1), False)]


def test_refire_after_resolve_reopens_and_counts():
    later = T0 + timedelta(minutes=10)
    out = run([stored("resolved", acknowledged_at=NOW, acknowledged_by="ann")], alert(starts=later))
    assert [t.kind for t in out.transitions] == ["refiring"]
    rec = out.alerts[0].new
    assert (rec.status, rec.occurrences, rec.starts_at, rec.resolved_at) == ("firing", 2, later, None)
    assert rec.clear_ack


def test_same_start_treats_whole_seconds_as_a_coarse_copy():
    assert same_start(T0, T0.replace(microsecond=0))
    assert not same_start(T0, T0 + timedelta(milliseconds=100))
    assert not same_start(T0, T0 + S)


# -- §2: the latest word wins unless it is provably older ------------------------------------
def test_case_clock_skew_a_day_ahead_then_resolve_then_real_start_pages_again():
    t = Timeline()
    ahead = T0 + timedelta(days=1)
    t.deliver(alert(starts=ahead), at=T0 + 30 * S)
    t.deliver(alert("resolved", starts=ahead, ends=T0 + timedelta(minutes=5)), at=T0 + timedelta(minutes=5, seconds=30))
    assert t.current.status == "resolved"
    out = t.deliver(alert(starts=T0 + timedelta(minutes=10)), at=T0 + timedelta(minutes=10, seconds=30))
    assert [x.kind for x in out.transitions] == ["refiring"]
    assert (t.current.status, t.current.occurrences) == ("firing", 2)
    assert t.announced == ["firing", "resolved", "refiring"]


def test_case_resolve_posted_without_start_time_resolves_a_future_start():
    t = Timeline()
    ahead = T0 + timedelta(hours=2)
    t.deliver(alert(starts=ahead), at=T0)
    ends = T0 + timedelta(minutes=1)
    t.deliver(alert("resolved", starts=ends, ends=ends), at=ends + S)  # Alertmanager: startsAt = endsAt
    assert t.current.status == "resolved" and t.announced == ["firing", "resolved"]


def test_case_two_unclustered_alertmanagers_one_second_apart():
    for first_resolve in ("am1", "am2"):
        t = Timeline()
        t.deliver(alert(starts=T0), at=T0 + 30 * S)  # AM1
        t.deliver(alert(starts=T0 + S), at=T0 + 31 * S)  # AM2 stamped it 1 s later
        assert (t.current.occurrences, t.announced) == (1, ["firing"])
        resolves = {"am1": alert("resolved", starts=T0, ends=T0 + timedelta(minutes=5)),
                    "am2": alert("resolved", starts=T0 + S, ends=T0 + timedelta(minutes=5, seconds=1))}
        order = ["am1", "am2"] if first_resolve == "am1" else ["am2", "am1"]
        for i, name in enumerate(order):
            t.deliver(resolves[name], at=T0 + timedelta(minutes=6, seconds=i))
            assert t.current.status == "resolved", name
        # a late firing copy from either peer changes nothing
        t.deliver(alert(starts=T0 + S), at=T0 + timedelta(minutes=7))
        assert t.announced == ["firing", "resolved"] and t.current.occurrences == 1


def test_case_real_refire_half_a_second_after_the_resolve_pages():
    t = Timeline()
    t.deliver(alert(starts=T0), at=T0 + S)
    resolved_at = T0 + timedelta(milliseconds=100)  # in the same second as the start
    t.deliver(alert("resolved", starts=T0, ends=resolved_at), at=T0 + 2 * S)
    out = t.deliver(alert(starts=resolved_at + timedelta(milliseconds=500)), at=T0 + 3 * S)
    assert [x.kind for x in out.transitions] == ["refiring"]
    assert t.current.occurrences == 2 and t.announced == ["firing", "resolved", "refiring"]


def test_case_late_copies_and_older_episodes_change_nothing():
    t = Timeline()
    t.deliver(alert(starts=T0), at=T0 + S)
    t.deliver(alert("resolved", starts=T0, ends=T0 + timedelta(minutes=1)), at=T0 + timedelta(minutes=2))
    second = T0 + timedelta(minutes=10)
    t.deliver(alert(starts=second), at=second + S)
    snapshot = (dict(t.state), dict(t.episodes), list(t.announced))
    for late in (alert(starts=T0), alert("resolved", starts=T0, ends=T0 + timedelta(minutes=1)),
                 alert(starts=T0.replace(microsecond=0))):
        out = t.deliver(late, at=second + timedelta(minutes=1))
        assert out.alerts == [] and out.episodes == [] and out.transitions == []
    assert (dict(t.state), dict(t.episodes), list(t.announced)) == snapshot
    # a late firing copy of the episode that already resolved
    t.deliver(alert("resolved", starts=second, ends=second + timedelta(minutes=1)), at=second + timedelta(minutes=2))
    out = t.deliver(alert(starts=second), at=second + timedelta(minutes=3))
    assert out.alerts == [] and out.transitions == [] and t.current.status == "resolved"


def test_case_negative_duration_is_stored_as_zero(schema):
    t = Timeline()
    start = datetime(2026, 11, 22, 10, 22, 22, 604000, tzinfo=timezone.utc)
    t.deliver(alert(starts=start), at=start + S)
    out = t.deliver(alert("resolved", starts=start, ends=start.replace(microsecond=0)), at=start + 2 * S)
    (ep,) = out.episodes
    assert ep.record.to_row(schema.table("alert_episodes"))["durationSeconds"] == 0


def test_new_start_while_firing_supersedes_a_lost_resolve():
    newer = T0 + timedelta(minutes=10)
    out = run([stored("firing", last_seen_at=T0 + timedelta(minutes=1))], alert(starts=newer))
    assert [t.kind for t in out.transitions] == ["refiring"]
    assert {(e.record.row_id, e.record.status) for e in out.episodes} == {
        (episode_id(FP, 2), "firing"), (episode_id(FP, 1), "superseded")}


def test_first_seen_resolved_is_stored_but_not_announced():
    out = run([], alert("resolved", ends=T0 + timedelta(minutes=1)))
    assert out.transitions == [] and out.alerts[0].new.status == "resolved"


def test_acknowledgement_is_not_overwritten_within_an_episode():
    out = run([stored(acknowledged_by="ann")], alert())
    assert not out.alerts[0].new.clear_ack


def test_duplicate_fingerprints_in_one_delivery_collapse():
    out = run([], alert(), alert())
    assert len(out.alerts) == 1 and [t.kind for t in out.transitions] == ["firing"]


def test_truncated_count_is_recorded_on_rows():
    out = reconcile(delivery(alert(), truncated=3), {}, NOW)
    assert out.alerts[0].new.truncated_alerts == 3


def test_janitor_closed_episode_reopens_with_its_own_claim():
    closed = stored("resolved", resolved_by="janitor", last_seen_at=T0 + timedelta(minutes=1))
    out = run([closed], alert())
    (t,) = out.transitions
    assert t.kind == "firing" and t.record.occurrences == 1
    assert t.key != run([], alert()).transitions[0].key  # the first page's claim does not block it
