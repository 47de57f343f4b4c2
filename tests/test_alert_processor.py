"""The alert-processor function, imported from its bundle, against the Appwrite fake."""
import json
import threading

import pytest

from provision.runtime import invoke
from support import TOKEN, UNICODE_HTML_LONG, all_captures, body_of, reconstructed, webhook_request

VOLATILE = {"$createdAt", "$updatedAt", "$sequence", "lastSeenAt"}


def processor_schema():
    from provision.project import find_project
    return find_project().load_schema()


def deliver(processor, body, **kw):
    return invoke(processor, webhook_request(body, **kw))


def state(fake):
    rows = {t: {rid: {k: v for k, v in row.items() if k not in VOLATILE} for rid, row in fake.rows("monitoring", t).items()}
            for t in ("alerts", "alert_episodes")}
    return rows, sorted(fake.rows("monitoring", "notifications"))


def titles(fake):
    return [n["title"] for n in fake.rows("monitoring", "notifications").values()]


def synthetic(n, status="firing", starts="2026-11-22T10:00:00Z", prefix=""):
    alerts = [{"status": status, "labels": {"alertname": "Load", "severity": "critical", "instance": f"{prefix}host-{i}"},
               "annotations": {"summary": f"load on host-{i}"}, "startsAt": starts,
               "endsAt": "2026-11-22T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
               "generatorURL": "", "fingerprint": f"{prefix}{i:015x}"[-16:]} for i in range(n)]
    return json.dumps({"receiver": "r", "status": status, "alerts": alerts, "groupLabels": {}, "commonLabels": {},
                       "commonAnnotations": {}, "externalURL": "", "version": "4", "groupKey": "{}:{}",
                       "truncatedAlerts": 0}).encode()


# -- every captured shape -------------------------------------------------------------
def test_the_whole_capture_corpus_in_order(processor, appwrite_env):
    fake = appwrite_env
    for cap in all_captures():
        result = deliver(processor, cap["body_raw"].encode())
        assert result.status == 200, (cap["label"], result.body)
    alerts = fake.rows("monitoring", "alerts")
    high_cpu = alerts["ab906f89a7cb9bdc"]
    assert (high_cpu["status"], high_cpu["occurrences"]) == ("resolved", 2)  # fired, resolved, re-fired, resolved
    assert high_cpu["startsAt"] == "2026-11-22T10:07:08.924+00:00"
    always = alerts["c6d378c4e3e1f876"]  # Prometheus AlwaysFiring: two runs of Prometheus
    assert always["occurrences"] == 2 and always["generatorURL"].startswith("http://127.0.0.1:19090/graph?g0.expr=")
    assert alerts["0838b104415133fc"]["generatorURL"].startswith("http://127.0.0.1:")  # zero-padded fingerprint
    # The max_alerts=2 groups: rows carry the truncation of the latest delivery that named them (0015: 2).
    disk = [r for r in alerts.values() if r["alertname"] == "DiskFull"]
    assert len(disk) == 2 and {(r["status"], r["truncatedAlerts"]) for r in disk} == {("resolved", 2)}
    episodes = fake.rows("monitoring", "alert_episodes")
    assert sorted(e["occurrence"] for e in episodes.values() if e["fingerprint"] == "ab906f89a7cb9bdc") == [1, 2]
    # Retries and repeats of one notification never sent a second message.
    assert len({m["$id"] for m in fake.messages()}) == len(fake.messages())


