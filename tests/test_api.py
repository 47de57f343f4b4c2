"""The operator API (function alert-api) against SQLite and the Appwrite fake: every endpoint
and role, forged identities, the semantics of ack/resolve/silence, links and the audit trail."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from datetime import timedelta

import pytest

from alertwrite.channels import dispatch

from alertwrite.api.auth import clear_cache
from alertwrite.api.router import ROUTES
from alertwrite.operations import silences
from alertwrite.operations.links import links_for
from alertwrite.settings import Settings
from alertwrite.stores.rows import open_rows
from alertwrite.timeutil import utcnow
from api_support import API_TOKENS, LINK_SECRET, PUBLIC_URL, Api, delivery, fp


@pytest.fixture
def sqlite_api(schema, tmp_path):
    env = {"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(tmp_path / "api.db"),
           "ALERTWRITE_API_TOKENS": API_TOKENS, "ALERTWRITE_LINK_SECRET": LINK_SECRET}
    return Api(schema, env)


@pytest.fixture
def appwrite_api(schema, fake):
    clear_cache()
    env = {"APPWRITE_FUNCTION_API_ENDPOINT": fake.endpoint, "APPWRITE_FUNCTION_PROJECT_ID": fake.project,
           "ALERTWRITE_API_TOKENS": API_TOKENS, "ALERTWRITE_LINK_SECRET": LINK_SECRET}
    api = Api(schema, env, key=fake.key)
    api.fake = fake
    return api


@pytest.fixture(params=["sqlite", "appwrite"])
def api(request):
    return request.getfixturevalue(f"{request.param}_api")


def outbox(api, at=None) -> list[dict]:
    """The messages sent so far: the dispatcher first sends what intake and the API recorded
    (due by `at`, default now)."""
    path = api.env.get("ALERTWRITE_SQLITE_PATH")
    if hasattr(api, "fake") or (path and Path(path).exists()):
        dispatch.run_due(None, api.schema, _store_settings(api), at)
    if hasattr(api, "fake"):
        return api.fake.messages()
    conn = sqlite3.connect(api.env["ALERTWRITE_SQLITE_PATH"])
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute('SELECT * FROM messages ORDER BY rowid')]
    except sqlite3.OperationalError:  # no delivery yet: no file
        return []


def texts(messages) -> list[str]:
    """Subject (or content) of each message, from the outbox or the fake's Messaging."""
    out = []
    for m in messages:
        data = m.get("data") if isinstance(m.get("data"), dict) else {}
        out.append(m.get("subject") or m.get("content") or data.get("subject") or data.get("title")
                   or data.get("content") or data.get("body") or "")
    return out


def test_health_needs_no_auth_and_reveals_nothing(api):
    answer = api("GET", "/health", role=None)
    assert answer.status == 200 and answer.body == {"status": "ok", "store": "ok", "version": "0.1.0"}


def test_every_route_and_role(sqlite_api):
    api = sqlite_api
    api.seed(delivery(2))
    order = ["viewer", "responder", "admin"]
    for r in ROUTES:
        path = r.pattern.replace("{fingerprint}", fp(0)).replace("{id}", "s-missing").replace("{token}", "x.y")
        body = {"action": "ack", "fingerprints": [fp(1)]} if r.pattern == "/alerts/bulk" else {}
        if r.role is None:
            # /metrics asks for a viewer token itself unless ALERTWRITE_METRICS_PUBLIC=1 (stats_routes.py)
            assert api(r.method, path, body, role=None).status not in (401, 403) or "/links/" in path \
                or path == "/metrics", r.pattern
            continue
        assert api(r.method, path, body, role=None).status == 401, r.pattern
        for role in order:
            status = api(r.method, path, body, role=role).status
            allowed = order.index(role) >= order.index(r.role)
            assert (status == 403) == (not allowed), (r.method, r.pattern, role, status)
            assert status not in (401, 500), (r.method, r.pattern, role, status)


