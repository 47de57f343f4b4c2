"""Every platform render stays within that platform's documented limits, whatever comes in."""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import jsonschema
import pytest
from standardwebhooks.webhooks import Webhook

from alertwrite.channels import templates
from alertwrite.channels.model import Channel, Event, Item
from alertwrite.channels.render import build, sample_event
from alertwrite.channels.webhook import new_secret
from chat_fakes import check_discord, check_pagerduty, check_slack, check_teams

NOW = datetime(2026, 11, 22, 11, tzinfo=timezone.utc)
SCHEMA = json.loads((__import__("pathlib").Path(__file__).parents[1] / "functions/alertwrite/channels/"
                     "webhook-payload.schema.json").read_text())
CHANNELS = {
    "slack": Channel("s", "slack", url="https://hooks.slack.com/services/T0/B0/secretpart"),
    "discord": Channel("d", "discord", url="https://discord.com/api/webhooks/1/tok"),
    "teams": Channel("t", "teams", url="https://prod-1.westeurope.logic.azure.com/workflows/x"),
    "webhook": Channel("w", "webhook", url="https://receiver.example/hook", secret=new_secret()),
    "pagerduty": Channel("p", "pagerduty", secret="0123456789abcdef0123456789abcdef"),
}


def item(i, kind="firing", text_len=100, **labels):
    return Item(kind, f"{i:016x}", {"alertname": f"Alert<{i}>&", "severity": "critical", "instance": f"web-{i}",
                                    **labels},
                {"summary": "S&<b>ümlaut</b> " + "x" * text_len, "description": "D " + "é" * text_len,
                 "runbook_url": f"https://runbooks.example/a?b=1&c=|{i}>", "dashboard_url": "javascript:alert(1)"},
                "2026-11-22T10:00:00.000+00:00", generator_url="https://prom.example/graph?g0=up",
                key=f"{i:016x}@x:{kind}")


def event(n, text_len=100, kind="firing"):
    return Event("alerts", tuple(item(i, kind, text_len) for i in range(n)), external_url="https://am.example")


def check(kind, body: bytes, url: str):
    doc = json.loads(body)
    if kind == "slack":
        return check_slack(doc)
    if kind == "discord":
        return check_discord(doc, url.partition("?")[2])
    if kind == "teams":
        return check_teams(body, doc)
    if kind == "pagerduty":
        return check_pagerduty(doc)
    jsonschema.validate(doc, SCHEMA)
    return []


@pytest.mark.parametrize("kind", sorted(CHANNELS))
@pytest.mark.parametrize("n,text_len", [(1, 10), (3, 5000), (60, 200), (400, 3000)])
def test_renders_fit_the_platform_limits(kind, n, text_len):
    out = build(CHANNELS[kind], event(n, text_len), "n" * 32, NOW)
    assert check(kind, out.body, out.url) == []


@pytest.mark.parametrize("kind", ["slack", "discord", "teams"])
def test_what_does_not_fit_ends_in_n_more(kind):
    out = build(CHANNELS[kind], event(400, 3000), "n" * 32, NOW).body.decode()
    assert "more" in out and "+" in out
    shown = out.count("FIRING ·") if kind != "slack" else out.count("*FIRING* ·")
    assert 0 < shown < 400
    assert f"+{400 - shown} more" in out


@pytest.mark.parametrize("kind", ["slack", "discord", "teams", "webhook"])
def test_only_http_links_and_the_source_links_are_included(kind):
    body = build(CHANNELS[kind], event(1), "n" * 32, NOW).body.decode()
    if kind == "webhook":  # the full data carries the raw annotation; its links never do
        body = json.dumps(json.loads(body)["data"]["alerts"][0]["links"])
    assert "javascript:" not in body
    assert "runbooks.example" in body and "prom.example/graph" in body


def test_firing_and_resolved_look_different():
    for kind, firing_mark, resolved_mark in (("slack", "#D00000", "#2EB67D"), ("discord", str(0x992D22), str(0x2ECC71)),
                                             ("teams", "Attention", "Good")):
        fired = build(CHANNELS[kind], event(1), "n" * 32, NOW).body.decode()
        resolved = build(CHANNELS[kind], event(1, kind="resolved"), "n" * 32, NOW).body.decode()
        assert firing_mark in fired and resolved_mark in resolved and firing_mark not in resolved
        assert "RESOLVED" in resolved and "RESOLVED" not in fired


