"""The same function on the embedded SQLite store."""
import json
import sqlite3
import threading

from provision.runtime import invoke
from support import all_captures, body_of, webhook_request


def rows(path, table):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}"')]
    finally:
        conn.close()


def test_tables_and_columns_come_from_the_schema(processor, sqlite_env, schema):
    assert invoke(processor, webhook_request(body_of("0001"))).status == 200
    conn = sqlite3.connect(sqlite_env)
    for table in schema.tables:
        columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table.id}")')}
        assert {c.key for c in table.columns} <= columns
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {r[1] for r in conn.execute("PRAGMA index_list('alerts')")}
    assert "alerts_fingerprint_unique" in indexes


def test_messages_land_in_the_outbox_once(processor, sqlite_env):
    from alertwrite.channels.dispatch import run_due
    from alertwrite.settings import load_settings
    from provision.project import find_project
    settings = load_settings({"ALERTWRITE_BACKEND": "sqlite", "ALERTWRITE_SQLITE_PATH": str(sqlite_env)}, {},
                             need_tokens=False)
    for n in ("0001", "0001", "0003", "0004", "0005"):
        assert invoke(processor, webhook_request(body_of(n))).status == 200
        run_due(None, find_project().load_schema(), settings)  # what the alert-dispatcher does on each create
    outbox = rows(sqlite_env, "messages")
    assert [(m["medium"], json.loads(m["topics"])) for m in outbox[:3]] == [
        ("push", ["critical-alerts"]), ("sms", ["critical-alerts"]), ("email", ["monitoring-alerts"])]
    assert len(outbox) == 3 + 1 + 3 + 1
    alerts = {r["fingerprint"]: r for r in rows(sqlite_env, "alerts")}
    assert alerts["ab906f89a7cb9bdc"]["status"] == "resolved"


def test_whole_corpus_matches_the_appwrite_backend(processor, sqlite_env, appwrite_env, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_BACKEND", "sqlite")
    for cap in all_captures():
        assert invoke(processor, webhook_request(cap["body_raw"].encode())).status == 200
    sqlite_rows = {r["fingerprint"]: (r["status"], r["occurrences"], r["startsAt"]) for r in rows(sqlite_env, "alerts")}
    monkeypatch.setenv("ALERTWRITE_BACKEND", "appwrite")
    for cap in all_captures():
        assert invoke(processor, webhook_request(cap["body_raw"].encode())).status == 200
    appwrite_rows = {fp: (r["status"], r["occurrences"], r["startsAt"])
                     for fp, r in appwrite_env.rows("monitoring", "alerts").items()}
    assert sqlite_rows == appwrite_rows
    assert sorted(r["$id"] for r in rows(sqlite_env, "notifications")) == \
        sorted(appwrite_env.rows("monitoring", "notifications"))


def test_concurrent_deliveries_are_safe(processor, sqlite_env):
    invoke(processor, webhook_request(body_of("0001")))  # create the file first
    barrier = threading.Barrier(8)
    statuses = []

    def send():
        barrier.wait()
        statuses.append(invoke(processor, webhook_request(body_of("0003"))).status)
    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert len(rows(sqlite_env, "notifications")) == 2 + 1


def test_a_locked_store_answers_503_and_loses_nothing(processor, sqlite_env, monkeypatch):
    import sys
    store = sys.modules[processor.__name__.replace(".src.main", ".src.alertwrite.stores.sqlite")]  # the bundle's copy
    invoke(processor, webhook_request(body_of("0001")))
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 100)
    blocker = sqlite3.connect(sqlite_env, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        result = invoke(processor, webhook_request(body_of("0003")))
        assert result.status == 503 and result.json() == {"error": "store_unavailable"}
        assert result.duration_ms < 2000  # the patched 100 ms busy timeout, not the default 3 s
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert invoke(processor, webhook_request(body_of("0003"))).json()["transitions"] == {"firing": 1, "unchanged": 1}