def test_forged_identity_headers_are_refused(api):
    api.seed(delivery(1))
    forged = {"x-appwrite-user-id": "admin-user", "x-appwrite-user-jwt": ""}
    assert api("GET", "/alerts", role=None, headers=forged).status == 401
    assert api("GET", "/alerts", role=None, headers={"x-appwrite-user-jwt": "eyJ.forged.sig"}).status == 401
    assert api("GET", "/alerts", role=None, headers={"authorization": "Bearer nope"}).status == 401
    assert api("GET", "/alerts", role=None, headers={"authorization": "Basic dXNlcjpwYXNz"}).body["error"] == "unauthorized"
    assert not any("tok-" in line for line in api.logs)  # a token is never logged


def test_appwrite_users_get_roles_from_teams(appwrite_api):
    api, fake = appwrite_api, appwrite_api.fake
    api.seed(delivery(1))
    for uid, team, confirm in (("u-oncall", "oncall", True), ("u-admin", "alertwrite-admins", True),
                               ("u-invited", "oncall", False), ("u-none", None, True)):
        fake.accounts.add_user(uid, f"{uid}@example.com")
        if team:
            fake.accounts.add_member(team, uid, confirm=confirm)
    fake.accounts.teams.setdefault("alertwrite-admins", {"$id": "alertwrite-admins"})

    def as_user(uid, method, path, body=None):
        return api(method, path, body, role=None, headers={"x-appwrite-user-id": uid,
                                                           "x-appwrite-user-jwt": fake.accounts.issue_jwt(uid)})
    ack = as_user("u-oncall", "POST", f"/alerts/{fp(0)}/ack", {"comment": "mine"})
    assert ack.status == 200 and ack.body["alert"]["acknowledgedBy"] == "u-oncall@example.com"
    assert as_user("u-oncall", "POST", "/silences", {"matchers": ["job=node"], "duration": "1h"}).status == 403
    assert as_user("u-admin", "POST", "/silences", {"matchers": ["job=node"], "duration": "1h"}).status == 201
    assert as_user("u-invited", "GET", "/alerts").status == 403  # not confirmed: no role
    assert as_user("u-none", "GET", "/alerts").status == 403
    # Another user's ID next to my JWT does not make me them.
    mine = fake.accounts.issue_jwt("u-none")
    assert api("POST", f"/alerts/{fp(0)}/unack", role=None,
               headers={"x-appwrite-user-id": "u-admin", "x-appwrite-user-jwt": mine}).status == 403
    fake.accounts.users["u-oncall"]["status"] = False
    clear_cache()
    assert as_user("u-oncall", "GET", "/alerts").status == 401  # blocked


def test_a_jwt_means_nothing_on_the_local_store(sqlite_api):
    assert sqlite_api("GET", "/alerts", role=None, headers={"x-appwrite-user-jwt": "eyJ.a.b"}).status == 401


def test_ack_unack_resolve_unresolve_audit_and_announce(api):
    api.seed(delivery(1))
    sent = len(outbox(api))
    ack = api("POST", f"/alerts/{fp(0)}/ack", {"comment": "on it"}, role="responder")
    assert ack.status == 200 and ack.body["alert"]["state"] == "acknowledged"
    assert ack.body["alert"]["acknowledgedBy"] == "responder-bot"
    again = api("POST", f"/alerts/{fp(0)}/ack", {}, role="responder")
    assert again.status == 200  # already acked: ok, and nothing changes twice
    announced = texts(outbox(api)[sent:])
    assert announced and all("ACKNOWLEDGED" in t and "responder-bot" in t for t in announced)
    assert api("POST", f"/alerts/{fp(0)}/unack", {}, role="responder").body["alert"]["state"] == "firing"
    resolved = api("POST", f"/alerts/{fp(0)}/resolve", {"comment": "fixed"}, role="responder").body["alert"]
    assert resolved["state"] == "resolved" and resolved["resolvedBy"] == "responder-bot"
    assert api("POST", f"/alerts/{fp(0)}/ack", {}, role="responder").status == 409
    assert api("POST", f"/alerts/{fp(0)}/unresolve", {}, role="responder").body["alert"]["state"] == "firing"
    assert api("POST", "/alerts/ffffffffffffffff/ack", {}, role="responder").status == 404
    trail = api("GET", "/audit", role="viewer", query=f"fingerprint={fp(0)}").body["audit"]
    assert [a["action"] for a in trail][::-1] == ["ack", "unack", "resolve", "unresolve"]
    assert trail[-1]["comment"] == "on it" and trail[-1]["before"]["acknowledgedAt"] is None
    shown = api("GET", f"/alerts/{fp(0)}", role="viewer").body
    assert len(shown["episodes"]) == 1 and len(shown["audit"]) == 4
    assert [e["event"] for e in shown["timeline"]][:2] == ["firing", "ack"]
    # No route edits or deletes the audit trail.
    assert api("DELETE", "/audit", role="admin").status == 405


