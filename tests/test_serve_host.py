"""serve as the local Appwrite: any function of functions.yaml, cron runs, row events, console, /stream.

The function under test is a real bundle made here: a throwaway `echo` function that records
every execution it gets, next to the real alert-processor.
"""
import io
import json
import shutil
import socket
import sqlite3
import threading
from datetime import datetime, timezone

import httpx
import pytest

from provision.events import Matcher, event_names
from provision.local import Backend, Functions, LocalServer
from provision.project import Project
from provision.scheduler import cron_matches
from support import TOKEN, body_of

ECHO = '''
import json, os


def main(context):
    req = context.req
    if req.path == "/sleep":
        import time
        time.sleep(1)
    record = {"trigger": req.headers.get("x-appwrite-trigger"), "event": req.headers.get("x-appwrite-event"),
              "path": req.path, "body": req.body_text}
    with open(os.environ["ECHO_LOG"], "a") as log:
        log.write(json.dumps(record) + "\\n")
    context.log("echo got " + str(record["trigger"]))
    return context.res.json({"echo": record["trigger"]})
'''


@pytest.fixture
def host(project, tmp_path, monkeypatch):
    root = tmp_path / "project"
    shutil.copytree(project.root / "schemas", root / "schemas")
    shutil.copytree(project.root / "functions" / "alert-processor", root / "functions" / "alert-processor")
    (root / "functions" / "echo" / "src").mkdir(parents=True)
    (root / "functions" / "echo" / "src" / "main.py").write_text(ECHO)
    (root / "schemas" / "functions.yaml").write_text("""
functions:
  alert-processor:
    name: Alert processor
    runtime: python-3.12
    entrypoint: src/main.py
    execute: [any]
    scopes: [rows.read, rows.write, messages.write]
    timeout: 15
  echo:
    name: Echo
    runtime: python-3.12
    entrypoint: src/main.py
    execute: [any]
    timeout: 15
    schedule: "*/5 * * * *"
    events: [databases.*.tables.alerts.rows.*.create]
""")
    console = root / "sites" / "alert-console"
    console.mkdir(parents=True)
    (console / "index.html").write_text("<!doctype html><title>console</title>")
    (console / "app.js").write_text("console.log(1)")
    log = tmp_path / "echo.jsonl"
    for key in ("ALERTWRITE_BACKEND", "ALERTWRITE_SQLITE_PATH", "ALERTWRITE_WEBHOOK_TOKENS"):
        monkeypatch.setenv(key, "")
    monkeypatch.setenv("ECHO_LOG", str(log))
    local = Project(root)
    functions = Functions(local, local.load_schema(), Backend("sqlite", db_path=tmp_path / "a.db"), (TOKEN,),
                          tmp_path / "bundles")
    out = io.StringIO()
    srv = LocalServer(functions, "127.0.0.1", 0, out, console_dir=console, background=False).start()
    srv.echo_log = log
    yield srv
    srv.stop()


def executions(srv):
    return [json.loads(line) for line in srv.echo_log.read_text().splitlines()] if srv.echo_log.exists() else []