def test_firing_then_repeat_then_growth_then_mixed_then_resolved(processor, appwrite_env):
    fake = appwrite_env
    results = [deliver(processor, body_of(n)).json() for n in ("0001", "0002", "0003", "0004", "0005")]
    assert [r["transitions"] for r in results] == [
        {"firing": 1}, {"unchanged": 1}, {"firing": 1, "unchanged": 1}, {"resolved": 1, "unchanged": 1}, {"resolved": 1}]
    # one notification per channel that accepts a transition (critical-pages, everything)
    assert [r["notifications"] for r in results] == [2, 0, 1, 2, 1]
    rows = fake.rows("monitoring", "alerts")
    assert {fp: r["status"] for fp, r in rows.items()} == {"ab906f89a7cb9bdc": "resolved", "2e784dd042d4c2ea": "resolved"}
    web1 = rows["ab906f89a7cb9bdc"]
    assert (web1["severity"], web1["instance"], web1["job"]) == ("critical", "web-1:9100", "node")
    assert web1["resolvedAt"] == "2026-11-22T10:06:14.000+00:00"
    assert web1["receiver"] == "webhook-main" and web1["groupKey"] == '{}:{alertname="HighCPU"}'
    assert "[FIRING:1] HighCPU" in titles(fake) and "[RESOLVED:1] HighCPU" in titles(fake)
    assert fake.messages() == []  # intake only queues; the alert-dispatcher sends


def test_truncated_group_is_recorded(processor, appwrite_env):
    result = deliver(processor, body_of("0007")).json()
    assert result["truncatedAlerts"] == 3
    rows = appwrite_env.rows("monitoring", "alerts")
    assert [r["truncatedAlerts"] for r in rows.values()] == [3, 3]
    assert any("truncated by max_alerts: 3" in line for line in deliver(processor, body_of("0007")).logs)


def test_unicode_html_and_long_annotations_are_stored_and_escaped(processor, appwrite_env):
    fake = appwrite_env
    result = deliver(processor, reconstructed(UNICODE_HTML_LONG)["body_raw"].encode())
    assert result.status == 200
    (row,) = fake.rows("monitoring", "alerts").values()
    assert row["alertname"] == "Weird<script>alert('x')</script>"
    assert row["instance"] == "ünïcödé-🔥-节点-1"
    assert json.loads(row["labels"])["weird"].startswith("line1\nline2")
    assert len(row["description"]) == 18000
    from alertwrite.channels.dispatch import run_due
    from alertwrite.schema import load_bundled  # noqa: F401  (the bundle carries the same schema)
    from alertwrite.settings import load_settings
    import os
    settings = load_settings(dict(os.environ), {"x-appwrite-key": "test-api-key"}, need_tokens=False)
    assert run_due(None, processor_schema(), settings)["sent"] == 1  # warning: the "everything" channel
    (mail,) = fake.messages()
    assert "&lt;script&gt;" in mail["data"]["content"] and "<script>" not in mail["data"]["content"]


def test_oversized_values_are_truncated_visibly_not_rejected(processor, appwrite_env):
    body = json.loads(synthetic(1))
    body["alerts"][0]["labels"]["instance"] = "i" * 5000
    body["alerts"][0]["annotations"]["summary"] = "s" * 5000
    body["alerts"][0]["generatorURL"] = "http://x/" + "g" * 5000
    assert deliver(processor, json.dumps(body).encode()).status == 200
    (row,) = appwrite_env.rows("monitoring", "alerts").values()
    assert len(row["instance"]) == 255 and row["instance"].endswith("…[truncated]")
    assert len(row["summary"]) == 1024 and row["summary"].endswith("…[truncated]")
    assert len(row["generatorURL"]) == 2048


# -- answers ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500", "502-html", "503", "429", "timeout", "refused"])
def test_transient_appwrite_faults_answer_503(processor, appwrite_env, kind):
    appwrite_env.fail_at(1, kind)
    result = deliver(processor, body_of("0001"))
    assert result.status == 503 and result.json() == {"error": "store_unavailable"}
    assert result.headers["content-type"].startswith("application/json")