def test_manual_resolve_reopens_when_alertmanager_still_fires(api):
    api.seed(delivery(1))
    api("POST", f"/alerts/{fp(0)}/resolve", {}, role="responder")
    before = len(outbox(api))
    summary = api.seed(delivery(1))  # Alertmanager's next repeat: still firing
    assert summary.transitions.get("refiring") == 1
    alert = api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]
    assert alert["state"] == "firing" and alert["resolvedBy"] is None
    assert any("FIRING AGAIN" in t for t in texts(outbox(api)[before:]))
    # Alertmanager's own resolve is final: a late firing copy does not reopen it.
    api.seed(delivery(1, status="resolved"))
    assert api.seed(delivery(1)).transitions == {"late": 1}


def test_silence_mutes_firing_lets_resolves_pass_and_announces_once_when_it_ends(api):
    api.seed(delivery(2))
    now = utcnow()
    silenced = api("POST", f"/alerts/{fp(0)}/silence", {"duration": "1h", "comment": "maintenance"},
                   role="responder", now=now).body["alert"]
    assert silenced["state"] == "silenced" and silenced["silencedUntil"]
    assert api("GET", "/alerts", role="viewer", query="status=silenced").body["total"] == 1
    api.seed(delivery(2, status="resolved"))  # a resolve passes the silence
    before = len(outbox(api))
    api.seed(delivery(2, starts="2026-11-22T11:00:00Z"))  # both re-fire: only the unsilenced one pages
    new = outbox(api)[before:]
    assert new and all("host-0" not in json.dumps(m) for m in new)
    assert any("host-1" in json.dumps(m) for m in new)
    # At the end, the alert still firing is announced once, however often the job runs.
    settings = _store_settings(api)
    later = now + timedelta(hours=1, minutes=1)
    with open_rows(settings, api.schema) as rows:
        first = silences.expire_due(rows, api.schema, None, later)
    with open_rows(settings, api.schema) as rows:
        second = silences.expire_due(rows, api.schema, None, later)
    assert first == {"silencesEnded": 1, "announced": 1} and second == {"silencesEnded": 0, "announced": 0}
    assert any("STILL FIRING" in t for t in texts(outbox(api, at=later)))
    assert api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]["state"] == "firing"


def test_resolve_during_a_silence_closes_the_alert(api):
    api.seed(delivery(1))
    api("POST", f"/alerts/{fp(0)}/silence", {"duration": "2h"}, role="responder")
    api.seed(delivery(1, status="resolved"))
    alert = api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]
    assert alert["state"] == "resolved"


