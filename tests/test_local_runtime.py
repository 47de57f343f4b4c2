"""The Appwrite runtime contract as `serve` reproduces it, and serve's routing."""
import io
import json
import sqlite3
import types

import httpx
import pytest
from click.testing import CliRunner

from provision.cli import main
from provision.local import Backend, Functions, LocalServer
from provision.runtime import Request, invoke
from support import TOKEN, body_of


def module(fn):
    return types.SimpleNamespace(main=fn)


def test_request_contract():
    req = Request("POST", "/hook", "a=1&b=x%20y&flag", {"Content-Type": "application/json", "X-Custom": "v",
                                                      "x-open-runtimes-secret": "s"}, b'{"k": 1}', "fn.example", 8443, "https")
    assert req.headers == {"content-type": "application/json", "x-custom": "v"}  # lowercased, runtime's own dropped
    assert req.query == {"a": "1", "b": "x%20y", "flag": ""}  # not URL-decoded
    assert req.url == "https://fn.example:8443/hook?a=1&b=x%20y&flag"
    assert req.body == {"k": 1} and req.body_json == {"k": 1} and req.body_text == '{"k": 1}'
    text = Request("POST", "/", "", {"content-type": "text/plain"}, b"not json")
    assert text.body == "not json"
    with pytest.raises(json.JSONDecodeError):
        text.body_json
    assert Request("POST", "/", "", {"content-type": "application/json"}, b"").body == {}


def test_response_contract():
    ok = invoke(module(lambda ctx: ctx.res.json({"a": 1}, statusCode=201)), Request("GET", "/", "", {}, b""))
    assert (ok.status, ok.body, ok.headers["content-type"]) == (201, b'{"a":1}', "application/json; charset=utf-8")
    empty = invoke(module(lambda ctx: ctx.res.empty()), Request("GET", "/", "", {}, b""))
    assert (empty.status, empty.body) == (204, b"")
    text = invoke(module(lambda ctx: ctx.res.text("hi")), Request("GET", "/", "", {}, b""))
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    moved = invoke(module(lambda ctx: ctx.res.redirect("https://x")), Request("GET", "/", "", {}, b""))
    assert (moved.status, moved.headers["location"]) == (301, "https://x")


def test_exceptions_and_missing_returns_are_empty_500s():
    def boom(ctx):
        ctx.log("before", {"n": 1})
        raise RuntimeError("kaput")
    failed = invoke(module(boom), Request("GET", "/", "", {}, b""))
    assert (failed.status, failed.body) == (500, b"")
    assert failed.logs == ['before {"n": 1}'] and "RuntimeError: kaput" in failed.errors[0]
    silent = invoke(module(lambda ctx: None), Request("GET", "/", "", {}, b""))
    assert silent.status == 500 and "Return statement missing" in silent.errors[0]
    wrong_keyword = invoke(module(lambda ctx: ctx.res.json({}, status_code=200)), Request("GET", "/", "", {}, b""))
    assert wrong_keyword.status == 500  # statusCode is the keyword, as in the real runtime


@pytest.fixture
def server(project, schema, tmp_path, monkeypatch):
    for key in ("ALERTWRITE_BACKEND", "ALERTWRITE_SQLITE_PATH", "ALERTWRITE_WEBHOOK_TOKENS"):
        monkeypatch.setenv(key, "")
    functions = Functions(project, schema, Backend("sqlite", db_path=tmp_path / "a.db"), (TOKEN,), tmp_path / "b")
    out = io.StringIO()
    srv = LocalServer(functions, "127.0.0.1", 0, out).start()
    yield srv, out
    srv.stop()


