"""The channels part of the operator API: roles, redaction, validation, the delivery log."""
import pytest

from api_support import API_TOKENS, LINK_SECRET, Api, delivery


@pytest.fixture
def api(schema, tmp_path):
    env = {"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "api.db"),
           "ALERTWRITE_API_TOKENS": API_TOKENS, "ALERTWRITE_LINK_SECRET": LINK_SECRET}
    return Api(schema, env)


def test_admin_adds_a_channel_others_only_read_it_and_secrets_stay_hidden(api):
    body = {"name": "ops", "type": "slack", "url": "https://hooks.slack.com/services/T/B/SECRET",
            "filter": {"severities": ["critical"], "match": {"!team": "db"}}}
    assert api("POST", "/channels", body, role="responder").status == 403
    made = api("POST", "/channels", body, role="admin")
    assert made.status == 201 and made.body["channel"]["url"] == "https://hooks.slack.com/…"
    listed = api("GET", "/channels", role="viewer")
    assert listed.status == 200 and "SECRET" not in str(listed.body)
    assert {c["name"] for c in listed.body["channels"]} == {"ops", "critical-pages", "everything"}
    assert api("POST", "/channels", body).status == 409
    hook = api("POST", "/channels", {"name": "h", "type": "webhook", "url": "https://r.example/h"})
    assert hook.body["secret"].startswith("whsec_") and hook.body["secret"] not in str(api("GET", "/channels/h").body)
    bad = api("POST", "/channels", {"name": "t", "type": "teams", "url": "https://a.webhook.office.com/webhookb2/x"})
    assert bad.status == 400 and bad.body["error"] == "invalid_channel" and "retired" in bad.body["detail"]
    bad = api("POST", "/channels", {"name": "x", "type": "slack", "url": "https://a.example",
                                    "templates": {"title": "{% if %}"}})
    assert bad.status == 400 and "templates.title" in bad.body["detail"]


def test_patch_disable_test_notifications_and_retry(api):
    api("POST", "/channels", {"name": "ops", "type": "discord", "url": "https://discord.com/api/webhooks/1/t"})
    changed = api("PATCH", "/channels/ops", {"filter": {"alertnames": ["HighCPU"]}, "enabled": False})
    assert changed.status == 200 and changed.body["channel"]["enabled"] is False
    assert changed.body["channel"]["filter"] == {"alertnames": ["HighCPU"]}
    assert api("PATCH", "/channels/ops", {"type": "slack"}).status == 400
    assert api("POST", "/channels/ops/test").status == 400
    api("PATCH", "/channels/ops", {"enabled": True})
    queued = api("POST", "/channels/ops/test")
    assert queued.status == 202
    log = api("GET", "/notifications", role="viewer", query="channel=ops").body["notifications"]
    assert [n["$id"] for n in log] == [queued.body["notification"]] and log[0]["status"] == "pending"
    assert api("GET", "/notifications", role="viewer", query="status=nope").status == 400
    assert api("POST", f"/notifications/{log[0]['$id']}/retry", role="responder").status == 403
    assert api("POST", "/notifications/missing/retry").status == 404
    assert api("DELETE", "/channels/ops", role="viewer").status == 403
    assert api("DELETE", "/channels/ops").status == 200 and api("GET", "/channels/ops").status == 404


def test_a_delivery_shows_up_in_the_log(api):
    api.seed(delivery(1))
    log = api("GET", "/notifications", role="viewer").body["notifications"]
    assert {n["channel"] for n in log} == {"critical-pages", "everything"}