def test_matcher_silence_holds_new_alerts_until_expired(api):
    made = api("POST", "/silences", {"matchers": ["instance=~ahost-.*", {"name": "job", "value": "node"}],
                                     "duration": "2h", "comment": "window"}, role="admin")
    assert made.status == 201 and made.body["silence"]["state"] == "active"
    sid = made.body["silence"]["id"]
    before = len(outbox(api))
    summary = api.seed(delivery(2, prefix="a"))
    assert summary.transitions.get("silenced") == 2 and outbox(api)[before:] == []
    assert api("GET", "/alerts", role="viewer", query="status=silenced").body["total"] == 2
    assert [s["id"] for s in api("GET", "/silences", role="viewer").body["silences"]] == [sid]
    gone = api("DELETE", f"/silences/{sid}", role="admin").body["silence"]
    assert gone["state"] == "expired"
    assert api("GET", "/alerts", role="viewer", query="status=firing").body["total"] == 2
    assert any("STILL FIRING" in t for t in texts(outbox(api)[before:]))
    assert api("POST", "/silences", {"matchers": ["job=~.*"], "duration": "1h"}).status == 400  # matches all
    assert api("POST", "/silences", {"matchers": ["job=node"], "duration": "soon"}).status == 400


def test_bulk_is_per_item(api):
    api.seed(delivery(3))
    api("POST", f"/alerts/{fp(2)}/resolve", {}, role="responder")
    out = api("POST", "/alerts/bulk", {"action": "ack", "fingerprints": [fp(0), fp(1), fp(2), "ffffffffffffffff"]},
              role="responder").body["results"]
    assert [(r["fingerprint"], r["ok"], r.get("error")) for r in out] == [
        (fp(0), True, None), (fp(1), True, None), (fp(2), False, "alert_resolved"),
        ("ffffffffffffffff", False, "alert_not_found")]
    by_filter = api("POST", "/alerts/bulk", {"action": "unack", "filter": {"status": "acknowledged"}},
                    role="responder").body["results"]
    assert sorted(r["fingerprint"] for r in by_filter if r["ok"]) == [fp(0), fp(1)]
    assert api("POST", "/alerts/bulk", {"action": "explode", "fingerprints": [fp(0)]}).status == 400


def test_bulk_ack_of_500_alerts_costs_a_constant_per_100(appwrite_api):
    api, fake = appwrite_api, appwrite_api.fake
    for part in range(5):
        api.seed(delivery(100, prefix=f"{part}"))
    fake.reset_calls()
    fps = [fp(i, f"{part}") for part in range(5) for i in range(100)]
    out = api("POST", "/alerts/bulk", {"action": "ack", "fingerprints": fps}, role="responder").body["results"]
    assert len(out) == 500 and all(r["ok"] for r in out)
    reads, updates = fake.count("GET", "/rows"), fake.count("PATCH", "/rows")
    audit, notes = fake.count("POST", "/audit_log/rows"), fake.count("POST", "/notifications/rows")
    # per 100 alerts: one read, one update of the alerts and one of their episodes (first ack), one audit
    # create; plus one read of channels
    assert (reads, updates, audit) == (5 + 1, 5 + 5, 5)
    assert notes == 1  # one bulk create of notifications (one per channel) for the whole batch
    assert fake.count("POST", "/messaging/messages") == 0  # the dispatcher sends them, not the request
    assert len(fake.calls) == 22  # README: 4 per 100 alerts + 2


