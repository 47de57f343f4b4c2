from datetime import datetime, timedelta, timezone

from alertwrite.lifecycle import reconcile
from alertwrite.records import AlertRecord, episode_id
from alertwrite.webhook import Alert, Delivery

T0 = datetime(2026, 11, 22, 10, 5, 30, 817000, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 22, 11, 0, tzinfo=timezone.utc)
FP = "ab906f89a7cb9bdc"


def alert(status="firing", starts=T0, ends=None, fp=FP, **labels):
    return Alert(fp, status, {"alertname": "HighCPU", "severity": "critical", **labels},
                 {"summary": "CPU high"}, starts, ends, "")


def delivery(*alerts, truncated=0):
    return Delivery("webhook-main", "firing", tuple(alerts), group_key="{}:{alertname=\"HighCPU\"}",
                    truncated_alerts=truncated)


def run(stored, *alerts):
    return reconcile(delivery(*alerts), {r.fingerprint: r for r in stored}, NOW)


def stored(status="firing", starts=T0, occurrences=1, **over):
    rec = AlertRecord(FP, status, starts, labels={"alertname": "HighCPU", "severity": "critical"},
                      occurrences=occurrences, last_seen_at=NOW - timedelta(hours=1))
    if status == "resolved":
        rec = rec.evolve(ends_at=starts + timedelta(minutes=5), resolved_at=starts + timedelta(minutes=5))
    return rec.evolve(**over)


def test_new_alert_fires_and_opens_an_episode():
    out = run([], alert())
    assert [t.kind for t in out.transitions] == ["firing"]
    (rec,) = out.alerts
    assert (rec.status, rec.occurrences, rec.last_seen_at) == ("firing", 1, NOW)
    assert [e.row_id for e in out.episodes] == [episode_id(FP, T0)]


def test_repeat_only_touches_last_seen():
    out = run([stored()], alert())
    assert out.transitions == []
    assert out.counts == {"unchanged": 1}
    assert out.alerts[0].last_seen_at == NOW and out.alerts[0].status == "firing"
    assert out.episodes == []


def test_resolve_with_coarser_starts_at_resolves_the_same_episode():
    # amtool re-posts the resolve with startsAt cut to the second (captures 0001 -> 0004).
    ends = T0 + timedelta(minutes=1)
    out = run([stored()], alert("resolved", starts=T0.replace(microsecond=0), ends=ends))
    assert [t.kind for t in out.transitions] == ["resolved"]
    rec = out.alerts[0]
    assert (rec.status, rec.resolved_at, rec.starts_at) == ("resolved", ends, T0)
    assert [e.row_id for e in out.episodes] == [episode_id(FP, T0)]


def test_refire_after_resolve_reopens_and_counts():
    later = T0 + timedelta(minutes=10)
    out = run([stored("resolved", acknowledged_at=NOW, acknowledged_by="ann")], alert(starts=later))
    assert [t.kind for t in out.transitions] == ["refiring"]
    rec = out.alerts[0]
    assert (rec.status, rec.occurrences, rec.starts_at, rec.resolved_at) == ("firing", 2, later, None)
    assert rec.clear_ack and rec.to_row(_table())["acknowledgedBy"] is None


def test_late_firing_copy_never_reopens_a_resolved_episode():
    out = run([stored("resolved")], alert("firing"))
    assert out.transitions == [] and out.alerts == [] and out.counts == {"late": 1}


def test_older_episode_never_overwrites_newer_state():
    newer = T0 + timedelta(minutes=10)
    out = run([stored("firing", starts=newer, occurrences=2)], alert("firing", starts=T0))
    assert out.alerts == [] and out.transitions == []
    # ...but its late resolve still closes its own history row.
    out = run([stored("firing", starts=newer, occurrences=2)], alert("resolved", starts=T0, ends=T0 + timedelta(minutes=1)))
    assert out.alerts == [] and out.transitions == []
    assert [(e.row_id, e.status) for e in out.episodes] == [(episode_id(FP, T0), "resolved")]


def test_new_start_while_firing_supersedes_a_lost_resolve():
    newer = T0 + timedelta(minutes=10)
    out = run([stored("firing")], alert(starts=newer))
    assert [t.kind for t in out.transitions] == ["refiring"]
    assert {(e.row_id, e.status) for e in out.episodes} == {
        (episode_id(FP, newer), "firing"), (episode_id(FP, T0), "superseded")}


def test_first_seen_resolved_is_stored_but_not_announced():
    out = run([], alert("resolved", ends=T0 + timedelta(minutes=1)))
    assert out.transitions == [] and out.alerts[0].status == "resolved"


def test_acknowledgement_is_not_overwritten_within_an_episode():
    out = run([stored(acknowledged_by="ann")], alert())
    row = out.alerts[0].to_row(_table())
    assert "acknowledgedBy" not in row and "acknowledgedAt" not in row


def test_duplicate_fingerprints_in_one_delivery_collapse():
    out = run([], alert(), alert())
    assert len(out.alerts) == 1 and [t.kind for t in out.transitions] == ["firing"]


def test_truncated_count_is_recorded_on_rows():
    out = reconcile(delivery(alert(), truncated=3), {}, NOW)
    assert out.alerts[0].truncated_alerts == 3


def _table():
    from provision.project import find_project
    return find_project().load_schema().table("alerts")