def wait_for(predicate, timeout=10.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        done.wait(0.05)
    return False


def test_any_declared_function_answers_over_http(host):
    answer = httpx.post(host.url + "functions/echo/some/path", content=b"hi")
    assert answer.status_code == 200 and answer.json() == {"echo": "http"}
    assert executions(host)[-1]["path"] == "/some/path"


def test_a_row_create_fires_the_subscribed_function_once_with_the_row(host):
    answer = httpx.post(host.url, content=body_of("0001"),
                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert answer.status_code == 200
    assert wait_for(lambda: any(e["trigger"] == "event" for e in executions(host)))
    events = [e for e in executions(host) if e["trigger"] == "event"]
    (fired,) = events  # the alert row's create; the episode row's create is not subscribed to
    row = json.loads(fired["body"])
    assert fired["event"] == f"databases.monitoring.tables.alerts.rows.{row['$id']}.create"
    assert row["alertname"] == "HighCPU" and row["$tableId"] == "alerts" and isinstance(row["labels"], str)
    httpx.post(host.url, content=body_of("0001"),
               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})  # an update
    host.feed._wake.set()
    threading.Event().wait(1.0)
    assert len([e for e in executions(host) if e["trigger"] == "event"]) == 1


def test_scheduled_functions_run_when_their_cron_matches(host):
    assert [f.result().status for f in host.scheduler.tick(datetime(2026, 12, 1, 10, 5, tzinfo=timezone.utc))] == [200]
    assert host.scheduler.tick(datetime(2026, 12, 1, 10, 7, tzinfo=timezone.utc)) == []
    assert executions(host)[-1] == {"trigger": "schedule", "event": "", "path": "/", "body": ""}


def test_console_files_are_served_and_nothing_outside(host):
    assert httpx.get(host.url + "console/").text.startswith("<!doctype html>")
    js = httpx.get(host.url + "console/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert httpx.get(host.url + "console/alerts/abc").text.startswith("<!doctype html>")  # a page of the app
    assert httpx.get(host.url + "console/missing.css").status_code == 404
    host_, port = host.http.address
    with socket.create_connection((host_, port)) as s:
        s.sendall(b"GET /console/../../a.db HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"SQLite" not in s.recv(65536)


def test_stream_publishes_each_committed_row_change(host):
    got, connected = [], threading.Event()

    def listen():
        with httpx.stream("GET", host.url + "stream", timeout=10) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                connected.set()
                if line.startswith("data: "):
                    got.append(json.loads(line[6:]))
                    if got[-1]["table"] == "alerts":
                        return
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(5)
    httpx.post(host.url, content=body_of("0001"),
               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    listener.join(10)
    alerts = [g for g in got if g["table"] == "alerts"]
    assert alerts == [{"table": "alerts", "id": alerts[0]["id"], "action": "create"}] and alerts[0]["id"]
    assert {g["table"] for g in got} <= {"alerts", "alert_episodes", "alert_transitions", "notifications", "channels"}


@pytest.mark.parametrize("patterns", [
    {"a": {"databases.*.tables.notifications.rows.*.create"}, "b": {"databases.monitoring.tables.alerts"},
     "c": {"databases.*.tables.*.rows.*.update"}},
    {"a": {"databases.*.tables.notifications.rows.*.create"}, "d": {"databases.monitoring.tables.alerts.rows.a1"}},
])
def test_event_matching_once_per_table_and_action_equals_matching_every_name(patterns):
    matcher = Matcher(patterns, "monitoring")
    for _ in range(2):  # the second pass answers from what the first worked out
        for table in ("notifications", "alerts", "channels"):
            for row_id in ("a1", "n1"):
                for action in ("create", "update", "delete"):
                    names = event_names("monitoring", table, row_id, action)
                    assert matcher.functions_for(table, row_id, action) == [
                        fid for fid, wanted in patterns.items() if wanted & names], (table, row_id, action)
    assert matcher.per_row == ("d" in patterns)


def test_appwrite_event_names_and_cron_rules():
    names = event_names("monitoring", "notifications", "n1", "create")
    assert {"databases.*.tables.notifications.rows.*.create", "databases.monitoring.tables.notifications.rows.n1",
            "databases.*.tables.*.rows.*", "databases.monitoring"} <= names
    assert "databases.*.tables.alerts.rows.*.create" not in names
    at = datetime(2026, 12, 6, 23, 45, tzinfo=timezone.utc)  # a Sunday
    assert cron_matches("*/15 * * * *", at) and not cron_matches("*/20 * * * *", at)
    assert cron_matches("45 23 * * 0", at) and cron_matches("45 23 * * 7", at) and not cron_matches("45 23 * * 1-5", at)
    assert cron_matches("45 23 1 * 0", at)  # both day fields restricted: either matches
    with pytest.raises(ValueError):
        cron_matches("61 * * * *", at)


def test_a_request_whose_client_left_while_it_queued_is_not_run(host):
    one = LocalServer(host.functions, "127.0.0.1", 0, io.StringIO(), threads=1, background=False).start()
    try:
        busy = threading.Thread(target=lambda: httpx.post(one.url + "functions/echo/sleep", timeout=10))
        busy.start()
        threading.Event().wait(0.3)  # the only execution thread is now asleep in /sleep
        address = one.http.address
        with socket.create_connection(address) as s:
            s.sendall(b"POST /functions/echo/abandoned HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            threading.Event().wait(0.2)
        busy.join()
        threading.Event().wait(0.5)
        paths = [e["path"] for e in executions(host)]
        assert "/sleep" in paths and "/abandoned" not in paths
        assert httpx.post(one.url + "functions/echo/after").json() == {"echo": "http"}  # and the server goes on
    finally:
        one.stop()



def test_the_change_feed_prunes_through_the_writer_turn_of_every_process(host, tmp_path):
    """Pruning `_changes` is a write like any other: it waits for the writer lock another
    process holds (serve's other worker) instead of racing it on SQLite's own lock."""
    import subprocess
    import sys

    feed = host.feed
    httpx.post(host.url, content=body_of("0001"), headers={"Authorization": f"Bearer {TOKEN}",
                                                          "Content-Type": "application/json"})
    feed.stop()  # its own loop would move `last` under us
    feed.poll()
    feed.last += 20_000  # as if far more had been read since: everything so far is prunable
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
                               "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()",
         str(feed.path) + ".writer-lock"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        pruning = threading.Thread(target=feed._prune)
        pruning.start()
        pruning.join(0.5)
        assert pruning.is_alive()  # waiting for the other process's turn
        holder.stdin.write("\n")
        holder.stdin.flush()
        pruning.join(10)
        assert not pruning.is_alive()
    finally:
        holder.kill()
    assert sqlite3.connect(feed.path).execute("SELECT COUNT(*) FROM _changes").fetchone()[0] == 0