def test_list_filters_sort_and_pages(api):
    api.seed(delivery(5))
    api.seed(delivery(3, prefix="b", severity="warning", extra={"tenant": "blue"}))
    firing = api("GET", "/alerts", role="viewer", query="status=firing&limit=3&sort=alertname").body
    assert firing["total"] == 8 and len(firing["alerts"]) == 3 and firing["next_cursor"]
    seen = [a["fingerprint"] for a in firing["alerts"]]
    cursor = firing["next_cursor"]
    while cursor:
        page = api("GET", "/alerts", role="viewer", query=f"status=firing&limit=3&sort=alertname&cursor={cursor}").body
        seen += [a["fingerprint"] for a in page["alerts"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 8
    assert api("GET", "/alerts", role="viewer", query="severity=warning").body["total"] == 3
    assert api("GET", "/alerts", role="viewer", query="tenant=blue").body["total"] == 3
    assert api("GET", "/alerts", role="viewer", query="label=instance%3Dbhost-1").body["total"] == 1
    assert api("GET", "/alerts", role="viewer", query="q=HOST-4").body["total"] == 1
    assert api("GET", "/alerts", role="viewer", query="limit=101").status == 400
    assert api("GET", "/alerts", role="viewer", query="since=yesterday").status == 400
    assert api("GET", "/alerts", role="viewer", query="cursor=nope").body["error"] == "cursor_not_found"


def test_manual_alert_goes_through_the_pipeline_and_resolves_through_the_api(api):
    before = len(outbox(api))
    made = api("POST", "/alerts", {"alertname": "CustomerReport", "severity": "critical",
                                   "summary": "checkout fails for EU users"}, role="responder")
    assert made.status == 201
    alert = made.body["alert"]
    assert alert["source"] == "manual" and alert["labels"]["source"] == "manual" and alert["state"] == "firing"
    assert any("CustomerReport" in t for t in texts(outbox(api)[before:]))  # routed like any alert
    assert api("POST", "/alerts", {"alertname": "CustomerReport", "severity": "critical"}, role="viewer").status == 403
    assert api("POST", "/alerts", {"severity": "critical"}, role="responder").status == 400
    done = api("POST", f"/alerts/{alert['fingerprint']}/resolve", {}, role="responder").body["alert"]
    assert done["state"] == "resolved"


def _link(api, action: str, i: int = 0, now=None, key: str = "k1") -> str:
    (url,) = [u for a, u in links_for(fp(i), key, now or utcnow(), {"ALERTWRITE_LINK_SECRET": LINK_SECRET,
                                                                   "ALERTWRITE_PUBLIC_URL": PUBLIC_URL}) if a == action]
    return url[len(PUBLIC_URL):]


def test_action_links_work_once_expire_and_cannot_be_forged(api):
    api.seed(delivery(2))
    path = _link(api, "ack")
    page = api("GET", path, role=None)
    assert page.status == 200 and "Acknowledge" in page.text and "host-0" in page.text and "host-1" not in page.text
    assert api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]["state"] == "firing"  # GET changes nothing
    done = api("POST", path, role=None)
    assert done.status == 200 and "acknowledged" in done.text
    assert api("POST", path, role=None).status == 409  # replayed
    trail = api("GET", "/audit", role="viewer", query=f"fingerprint={fp(0)}").body["audit"]
    assert trail[0]["actorKind"] == "link"
    old = _link(api, "resolve", now=utcnow() - timedelta(days=2), key="k2")
    assert api("POST", old, role=None).status == 401  # expired
    body, _, mac = _link(api, "resolve", key="k3").partition(".")
    tampered = _link(api, "resolve", i=1, key="k3").split(".")[0] + "." + mac
    assert api("POST", tampered, role=None).status == 401
    assert api("GET", "/links/garbage", role=None).status == 401
    assert api("GET", f"/alerts/{fp(1)}", role="viewer").body["alert"]["state"] == "firing"


def test_links_are_in_every_message(api, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_LINK_SECRET", LINK_SECRET)
    monkeypatch.setenv("ALERTWRITE_PUBLIC_URL", PUBLIC_URL)
    before = len(outbox(api))
    api.seed(delivery(1))
    new = outbox(api)[before:]
    assert new
    for m in new:
        found = re.findall(re.escape(PUBLIC_URL) + r"/links/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", json.dumps(m))
        assert found, m.get("medium") or m.get("providerType")


def test_console_ack_is_audited_once_and_the_event_loop_stops(api):
    from alertwrite.api.app import handle_event

    api.seed(delivery(1))
    settings = _store_settings(api)
    with open_rows(settings, api.schema) as rows:
        rows.update("alerts", fp(0), {"acknowledgedBy": "carol"})  # what the console does
    event = "databases.monitoring.tables.alerts.rows.%s.update" % fp(0)
    headers = {"x-appwrite-key": api.key}
    forged = json.dumps({"$id": fp(0), "acknowledgedBy": "mallory"}).encode()
    first = handle_event(event, forged, headers, api.env, api.schema)
    assert first.body == {"event": "acknowledged"}
    # Our own write fires the event again: it must change nothing.
    assert handle_event(event, forged, headers, api.env, api.schema).body == {"event": "unchanged"}
    alert = api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]
    assert alert["state"] == "acknowledged" and alert["acknowledgedBy"] == "carol"
    trail = api("GET", "/audit", role="viewer", query=f"fingerprint={fp(0)}").body["audit"]
    assert [(a["action"], a["actor"], a["actorKind"]) for a in trail] == [("ack", "carol", "console")]
    # An ack through the API is not mistaken for a console edit.
    api("POST", f"/alerts/{fp(0)}/unack", {}, role="responder")
    api("POST", f"/alerts/{fp(0)}/ack", {}, role="responder")
    assert handle_event(event, b"{}", headers, api.env, api.schema).body == {"event": "ignored"}
    assert handle_event(event, json.dumps({"$id": fp(0)}).encode(), headers, api.env, api.schema).body == {"event": "unchanged"}


def _store_settings(api) -> Settings:
    if hasattr(api, "fake"):
        return Settings(tokens=(), backend="appwrite", endpoint=api.fake.endpoint, project_id=api.fake.project,
                        api_key=api.fake.key)
    return Settings(tokens=(), backend="sqlite", sqlite_path=api.env["ALERTWRITE_SQLITE_PATH"])


def test_store_faults_and_bad_settings_answer_as_documented(appwrite_api, sqlite_api):
    api, fake = appwrite_api, appwrite_api.fake
    fake.outage("503")
    assert api("GET", "/alerts", role="viewer").status == 503
    health = api("GET", "/health", role=None)
    assert health.status == 503 and health.body["store"] == "unavailable" and set(health.body) == {"status", "store", "version"}
    fake.outage(None)
    broken = Api(sqlite_api.schema, {**sqlite_api.env, "ALERTWRITE_API_TOKENS": "no-role-here"})
    answer = broken("GET", "/alerts", role="viewer")
    assert answer.status == 500 and answer.body == {"error": "not_configured", "detail": "see the function log"}
    assert all("no-role-here" not in line for line in broken.logs)


def test_alertmanager_down_never_blocks_a_silence(sqlite_api):
    api = Api(sqlite_api.schema, {**sqlite_api.env, "ALERTWRITE_ALERTMANAGER_URL": "http://127.0.0.1:9"})
    api.seed(delivery(1))
    made = api("POST", "/silences", {"matchers": ["job=node"], "duration": "1h"})
    assert made.status == 201
    assert made.body["silence"]["state"] == "active" and "cannot reach Alertmanager" in made.body["silence"]["alertmanagerError"]
    assert api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]["state"] == "silenced"


