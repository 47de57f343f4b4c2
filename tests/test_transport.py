"""The stand-in for `requests` inside the SDK: a timeout on every call, quiet warnings."""
import requests

from alertwrite.stores import transport
from alertwrite.stores.appwrite import make_client
from appwrite.services.tables_db import TablesDB


def test_every_sdk_call_gets_the_timeout_and_a_reused_session(appwrite_env, monkeypatch):
    seen = []
    original = requests.Session.request

    def spy(self, method, url, **kwargs):
        seen.append((id(self), kwargs.get("timeout")))
        return original(self, method, url, **kwargs)
    monkeypatch.setattr(requests.Session, "request", spy)
    client = make_client(appwrite_env.endpoint, appwrite_env.project, appwrite_env.key, 2.5)
    db = TablesDB(client)
    db.list_rows("monitoring", "alerts")
    db.list_rows("monitoring", "alerts")
    assert [t for _, t in seen] == [2.5, 2.5]
    assert len({s for s, _ in seen}) == 1  # one keep-alive session per thread


def test_version_warnings_are_collected_not_printed(appwrite_env, monkeypatch, capsys):
    appwrite_env.warning = "unit-test warning"
    monkeypatch.setattr(transport, "_warnings_seen", set())
    transport.take_new_warnings()
    db = TablesDB(make_client(appwrite_env.endpoint, appwrite_env.project, appwrite_env.key, 5))
    db.list_rows("monitoring", "alerts")
    db.list_rows("monitoring", "alerts")
    assert "unit-test warning" not in capsys.readouterr().err
    assert transport.take_new_warnings() == ["unit-test warning"]  # once, though two calls carried it
    assert transport.take_new_warnings() == []