def test_status_matrix(processor, appwrite_env, monkeypatch):
    body = body_of("0001")
    cases = [
        (deliver(processor, body), 200),
        (deliver(processor, body, token=None), 401),
        (deliver(processor, body, token="wrong"), 401),
        (deliver(processor, body, token="old-token"), 200),  # rotation: both tokens work
        (invoke(processor, webhook_request(body, token=None, extra={"Authorization": f"Basic {TOKEN}"})), 401),
        (deliver(processor, b"{oops"), 400),
        (deliver(processor, b'{"version":"3","alerts":[]}'), 400),
        (deliver(processor, b'{"version":"4","alerts":[{"startsAt":"2026-01-01T00:00:00Z"}]}'), 400),
    ]
    for result, expected in cases:
        assert result.status == expected, result.body
        assert result.headers["content-type"].startswith("application/json")
        assert result.status != 429
    monkeypatch.setenv("ALERTWRITE_MAX_BODY_BYTES", "100")
    assert deliver(processor, body).json() == {"error": "body_too_large"}


def test_bad_token_and_bad_payload_store_nothing(processor, appwrite_env):
    deliver(processor, body_of("0001"), token="wrong")
    deliver(processor, b'{"version":"4","alerts":[{"fingerprint":"ab","startsAt":"2026-01-01T00:00:00Z","labels":{"a":1}}]}')
    assert appwrite_env.rows("monitoring", "alerts") == {} and appwrite_env.messages() == []
    assert appwrite_env.calls == []