def test_the_bundled_function_routes_events_and_requests(bundles, sqlite_api, monkeypatch):
    from provision.runtime import Request, execution_headers, invoke, load_entrypoint

    for key, value in sqlite_api.env.items():
        monkeypatch.setenv(key, value)
    sqlite_api.seed(delivery(1))
    fn = load_entrypoint(bundles["alert-api"])
    listed = invoke(fn, Request("GET", "/alerts", "status=firing", {**execution_headers(),
                                "authorization": "Bearer tok-viewer-0123456789"}, b""))
    assert listed.status == 200 and listed.json()["total"] == 1
    with open_rows(_store_settings(sqlite_api), sqlite_api.schema) as rows:
        rows.update("alerts", fp(0), {"acknowledgedBy": "dave"})
    event = invoke(fn, Request("POST", "/", "", {**execution_headers(trigger="event",
                               event=f"databases.monitoring.tables.alerts.rows.{fp(0)}.update"),
                               "content-type": "application/json"}, json.dumps({"$id": fp(0)}).encode()))
    assert event.status == 200 and event.json() == {"event": "acknowledged"}
    assert invoke(fn, Request("GET", "/nope", "", execution_headers(), b"")).status == 404


def test_two_operators_acking_at_once_change_it_once(api):
    import threading

    api.seed(delivery(20))
    fps = [fp(i) for i in range(20)]
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        api("POST", "/alerts/bulk", {"action": "ack", "fingerprints": fps}, role="responder"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status for a in answers] == [200, 200]
    assert all(r["ok"] for a in answers for r in a.body["results"])
    trail = api("GET", "/audit", role="viewer", query="limit=100").body["audit"]
    assert len([a for a in trail if a["action"] == "ack"]) == 20  # one audit row per alert, not 40
    assert sum("ACKNOWLEDGED" in t for t in texts(outbox(api))) == 3  # once per (topic, medium): push, SMS, email


