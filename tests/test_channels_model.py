"""The filter model, channel parsing and redaction, the state machine, budgets and SSRF rules."""
import random
from datetime import datetime, timedelta, timezone

import pytest

from alertwrite.channels import budget, delivery, ssrf
from alertwrite.channels.filters import Filter, FilterError
from alertwrite.channels.model import Channel, ChannelError, declared_channels, redact_url
from alertwrite.channels.ssrf import Answer

NOW = datetime(2026, 11, 22, 11, tzinfo=timezone.utc)
CRIT = {"alertname": "HighCPU", "severity": "critical", "category": "infra", "tenant": "acme", "team": "web"}


@pytest.mark.parametrize("spec,kind,labels,accepted", [
    ({}, "firing", CRIT, True),
    ({"severities": ["critical", "emergency"]}, "firing", CRIT, True),
    ({"severities": ["warning"]}, "firing", CRIT, False),
    ({"alertnames": ["HighCPU"]}, "firing", CRIT, True),
    ({"alertnames": ["DiskFull"]}, "firing", CRIT, False),
    ({"categories": ["infra"]}, "firing", CRIT, True),
    ({"categories": ["db"]}, "firing", CRIT, False),
    ({"tenants": ["acme"]}, "firing", CRIT, True),
    ({"tenants": ["acme"], "tenant_label": "team"}, "firing", CRIT, False),
    ({"tenants": ["web"], "tenant_label": "team"}, "firing", CRIT, True),
    ({"match": {"team": ["web", "db"]}}, "firing", CRIT, True),
    ({"match": {"!team": "web"}}, "firing", CRIT, False),
    ({"match": {"!team": "db"}}, "firing", CRIT, True),
    ({"match_re": {"alertname": "High.*"}}, "firing", CRIT, True),
    ({"match_re": {"alertname": "High"}}, "firing", CRIT, False),  # full match, as Alertmanager's =~
    ({"match_re": {"!alertname": "High.*"}}, "firing", CRIT, False),
    ({"match": {"missing": ""}}, "firing", CRIT, True),  # an absent label is the empty string
    ({"send_resolved": False}, "resolved", CRIT, False),
    ({"send_resolved": False}, "firing", CRIT, True),
    ({"severities": ["critical"], "categories": ["db"]}, "firing", CRIT, False),  # all conditions hold
])
def test_filter_semantics(spec, kind, labels, accepted):
    f = Filter.from_dict(spec)
    assert f.accepts(kind, labels) is accepted
    assert Filter.from_dict(f.to_dict()) == f


def test_filter_rejects_bad_input():
    with pytest.raises(FilterError, match="bad regular expression"):
        Filter.from_dict({"match_re": {"a": "("}})
    with pytest.raises(FilterError, match="unknown filter keys: severity"):
        Filter.from_dict({"severity": ["x"]})


def test_channel_validation_and_row_round_trip():
    with pytest.raises(ChannelError, match="needs --url"):
        Channel("x", "slack")
    with pytest.raises(ChannelError, match="whsec_"):
        Channel("x", "webhook", url="https://a.example", secret="plain")
    with pytest.raises(ChannelError, match="retired"):
        Channel("x", "teams", url="https://acme.webhook.office.com/webhookb2/abc")
    with pytest.raises(ChannelError, match="media"):
        Channel("x", "topic", topic="t", media=("fax",))
    with pytest.raises(ChannelError, match="name"):
        Channel("_bad", "slack", url="https://a.example")
    ch = Channel("ops", "slack", url="https://hooks.slack.com/services/T/B/SECRET",
                 filter=Filter.from_dict({"severities": ["critical"], "match": {"!team": "x"}}),
                 templates={"title": "{{ channel }}"})
    row = dict(ch.to_row(), **{"$createdAt": "x"})
    assert Channel.from_row(row) == ch


