"""Issue 8 §1 and §3 end to end: the alert-processor from its bundle against the Appwrite fake
(which refuses what the real 1.9.0 server refuses) and against SQLite."""
import json
import threading

import pytest

from provision.runtime import invoke
from support import all_captures, run_dispatcher, webhook_request

VOLATILE = {"$createdAt", "$updatedAt", "$sequence", "lastSeenAt"}


def deliver(processor, body):
    return invoke(processor, webhook_request(body if isinstance(body, bytes) else body.encode()))


def one_alert(**over) -> dict:
    alert = {"status": "firing", "labels": {"alertname": "Hostile", "severity": "critical"}, "annotations": {},
             "startsAt": "2026-11-22T10:00:00.5Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
             "fingerprint": "00000000000000ab"}
    alert.update(over)
    return alert


def body(*alerts, **top) -> str:
    doc = {"version": "4", "status": "firing", "receiver": "r", "groupKey": "g", "alerts": list(alerts),
           "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "truncatedAlerts": 0}
    doc.update(top)
    return json.dumps(doc)


HOSTILE = {
    "nested_1000_deep": ("[" * 1000 + "]" * 1000, "invalid_json"),
    "year_0001_with_offset": (body(one_alert(startsAt="0001-01-01T00:00:00+02:00")), "invalid_timestamp"),
    "year_9999_minus_offset": (body(one_alert(startsAt="9999-12-31T23:59:59-02:00")), "invalid_timestamp"),
    "truncated_2_pow_63": (body(one_alert(), truncatedAlerts=2**63), "invalid_payload"),
    "lone_surrogate": (body(one_alert()).replace('"Hostile"', '"Host\\ud800ile"'), "invalid_unicode"),
    "offset_99_99": (body(one_alert(startsAt="2026-11-22T10:00:00+99:99")), "invalid_timestamp"),
    "fingerprint_37_chars": (body(one_alert(fingerprint="a" * 37)), "missing_fingerprint"),
    "fingerprint_17_hex": (body(one_alert(fingerprint="a" * 17)), "missing_fingerprint"),
    "fingerprint_trailing_newline": (body(one_alert(fingerprint="ab12\n")), "missing_fingerprint"),
}


@pytest.mark.parametrize("backend", ["appwrite", "sqlite"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_bodies_get_a_400_with_a_code_and_store_nothing(processor, request, backend, case, monkeypatch):
    if backend == "appwrite":
        fake = request.getfixturevalue("appwrite_env")
    else:
        request.getfixturevalue("sqlite_env")
    text, code = HOSTILE[case]
    result = deliver(processor, text)
    assert (result.status, result.json()) == (400, {"error": code})
    assert "Traceback" not in "\n".join(result.logs)
    if backend == "appwrite":
        assert fake.rows("monitoring", "alerts") == {} and fake.messages() == []


@pytest.mark.parametrize("backend", ["appwrite", "sqlite"])
def test_edge_values_both_backends_take_are_stored_sanitised(processor, request, backend):
    """Accepted by the parser means stored by both backends: a 16-hex fingerprint, a start
    before year 1000, a whole-second resolve after a fractional start (negative duration)."""
    fake = request.getfixturevalue("appwrite_env") if backend == "appwrite" else None
    if fake is None:
        request.getfixturevalue("sqlite_env")
    assert deliver(processor, body(one_alert(fingerprint="ABCDEF0123456789", startsAt="0500-01-01T00:00:00Z"))).status == 200
    fired = one_alert(startsAt="2026-11-22T10:22:22.604Z")
    assert deliver(processor, body(fired)).status == 200
    resolved = one_alert(status="resolved", startsAt="2026-11-22T10:22:22.604Z", endsAt="2026-11-22T10:22:22Z")
    result = deliver(processor, body(resolved, status="resolved"))
    assert result.status == 200 and result.json()["transitions"] == {"resolved": 1}, result.body
    if fake is not None:
        episodes = fake.rows("monitoring", "alert_episodes")
        assert [e["durationSeconds"] for e in episodes.values() if e["fingerprint"] == "00000000000000ab"] == [0]
        assert fake.rows("monitoring", "alerts")["abcdef0123456789"]["startsAt"] == "1000-01-01T00:00:00.000+00:00"


def test_an_unreadable_stored_row_never_takes_the_function_down(processor, appwrite_env):
    fake = appwrite_env
    assert deliver(processor, body(one_alert())).status == 200
    row = fake.rows("monitoring", "alerts")["00000000000000ab"]
    # What the fake returned before it checked ranges, and any hand edit can leave behind.
    row.update(startsAt="0001-01-01T00:00:00.000+00:00", lastSeenAt="yesterday", occurrences="x", labels="{cut")
    result = deliver(processor, body(one_alert(startsAt="2026-11-22T11:00:00Z")))
    assert result.status == 200, result.body
    assert fake.rows("monitoring", "alerts")["00000000000000ab"]["startsAt"] == "2026-11-22T11:00:00.000+00:00"


# -- the whole corpus, twice ---------------------------------------------------------------
def _state(fake):
    rows = {t: {rid: {k: v for k, v in row.items() if k not in VOLATILE}
                for rid, row in fake.rows("monitoring", t).items()}
            for t in ("alerts", "alert_episodes", "alert_transitions")}
    return rows, sorted(m["$id"] for m in fake.messages())


def test_the_whole_corpus_replayed_twice_changes_no_row_and_adds_no_message(processor, appwrite_env):
    fake = appwrite_env
    for cap in all_captures():
        assert deliver(processor, cap["body_raw"]).status == 200, cap["label"]
    first = _state(fake)
    firing = {fp for fp, r in fake.rows("monitoring", "alerts").items() if r["status"] == "firing"}
    for cap in all_captures():
        assert deliver(processor, cap["body_raw"]).status == 200, cap["label"]
    assert _state(fake) == first
    # Only still-firing alerts may have been touched, and only their lastSeenAt.
    assert firing <= set(fake.rows("monitoring", "alerts"))
    superseded = [e for e in first[0]["alert_episodes"].values() if e["status"] == "superseded"]
    assert all(e["durationSeconds"] >= 0 for e in first[0]["alert_episodes"].values() if e["durationSeconds"] is not None)
    assert superseded == [e for e in _state(fake)[0]["alert_episodes"].values() if e["status"] == "superseded"]


# -- §3: two executions at once --------------------------------------------------------------
def _run_at_once(processor, bodies):
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def run(i):
        barrier.wait()
        results[i] = deliver(processor, bodies[i])
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


A = one_alert(fingerprint="000000000000000a", labels={"alertname": "A", "severity": "critical"})
B = one_alert(fingerprint="000000000000000b", labels={"alertname": "B", "severity": "critical"})


def _announced(fake, dispatcher) -> list[str]:
    """Every alert name in every message (one line per alert in sms content), once the
    dispatcher has sent what the deliveries recorded."""
    assert run_dispatcher(dispatcher, fake.key).status == 200
    names = []
    for m in fake.messages():
        if m["providerType"] == "sms":
            names += [line.split()[1] for line in m["data"]["content"].splitlines() if line.startswith("FIRING")]
    return sorted(names)


@pytest.mark.parametrize("latency", [0.0, 0.02])
def test_two_concurrent_executions_never_announce_a_transition_twice(processor, dispatcher, appwrite_env, latency):
    fake = appwrite_env
    fake.latency = latency
    results = _run_at_once(processor, [body(A), body(A, B)])
    assert [r.status for r in results] == [200, 200], [r.body for r in results]
    assert _announced(fake, dispatcher) == ["A", "B"]
    alerts = fake.rows("monitoring", "alerts")
    assert {fp: (r["status"], r["occurrences"]) for fp, r in alerts.items()} == {
        "000000000000000a": ("firing", 1), "000000000000000b": ("firing", 1)}
    assert len(fake.rows("monitoring", "alert_transitions")) == 2


@pytest.mark.parametrize("latency", [0.0, 0.02])
def test_a_concurrent_stale_repeat_never_undoes_a_resolve(processor, dispatcher, appwrite_env, latency):
    fake = appwrite_env
    assert deliver(processor, body(A)).status == 200
    fake.latency = latency
    resolve = one_alert(**{**A, "status": "resolved", "endsAt": "2026-11-22T10:05:00Z"})
    for _ in range(3):
        results = _run_at_once(processor, [body(resolve, status="resolved"), body(A)])
        assert [r.status for r in results] == [200, 200]
        assert fake.rows("monitoring", "alerts")["000000000000000a"]["status"] == "resolved"
    assert run_dispatcher(dispatcher, fake.key).status == 200
    resolves = [m for m in fake.messages() if "RESOLVED" in json.dumps(m["data"])]
    assert len(resolves) == 3  # one per (topic, medium): sms, push, email; never a second copy


def test_identical_concurrent_copies_send_each_message_once(processor, dispatcher, appwrite_env):
    fake = appwrite_env
    fake.latency = 0.01
    results = _run_at_once(processor, [body(A, B)] * 3)
    assert all(r.status == 200 for r in results)
    assert _announced(fake, dispatcher) == ["A", "B"] and len(fake.messages()) == 3


def test_a_missing_scope_is_one_line_naming_it_before_any_write(processor, appwrite_env):
    fake = appwrite_env
    fake.scopes = {"rows.write", "messages.write"}  # the README's old key lacked rows.read
    result = deliver(processor, body(A))
    assert result.status == 500 and result.json() == {"error": "store_error"}
    (line,) = [e for e in result.errors if "scope" in e]
    assert "lacks the scope rows.read (or documents.read)" in line
    assert fake.writes() == 0 and fake.messages() == []


def test_send_test_fires_again_after_its_resolve(processor, appwrite_env):
    import time

    from provision.send_test import test_delivery as send_test_body
    kinds = []
    for status in ("firing", "resolved", "firing"):
        result = deliver(processor, json.dumps(send_test_body(status)))
        kinds.append(result.json()["transitions"])
        time.sleep(0.01)
    assert kinds == [{"firing": 1}, {"resolved": 1}, {"refiring": 1}]


def test_check_access_names_every_missing_scope_before_any_write(appwrite_env, schema):
    from alertwrite.stores.appwrite import check_access, make_client
    fake = appwrite_env
    client = make_client(fake.endpoint, fake.project, fake.key, 5)
    assert check_access(client, schema) == []
    fake.scopes = {"rows.write", "messages.write"}
    lines = check_access(client, schema)
    assert lines == ["the API key lacks the scope rows.read (or documents.read): add it to the key in the Appwrite console",
                     "the API key lacks the scope messages.read: add it to the key in the Appwrite console"]
    assert fake.writes() == 0


def test_the_corpus_replay_writes_only_last_seen_of_still_firing_alerts(processor, appwrite_env):
    fake = appwrite_env
    for cap in all_captures():
        deliver(processor, cap["body_raw"])
    firing = {fp for fp, r in fake.rows("monitoring", "alerts").items() if r["status"] == "firing"}
    fake.reset_calls()
    for cap in all_captures():
        deliver(processor, cap["body_raw"])
    writes = [c for c in fake.calls if c.method != "GET"]
    assert all(c.method == "PATCH" and "/alerts/rows" in c.path for c in writes), writes
    assert bool(writes) == bool(firing), (len(writes), firing)