def test_me_says_who_the_caller_is_and_refuses_the_anonymous(sqlite_api):
    for role in ("viewer", "responder", "admin"):
        actor = sqlite_api("GET", "/me", role=role).body["actor"]
        assert actor["role"] == role and actor["kind"] == "token" and actor["name"]
    assert sqlite_api("GET", "/me", role=None).status == 401


def test_the_scheduler_sweep_picks_up_console_acks_and_unacks_once(api):
    from alertwrite.operations.manual import sweep_console_acks

    api.seed(delivery(2))
    settings = _store_settings(api)
    api("POST", f"/alerts/{fp(1)}/ack", {}, role="responder")  # an API ack is not a console edit
    with open_rows(settings, api.schema) as rows:
        rows.update("alerts", fp(0), {"acknowledgedBy": "carol"})  # what the console does
    with open_rows(settings, api.schema) as rows:
        assert sweep_console_acks(rows, api.schema, None, utcnow()) == {"consoleAcks": 1, "consoleUnacks": 0}
    with open_rows(settings, api.schema) as rows:  # the next minute: nothing new
        assert sweep_console_acks(rows, api.schema, None, utcnow()) == {"consoleAcks": 0, "consoleUnacks": 0}
    assert api("GET", f"/alerts/{fp(0)}", role="viewer").body["alert"]["state"] == "acknowledged"
    with open_rows(settings, api.schema) as rows:
        rows.update("alerts", fp(0), {"acknowledgedBy": None})  # cleared in the console
    with open_rows(settings, api.schema) as rows:
        assert sweep_console_acks(rows, api.schema, None, utcnow()) == {"consoleAcks": 0, "consoleUnacks": 1}
    trail = api("GET", "/audit", role="viewer", query=f"fingerprint={fp(0)}").body["audit"]
    assert sorted(a["action"] for a in trail) == ["ack", "unack"]
    assert api("GET", f"/alerts/{fp(1)}", role="viewer").body["alert"]["acknowledgedBy"] == "responder-bot"


def test_ack_and_resolve_are_kept_on_the_episode_for_the_statistics(api):
    api.seed(delivery(1))
    settings = _store_settings(api)
    api("POST", f"/alerts/{fp(0)}/ack", {}, role="responder")
    api("POST", f"/alerts/{fp(0)}/unack", {}, role="responder")
    api("POST", f"/alerts/{fp(0)}/ack", {}, role="admin")  # a second ack: the first one stays
    api("POST", f"/alerts/{fp(0)}/resolve", {}, role="responder")
    with open_rows(settings, api.schema) as rows:
        (episode,) = rows.find("alert_episodes", [("fingerprint", "=", fp(0))])
    assert episode["firstAckAt"] and episode["ackedBy"] == "responder-bot"
    assert (episode["status"], episode["resolvedBy"]) == ("resolved", "responder-bot") and episode["resolvedAt"]
    stats = api("GET", "/stats", role="viewer", query="since=3650d").body
    assert stats["overall"]["mtta"]["n"] == 1 and stats["overall"]["mttr"]["n"] == 1, stats["overall"]