def test_slack_escapes_control_characters_and_discord_never_pings():
    e = Event("alerts", (Item("firing", "ab", {"alertname": "@everyone <!channel> & co"},
                              {"summary": "<@U123> @here"}, key="k"),))
    slack = json.loads(build(CHANNELS["slack"], e, "n" * 32, NOW).body)
    text = json.dumps(slack)
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text and "<@U123>" not in text
    discord = json.loads(build(CHANNELS["discord"], e, "n" * 32, NOW).body)
    assert discord["allowed_mentions"] == {"parse": []}


def test_webhook_signature_verifies_with_the_reference_library_and_by_hand():
    old, new = new_secret(), new_secret()
    channel = Channel("w", "webhook", url="https://r.example/h", secret=f"{new} {old}")
    out = build(channel, sample_event(), "abc123", datetime.now(timezone.utc))
    # the Standard Webhooks reference implementation accepts either key during a rotation
    for secret in (new, old):
        assert Webhook(secret).verify(out.body, out.headers)["data"]["notificationId"] == "abc123"
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(out.body, out.headers)
    # and the spec's recipe written out here: HMAC-SHA256 over "id.timestamp.body" with the base64 key
    key = base64.b64decode(old.removeprefix("whsec_"))
    signed = f"{out.headers['webhook-id']}.{out.headers['webhook-timestamp']}.".encode() + out.body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in out.headers["webhook-signature"].split(" ")
    assert out.headers["webhook-id"] == "abc123"
    jsonschema.validate(json.loads(out.body), SCHEMA)


def test_webhook_signature_verifies_now_with_the_reference_library():
    secret = new_secret()
    channel = Channel("w", "webhook", url="https://r.example/h", secret=secret)
    out = build(channel, sample_event(), "abc123", datetime.now(timezone.utc))
    assert Webhook(secret).verify(out.body, out.headers)["data"]["alerts"][0]["fingerprint"] == "a1b2c3d4e5f60718"
    tampered = out.body.replace(b"HighCPU", b"LowCPU")
    with pytest.raises(Exception):
        Webhook(secret).verify(tampered, out.headers)


def test_pagerduty_uses_the_fingerprint_as_dedup_key_and_resolves():
    fired = json.loads(build(CHANNELS["pagerduty"], event(1), "n" * 32, NOW).body)
    resolved = json.loads(build(CHANNELS["pagerduty"], event(1, kind="resolved"), "n" * 32, NOW).body)
    assert fired["event_action"] == "trigger" and resolved["event_action"] == "resolve"
    assert fired["dedup_key"] == resolved["dedup_key"] == f"{0:016x}"
    assert fired["payload"]["severity"] == "critical"


def test_templates_override_title_and_body_and_a_failing_one_falls_back(caplog):
    channel = CHANNELS["slack"].evolve(templates={"title": "{{ alerts|length }} for {{ channel }}",
                                                  "body": "{% for a in firing %}{{ a.name }};{% endfor %}"})
    doc = json.loads(build(channel, event(2), "n" * 32, NOW).body)
    assert doc["text"] == "2 for s"
    assert "Alert&lt;0&gt;&amp;;Alert&lt;1&gt;&amp;;" in json.dumps(doc)
    broken = CHANNELS["slack"].evolve(templates={"title": "{{ nope.missing }}"})
    doc = json.loads(build(broken, event(1), "n" * 32, NOW).body)
    assert doc["text"].startswith("[FIRING:1]")
    assert "template title failed" in caplog.text


def test_per_type_templates_apply_and_channel_templates_win():
    per_type = {"slack": {"title": "type-level"}}
    assert json.loads(build(CHANNELS["slack"], event(1), "n" * 32, NOW, per_type).body)["text"] == "type-level"
    own = CHANNELS["slack"].evolve(templates={"title": "own"})
    assert json.loads(build(own, event(1), "n" * 32, NOW, per_type).body)["text"] == "own"


def test_templates_are_sandboxed_and_validated():
    with pytest.raises(templates.TemplateProblem, match="channels.x.title"):
        templates.validate({"title": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}, "channels.x")
    with pytest.raises(templates.TemplateProblem, match="syntax|Syntax"):
        templates.validate({"body": "{% for %}"}, "channels.x")
    with pytest.raises(templates.TemplateProblem, match="unknown template parts"):
        templates.validate({"subject": "x"}, "channels.x")
    templates.validate({"title": "{{ alerts[0].labels.alertname }} {{ firing|length }}"}, "channels.x")
