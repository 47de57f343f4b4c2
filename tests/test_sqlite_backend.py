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


def _committer_and_probe(schema, path):
    from alertwrite.stores import sqlite as store

    commits = []
    committer = store.GroupCommit(str(path), schema)
    store.on_commit.append(commits.append)
    return store, committer, commits


def _insert(conn, row_id):
    conn.execute('INSERT INTO "alert_episodes" ("$id", fingerprint, startsAt, status) VALUES (?, ?, ?, ?)',
                 (row_id, "f" + row_id, "2026-11-22T10:00:00.000+00:00", "firing"))


def _run_queued(committer, bodies):
    """The first unit holds the connection until the others queue behind it, as in a burst."""
    release, results = threading.Event(), {}

    def unit(name, body):
        try:
            with committer.unit() as conn:
                body(conn)
                if name == 0:
                    release.wait(10)
            results[name] = "ok"
        except Exception as exc:
            results[name] = type(exc).__name__
    threads = [threading.Thread(target=unit, args=(0, bodies[0]))]
    threads[0].start()
    for _ in range(100):
        if committer._batch is not None:
            break
        threading.Event().wait(0.01)
    for i, body in enumerate(bodies[1:], 1):
        threads.append(threading.Thread(target=unit, args=(i, body)))
        threads[-1].start()
    for _ in range(500):
        if committer._waiting == len(bodies) - 1:
            break
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(10)
    return results


def test_deliveries_arriving_together_share_one_commit(schema, tmp_path):
    store, committer, commits = _committer_and_probe(schema, tmp_path / "g.db")
    try:
        results = _run_queued(committer, [lambda c, i=i: _insert(c, f"r{i}") for i in range(5)])
    finally:
        store.on_commit.remove(commits.append)
    assert results == {i: "ok" for i in range(5)}
    assert len(commits) == 1  # five deliveries, one COMMIT (one fsync)
    assert {r["$id"] for r in rows(tmp_path / "g.db", "alert_episodes")} == {f"r{i}" for i in range(5)}


def test_a_failed_delivery_rolls_back_alone_and_later_ones_see_earlier_writes(schema, tmp_path):
    store, committer, commits = _committer_and_probe(schema, tmp_path / "g.db")
    seen = []

    def failing(conn):
        _insert(conn, "bad")
        raise ValueError("this delivery fails after writing")

    def reader(conn):
        seen.append(sorted(r[0] for r in conn.execute('SELECT "$id" FROM "alert_episodes"')))
        _insert(conn, "last")
    try:
        results = _run_queued(committer, [lambda c: _insert(c, "first"), failing, reader])
    finally:
        store.on_commit.remove(commits.append)
    assert results == {0: "ok", 1: "ValueError", 2: "ok"}
    assert seen == [["first"]]  # in arrival order, and without the failed delivery's row
    assert sorted(r["$id"] for r in rows(tmp_path / "g.db", "alert_episodes")) == ["first", "last"]
    assert len(commits) == 1


def test_a_failed_commit_fails_every_delivery_of_the_batch(schema, tmp_path):
    store, committer, _ = _committer_and_probe(schema, tmp_path / "g.db")
    store.on_commit.clear()

    def breaks_commit(conn):
        _insert(conn, "x")
        conn.execute("PRAGMA foreign_keys = OFF")
        # A deferred constraint that fails at COMMIT: the COMMIT itself errors.
        conn.execute("CREATE TABLE IF NOT EXISTS p (id INTEGER PRIMARY KEY)")
        conn.execute("CREATE TABLE IF NOT EXISTS c (pid INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)")
        conn.execute("PRAGMA defer_foreign_keys = ON")
    committer._connection().execute("PRAGMA foreign_keys = ON")

    def violates(conn):
        conn.execute("INSERT INTO c (pid) VALUES (42)")
    results = _run_queued(committer, [breaks_commit, violates])
    assert results == {0: "StoreMisconfigured", 1: "StoreMisconfigured"} or results == {0: "StoreUnavailable", 1: "StoreUnavailable"}
    assert rows(tmp_path / "g.db", "alert_episodes") == []  # nothing of the batch was kept


def test_changes_are_logged_with_the_commit(processor, sqlite_env):
    assert invoke(processor, webhook_request(body_of("0001"))).status == 200
    changes = rows(sqlite_env, "_changes")
    assert {(c["tbl"], c["action"]) for c in changes} == {
        ("alerts", "create"), ("alert_episodes", "create"), ("alert_transitions", "create"),
        ("notifications", "create"), ("channels", "create")}  # declared channels are seeded on first use
    assert invoke(processor, webhook_request(body_of("0001"))).status == 200  # a repeat touches lastSeenAt
    assert rows(sqlite_env, "_changes")[-1]["action"] == "update"