def test_no_tokens_configured_fails_closed(processor, appwrite_env, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_WEBHOOK_TOKENS", " , ")
    result = deliver(processor, body_of("0001"))
    assert result.status == 500 and result.json() == {"error": "not_configured"}
    assert any("ALERTWRITE_WEBHOOK_TOKENS" in e for e in result.errors)


def test_missing_settings_are_named_at_once_and_values_never_printed(processor, appwrite_env, monkeypatch):
    monkeypatch.delenv("APPWRITE_FUNCTION_API_ENDPOINT")
    monkeypatch.delenv("APPWRITE_FUNCTION_PROJECT_ID")
    result = invoke(processor, webhook_request(body_of("0001"), key=""))
    assert result.status == 500
    (line,) = result.errors
    for name in ("APPWRITE_FUNCTION_API_ENDPOINT", "APPWRITE_FUNCTION_PROJECT_ID", "x-appwrite-key"):
        assert name in line
    assert TOKEN not in line


def test_missing_table_is_a_500_not_a_silent_200(processor, appwrite_env):
    del appwrite_env.db.tables[("monitoring", "alerts")]
    result = deliver(processor, body_of("0001"))
    assert result.status == 500 and result.json() == {"error": "store_error"}
    assert any("table_not_found" in e for e in result.errors)


def test_secrets_never_reach_the_logs(processor, appwrite_env):
    results = [deliver(processor, body_of("0001")), deliver(processor, body_of("0001"), token="nope")]
    appwrite_env.fail_at(1, "503")
    results.append(deliver(processor, body_of("0003")))
    for result in results:
        text = "\n".join(result.logs + result.errors)
        assert TOKEN not in text and "test-api-key" not in text and "nope" not in text


def test_unexpected_exception_is_a_json_500_never_html(processor, appwrite_env, monkeypatch):
    import sys
    module = sys.modules[processor.__name__]
    monkeypatch.setattr(module, "process", lambda *a, **k: 1 / 0)
    result = deliver(processor, body_of("0001"))
    assert result.status == 500 and result.json() == {"error": "internal_error"}
    assert "ZeroDivisionError" in result.errors[0]


def test_sdk_version_warnings_are_logged_once(processor, appwrite_env, monkeypatch):
    appwrite_env.warning = "The current SDK is built for Appwrite 1.9.5"
    import sys
    transport = sys.modules[processor.__name__.replace(".src.main", ".src.alertwrite.stores.transport")]
    monkeypatch.setattr(transport, "_warnings_seen", set())  # a fresh warm container
    first = deliver(processor, body_of("0001"))
    second = deliver(processor, body_of("0003"))
    warned = [line for r in (first, second) for line in r.logs if "SDK is built" in line]
    assert warned == ["Appwrite warning (shown once): The current SDK is built for Appwrite 1.9.5"]


# -- idempotency --------------------------------------------------------------------------
def test_same_delivery_twice_sends_no_second_message(processor, appwrite_env):
    deliver(processor, body_of("0001"))
    before = state(appwrite_env)
    result = deliver(processor, body_of("0001"))
    assert result.json()["notifications"] == 0 and state(appwrite_env) == before


def test_same_delivery_twice_at_once(processor, appwrite_env):
    barrier = threading.Barrier(2)
    results = []

    def send():
        barrier.wait()
        results.append(deliver(processor, body_of("0001")))
    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == [200, 200]
    assert len(appwrite_env.rows("monitoring", "notifications")) == 2  # one per channel, once each
    assert appwrite_env.rows("monitoring", "alerts")["ab906f89a7cb9bdc"]["status"] == "firing"


def test_out_of_order_deliveries_end_in_the_same_state(processor, appwrite_env, schema):
    for n in ("0001", "0004"):
        deliver(processor, body_of(n))
    in_order = state(appwrite_env)
    for n in ("0001", "0003", "0002"):  # late copies of older deliveries
        result = deliver(processor, body_of(n))
        assert result.json()["notifications"] == 0, n
    rows = appwrite_env.rows("monitoring", "alerts")
    assert rows["ab906f89a7cb9bdc"]["status"] == "resolved"  # never reopened
    assert state(appwrite_env)[0]["alerts"]["ab906f89a7cb9bdc"] == in_order[0]["alerts"]["ab906f89a7cb9bdc"]


def run_sequence(processor, schema, sequence, fault_at=None, kind="503"):
    """Deliver `sequence` to a fresh project; with a fault, replay until every delivery
    is accepted, as Alertmanager does. Returns the first statuses and the end state."""
    from appwrite_fake import AppwriteFake
    from support import seed_schema
    fake = AppwriteFake()
    with fake.running():
        seed_schema(fake, schema)
        if fault_at:
            fake.fail_at(fault_at, kind)
        statuses = []
        for n in sequence:
            statuses.append(deliver(processor, body_of(n)).status)
            if statuses[-1] != 200:  # retried until accepted, before the group's next flush
                assert deliver(processor, body_of(n)).status == 200
        return statuses, state(fake), len(fake.calls)


@pytest.mark.parametrize("sequence", [("0001",), ("0001", "0003", "0004"), ("0011", "0013")])
@pytest.mark.parametrize("kind", ["503", "timeout"])
def test_a_fault_at_every_call_position_answers_503_and_replay_converges(processor, appwrite_env, schema, sequence, kind):
    _, expected, total_calls = run_sequence(processor, schema, sequence)
    for position in range(1, total_calls + 1):
        statuses, end_state, _ = run_sequence(processor, schema, sequence, position, kind)
        assert 503 in statuses, (position, statuses)
        assert end_state == expected, f"fault at call {position} did not converge"


# -- cost ------------------------------------------------------------------------------------
def test_calls_per_delivery_do_not_grow_with_alerts(processor, appwrite_env):
    fake = appwrite_env
    deliver(processor, synthetic(1, prefix="c"))  # the first delivery also fills the channels table
    fake.reset_calls()
    result = deliver(processor, synthetic(100)).json()
    first = len(fake.calls)
    assert result["notifications"] == 2
    assert first <= 8 + 3, fake.calls  # the target
    # what the README states: 2 reads (alerts, active silences), 1 bulk claim, 1 read of channels,
    # 1 bulk create of notifications, 2 bulk creates (episodes, alerts)
    assert first == 7
    fake.reset_calls()
    result = deliver(processor, synthetic(100)).json()
    assert result["notifications"] == 0 and len(fake.calls) == 2  # 1 read, 1 bulk update of lastSeenAt
    assert [c.method for c in fake.calls] == ["GET", "PATCH"]
    fake.reset_calls()
    deliver(processor, synthetic(1000, prefix="b"))
    assert len(fake.calls) == 38  # target <= 40; README states 38: 7 reads, 10 claims, 1 notifications, 20 creates
    reads = [c for c in fake.calls if c.method == "GET"]
    assert len(reads) == 7  # ~200 fingerprints per equal query under the 4096-char cap; silences; channels