def test_serve_routes_and_prints_one_line_per_request(server):
    srv, out = server
    answer = httpx.post(srv.url + "any/path?x=1", content=body_of("0001"),
                        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["transitions"] == {"firing": 1}
    assert httpx.post(srv.url, content=b"{}").status_code == 401
    scheduler = httpx.post(srv.url + "functions/alert-scheduler/")  # execute: [] -> refused over HTTP, as Appwrite does
    assert scheduler.status_code == 401 and scheduler.json()["type"] == "function_execute_permission_missing"
    assert srv.functions.run_scheduled("alert-scheduler").json()["janitor"] == {"resolved": 0, "moreLeft": False}
    log = out.getvalue()
    assert "POST /any/path?x=1 -> alert-processor 200" in log and "POST /functions/alert-scheduler/ -> alert-scheduler 401" in log
    assert "queued 2 notifications for the alert-dispatcher" in log and TOKEN not in log


def test_run_gives_a_scheduled_function_the_cron_context(project, tmp_path, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_WEBHOOK_TOKENS", TOKEN)
    sqlite3.connect(tmp_path / "r.db").close()  # an existing (empty) store: run prepares its tables
    result = CliRunner().invoke(main, ["--root", str(project.root), "run", "alert-scheduler", "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 0 and json.loads(result.stdout)["janitor"] == {"resolved": 0, "moreLeft": False}
    typo = CliRunner().invoke(main, ["--root", str(project.root), "run", "alert-scheduler", "--db", str(tmp_path / "r2.db")])
    assert typo.exit_code == 3 and "no such store" in typo.output and not (tmp_path / "r2.db").exists()
    unknown = CliRunner().invoke(main, ["--root", str(project.root), "run", "nope"])
    assert unknown.exit_code == 3 and "known: alert-processor, alert-scheduler, alert-api, alert-dispatcher" in unknown.output


def test_send_test_posts_a_delivery_and_prints_the_answer(server, project):
    srv, _ = server
    runner = CliRunner()
    fired = runner.invoke(main, ["--root", str(project.root), "send-test", srv.url, "--token", TOKEN])
    assert fired.exit_code == 0 and fired.output.startswith('200 {"received":1') and '"firing":1' in fired.output
    resolved = runner.invoke(main, ["--root", str(project.root), "send-test", srv.url, "--token", TOKEN, "--resolve"])
    assert resolved.exit_code == 0 and '"resolved":1' in resolved.output
    refused = runner.invoke(main, ["--root", str(project.root), "send-test", srv.url, "--token", "wrong"])
    assert refused.exit_code == 3 and refused.output.startswith("401")
    down = runner.invoke(main, ["--root", str(project.root), "send-test", "http://127.0.0.1:9/", "--token", TOKEN])
    assert down.exit_code == 3 and "cannot reach http://127.0.0.1:9/" in down.output


def test_bundle_and_appwrite_json_commands(project, tmp_path):
    runner = CliRunner()
    built = runner.invoke(main, ["--root", str(project.root), "bundle", "--out", str(tmp_path / "out")])
    assert built.exit_code == 0
    assert (tmp_path / "out" / "alert-processor" / "src" / "alertwrite" / "schema.json").exists()
    assert runner.invoke(main, ["--root", str(project.root), "appwrite-json", "--check"]).exit_code == 0


def test_serve_metrics_count_the_deliveries_it_answered(server, monkeypatch):
    srv, _ = server
    monkeypatch.setenv("ALERTWRITE_METRICS_PUBLIC", "1")
    before = httpx.get(srv.url + "metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")

    def count(text: str, outcome: str) -> float:
        for line in text.splitlines():
            if line.startswith("alertwrite_deliveries_total{") and f'outcome="{outcome}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0
    httpx.post(srv.url, content=body_of("0001"), headers={"Authorization": f"Bearer {TOKEN}",
                                                         "Content-Type": "application/json"})
    httpx.post(srv.url, content=b"{}", headers={"Authorization": "Bearer wrong"})
    after = httpx.get(srv.url + "metrics").text
    assert count(after, "200") == count(before.text, "200") + 1
    assert count(after, "401") == count(before.text, "401") + 1
    assert "alertwrite_alerts{" in after  # gauges read from the tables at scrape time
