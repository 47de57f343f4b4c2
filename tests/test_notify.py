import json
from datetime import datetime, timedelta, timezone

import pytest

from alertwrite.channels import outbox, topic
from alertwrite.channels.model import Event, declared_channels
from alertwrite.lifecycle import reconcile
from alertwrite.notify import email, push, sms
from alertwrite.webhook import Alert, Delivery, parse_delivery
from support import UNICODE_HTML_LONG, reconstructed

NOW = datetime(2026, 11, 22, 11, tzinfo=timezone.utc)


def compose(transitions, schema, delivery):
    """The medium messages the dispatcher sends for these transitions: the declared channels of
    schemas/channels.yaml (critical-pages, everything) choose by their filters, the topic
    channel renders each notification as the dispatcher does."""
    channels = {c.name: c for c in declared_channels(schema.section("channels"))}
    rows = outbox.plan_notifications(outbox.event_of(transitions, delivery), list(channels.values()), NOW)
    return [m for row in rows if channels[row["channel"]].type == "topic"
            for m in topic.render(channels[row["channel"]], Event.from_json(row["payload"]), row["$id"])]


def route(transitions, schema):
    return {(m.topics[0], m.medium) for m in compose(transitions, schema, firing())}


def firing(n=1, severity="critical", summary="CPU high", description="", **ann):
    alerts = tuple(Alert(f"{i:016x}", "firing", {"alertname": "HighCPU", "severity": severity, "instance": f"web-{i}"},
                         {"summary": summary, "description": description, **ann},
                         NOW - timedelta(minutes=5), None, "http://prom:9090/graph?g0.expr=up")
                   for i in range(n))
    return Delivery("r", "firing", alerts, external_url="http://am:9093")


def transitions(delivery):
    return reconcile(delivery, {}, NOW).transitions


def test_default_routes_reproduce_the_original_design(schema):
    routes = lambda sev: sorted(route(transitions(firing(severity=sev)), schema))
    assert routes("critical") == [("critical-alerts", "push"), ("critical-alerts", "sms"), ("monitoring-alerts", "email")]
    assert routes("emergency") == routes("critical")
    assert routes("warning") == [("monitoring-alerts", "email")]
    assert routes("info") == [("monitoring-alerts", "email")]


def test_one_message_per_topic_and_medium_listing_its_alerts(schema):
    messages = compose(transitions(firing(5)), schema, firing(5))
    assert sorted((m.topics, m.medium, m.alert_count) for m in messages) == [
        (("critical-alerts",), "push", 5), (("critical-alerts",), "sms", 5), (("monitoring-alerts",), "email", 5)]


def test_message_ids_are_deterministic_and_valid(schema):
    first = compose(transitions(firing(3)), schema, firing(3))
    again = compose(transitions(firing(3)), schema, firing(3))
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == 3
    assert all(len(m.id) <= 36 and m.id[0].isalnum() for m in first)


def test_email_is_escaped_and_links_are_http_only(schema):
    raw = reconstructed(UNICODE_HTML_LONG)["body_raw"]
    d = parse_delivery(raw.encode())
    (mail,) = compose(transitions(d), schema, d)
    assert mail.medium == "email" and mail.html
    assert "<script>" not in mail.content and "&lt;script&gt;" in mail.content
    assert "<img" not in mail.content and "&lt;img src=x" in mail.content
    assert 'href="https://runbooks.example/weird?a=1&amp;b=&lt;2&gt;"' in mail.content
    assert "javascript:" not in mail.content
    assert len(mail.subject) <= email.MAX_SUBJECT and len(mail.content) <= email.MAX_CONTENT


def test_links_are_included(schema):
    d = firing(runbook_url="https://runbook/cpu", dashboard_url="https://grafana/d/1")
    by_medium = {m.medium: m for m in compose(transitions(d), schema, d)}
    assert "https://runbook/cpu" in by_medium["email"].content
    assert "https://grafana/d/1" in by_medium["email"].content
    assert "http://prom:9090/graph?g0.expr=up" in by_medium["email"].content
    assert "https://runbook/cpu" in by_medium["sms"].content
    assert by_medium["push"].data["url"] == "https://runbook/cpu"


@pytest.mark.parametrize("count,text", [(1, "x" * 70000), (400, "summary " * 30), (3000, "s")])
def test_every_medium_stays_inside_its_limits(schema, count, text):
    d = firing(count, summary=text, description=text)
    messages = {m.medium: m for m in compose(transitions(d), schema, d)}
    assert len(messages["email"].subject) <= email.MAX_SUBJECT
    assert len(messages["email"].content) <= email.MAX_CONTENT
    assert len(messages["sms"].content) <= sms.MAX_CONTENT
    assert len(messages["push"].subject) <= push.MAX_TITLE
    payload = {"title": messages["push"].subject, "body": messages["push"].content, "data": messages["push"].data}
    assert len(json.dumps(payload, ensure_ascii=False).encode()) <= push.MAX_PAYLOAD_BYTES
    if count > 50:  # many alerts: the cut is visible, never silent
        assert messages["sms"].truncated and "more" in messages["sms"].content


def test_huge_title_is_cut_with_an_ellipsis(schema):
    d = Delivery("r", "firing", tuple(Alert(f"{i:016x}", "firing", {"alertname": "A" * 400 + str(i), "severity": "critical"},
                                            {}, NOW, None, "") for i in range(3)))
    msgs = {m.medium: m for m in compose(transitions(d), schema, d)}
    assert len(msgs["push"].subject) == push.MAX_TITLE and msgs["push"].subject.endswith("…")


def test_resolves_go_to_the_same_topics(schema):
    d = firing()
    stored = {c.new.fingerprint: c.new for c in reconcile(d, {}, NOW).alerts}
    resolved = Delivery("r", "resolved", tuple(Alert(a.fingerprint, "resolved", a.labels, a.annotations, a.starts_at,
                                                     NOW, "") for a in d.alerts))
    out = reconcile(resolved, stored, NOW)
    assert sorted(route(out.transitions, schema)) == sorted(route(transitions(d), schema))
    (sms_msg,) = [m for m in compose(out.transitions, schema, resolved) if m.medium == "sms"]
    assert sms_msg.content.startswith("[RESOLVED:1] HighCPU")


def test_cr_lf_in_labels_never_reaches_the_email_subject_or_push_title(schema):
    a = Alert("00000000000000cc", "firing", {"alertname": "X\r\nBcc: victim@example.com", "severity": "critical"},
              {"summary": "s"}, NOW, None, "")
    d = Delivery("r", "firing", (a,))
    messages = compose(transitions(d), schema, d)
    assert {m.medium for m in messages} == {"email", "push", "sms"}
    for m in messages:
        if m.medium in ("email", "push"):
            assert "\r" not in m.subject and "\n" not in m.subject, m.subject
            assert "Bcc: victim@example.com" in m.subject  # the text stays, on one line