def test_secrets_are_redacted():
    ch = Channel("ops", "webhook", url="https://user:pw@hooks.example.com/T/B/SECRET?token=abc",
                 secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    shown = str(ch.redacted())
    assert "SECRET" not in shown and "token" not in shown and "pw" not in shown and "PD8ILPZ" not in shown
    assert ch.redacted()["url"] == "https://hooks.example.com/…"
    assert redact_url("https://discord.com/api/webhooks/1/tok") == "https://discord.com/…"


def test_declared_channels_reproduce_the_old_routing(schema):
    by_name = {c.name: c for c in declared_channels(schema.section("channels"))}
    assert by_name["critical-pages"].media == ("push", "sms") and by_name["critical-pages"].topic == "critical-alerts"
    page = lambda sev: sorted(n for n, c in by_name.items() if c.filter.accepts("firing", {"severity": sev}))
    assert page("critical") == page("emergency") == ["critical-pages", "everything"]
    assert page("warning") == ["everything"]
    assert all(c.source == "schema" for c in by_name.values())


def answer(status, body="", **headers):
    return Answer(status, {k.lower().replace("_", "-"): v for k, v in headers.items()}, body)


@pytest.mark.parametrize("status,verdict", [(200, "ok"), (202, "ok"), (204, "ok"), (500, "retry"), (502, "retry"),
                                            (503, "retry"), (429, "retry"), (410, "gone"), (400, "dead"),
                                            (401, "dead"), (403, "dead"), (404, "dead"), (301, "dead")])
def test_what_is_retryable(status, verdict):
    assert delivery.classify(answer(status, "nope"), NOW).verdict == verdict


def test_retry_after_is_honoured_from_header_date_and_discord_body():
    assert delivery.classify(answer(429, Retry_After="7"), NOW).retry_after == 7
    date = "Sun, 22 Nov 2026 11:00:30 GMT"
    assert delivery.classify(answer(503, Retry_After=date), NOW).retry_after == 30
    discord = answer(429, '{"message":"You are being rate limited.","retry_after":1.25,"global":false}',
                     Content_Type="application/json")
    assert delivery.classify(discord, NOW).retry_after == 1.25
    state = delivery.next_state(delivery.classify(answer(429, Retry_After="7"), NOW), 1, NOW, NOW,
                                delivery.Policy(base_seconds=60))
    assert state["status"] == "retrying" and state["nextAttemptAt"] == NOW + timedelta(seconds=7)


def test_backoff_grows_with_jitter_and_is_capped():
    policy = delivery.Policy(base_seconds=5, cap_seconds=300, jitter=0.2)
    rand = random.Random(1)
    delays = [policy.backoff(n, rand) for n in range(1, 10)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24
    assert max(delays) <= 300 and delays[-1] >= 240
    assert len({round(policy.backoff(3, random.Random(s)), 3) for s in range(5)}) > 1  # jittered


def test_dead_after_attempts_or_age_and_at_once_for_other_4xx():
    policy = delivery.Policy(max_attempts=3, max_age=timedelta(hours=1))
    fail = delivery.network_failure("connection refused")
    assert delivery.next_state(fail, 2, NOW, NOW, policy)["status"] == "retrying"
    last = delivery.next_state(fail, 3, NOW, NOW, policy)
    assert last["status"] == "dead" and "gave up after 3 attempts" in last["lastError"]
    old = delivery.next_state(fail, 1, NOW - timedelta(hours=2), NOW, policy)
    assert old["status"] == "dead" and "gave up after" in old["lastError"]
    bad = delivery.next_state(delivery.classify(answer(400, "invalid_blocks"), NOW), 1, NOW, NOW, policy)
    assert bad == {"attempts": 1, "lastStatus": 400, "lastError": "400: invalid_blocks", "status": "dead",
                   "nextAttemptAt": None}


def test_budgets_space_slack_and_teams_and_read_discord_headers():
    assert budget.next_send_at("slack", NOW, answer(200)) == NOW + timedelta(seconds=1)
    assert budget.next_send_at("teams", NOW, answer(200)) == NOW + timedelta(seconds=0.25)
    empty = answer(200, X_RateLimit_Remaining="0", X_RateLimit_Reset_After="1.5")
    assert budget.next_send_at("discord", NOW, empty) == NOW + timedelta(seconds=1.5)
    assert budget.next_send_at("discord", NOW, answer(200, X_RateLimit_Remaining="3")) == NOW
    assert budget.next_send_at("webhook", NOW, None, retry_after=9) == NOW + timedelta(seconds=9)


@pytest.mark.parametrize("url,reason", [
    ("http://example.com/x", "only https"),
    ("https://127.0.0.1/x", "non-public"),
    ("https://localhost/x", "non-public"),
    ("https://10.1.2.3/x", "non-public"),
    ("https://192.168.0.1/x", "non-public"),
    ("https://169.254.169.254/latest/meta-data", "non-public"),
    ("https://[::1]/x", "non-public"),
    ("https://[::ffff:127.0.0.1]/x", "non-public"),
    ("https://0.0.0.0/x", "non-public"),
    ("ftp://example.com/x", "only https"),
])
def test_ssrf_refuses_private_targets_after_resolution(url, reason):
    with pytest.raises(ssrf.Refused, match=reason):
        ssrf.resolve(url, allow_private=False)


def test_ssrf_allows_public_and_private_when_told():
    assert ssrf.resolve("https://93.184.215.14/hook?a=1", False)[0] == "https://93.184.215.14:443/hook?a=1"
    assert ssrf.resolve("http://127.0.0.1:8080/x", True)[0] == "http://127.0.0.1:8080/x"


def test_redirects_are_never_followed(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hits = []

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            hits.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest")
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.handle_request, daemon=True).start()
    got = ssrf.post(f"http://127.0.0.1:{server.server_port}/a", b"{}", {}, 5, allow_private=True)
    server.server_close()
    assert got.status == 307 and hits == ["/a"]
    assert delivery.classify(got, NOW).verdict == "dead"
