"""`alertwrite alerts|silences|audit` on the local store and on Appwrite (the fake)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from api_support import Api, delivery, fp
from provision.cli import main


@pytest.fixture
def local(schema, tmp_path, project, monkeypatch):
    db = tmp_path / "alertwrite.db"
    api = Api(schema, {"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(db)})
    api.seed(delivery(3))
    monkeypatch.delenv("ALERTWRITE_ALERTMANAGER_URL", raising=False)

    def run(*args, input=None):
        return CliRunner().invoke(main, ["--root", str(project.root), *args, "--db", str(db)], input=input,
                                  catch_exceptions=False)
    return run


def test_list_ack_show_and_audit_locally(local):
    listed = local("alerts", "list", "--status", "firing")
    assert listed.exit_code == 0 and "3 alert(s)" in listed.output and fp(0) in listed.output
    acked = local("alerts", "ack", fp(0), fp(1), "--comment", "looking", "--as", "dana")
    assert acked.exit_code == 0 and f"{fp(0)}: acknowledged" in acked.output
    data = json.loads(local("alerts", "list", "--status", "acknowledged", "--json").output)
    assert sorted(a["fingerprint"] for a in data["alerts"]) == [fp(0), fp(1)]
    assert all(a["acknowledgedBy"] == "dana" for a in data["alerts"])
    shown = local("alerts", "show", fp(0))
    assert "ack by dana (looking)" in shown.output
    trail = local("audit", "--fingerprint", fp(0))
    assert "dana [cli]  ack  alert" in trail.output


def test_resolve_asks_first_and_silence_takes_for(local):
    refused = local("alerts", "resolve", fp(2), input="n\n")
    assert refused.exit_code == 3 and "nothing changed" in refused.output
    assert local("alerts", "resolve", fp(2), "--yes").exit_code == 0
    again = local("alerts", "ack", fp(2))
    assert again.exit_code == 3 and "alert_resolved" in again.output
    silenced = local("alerts", "silence", fp(1), "--for", "2h", "--as", "ops")
    assert silenced.exit_code == 0 and "silenced" in silenced.output
    assert local("alerts", "silence", fp(1), "--for", "soon").exit_code == 3


def test_silences_add_list_expire(local):
    made = local("silences", "add", "job=node", "instance=~host-[01]", "--for", "1h", "--comment", "patching",
                 "--as", "ops", "--json")
    assert made.exit_code == 0, made.output
    sid = json.loads(made.output)["id"]
    listed = local("silences", "list")
    assert sid in listed.output and "{job=node, instance=~host-[01]}" in listed.output
    assert json.loads(local("alerts", "list", "--status", "silenced", "--json").output)["total"] == 2
    assert local("silences", "expire", sid, "--yes").exit_code == 0
    assert local("silences", "list").output.strip() == "No silences."
    assert "bad regular expression" in local("silences", "add", "job=~(", "--comment", "x").output


def test_missing_local_store_says_what_to_do(project, tmp_path):
    out = CliRunner().invoke(main, ["--root", str(project.root), "alerts", "list", "--db", str(tmp_path / "none.db")])
    assert out.exit_code == 3 and "alertwrite serve" in out.output


def test_the_same_commands_on_appwrite(schema, fake, project, monkeypatch):
    api = Api(schema, {"APPWRITE_FUNCTION_API_ENDPOINT": fake.endpoint, "APPWRITE_FUNCTION_PROJECT_ID": fake.project},
              key=fake.key)
    api.seed(delivery(2))
    env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}
    run = lambda *a: CliRunner().invoke(main, ["--root", str(project.root), *a, "--backend", "appwrite"], env=env,
                                        catch_exceptions=False)
    assert run("alerts", "ack", fp(0), "--as", "erin").exit_code == 0
    assert fake.rows("monitoring", "alerts")[fp(0)]["acknowledgedBy"] == "erin"
    assert "1 alert(s)" in run("alerts", "list", "--status", "firing").output
