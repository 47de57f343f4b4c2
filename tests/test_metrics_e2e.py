"""End to end: a real Prometheus scrapes Alertwrite's /metrics and the shipped rule fires when
webhook deliveries fail.

The deliveries go through the real alert-processor bundle (provision/local.py `Functions`, as
`serve` runs it); /metrics is `alertwrite.stats.metrics.render` over the same SQLite store.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml

from e2e_support import PROM_BIN, Process, free_port, ready, require, wait_until
from support import body_of
from test_metrics import MONITORING

from alertwrite.schema import Schema
from alertwrite.settings import Settings
from alertwrite.stats import metrics
from alertwrite.stores import open_rows
from provision.local import WEBHOOK_FUNCTION, Backend, Functions
from provision.runtime import Request, execution_headers

pytestmark = pytest.mark.e2e
TOKEN = "e2e-metrics-token-" + "x" * 20


class Instrumented:
    """The webhook as serve hosts it, timed and counted; GET /metrics renders the exposition."""

    def __init__(self, functions: Functions, schema: Schema, db):
        self.functions, self.schema, self.db = functions, schema, db
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with open_rows(Settings(tokens=(), backend="sqlite", sqlite_path=str(outer.db)), outer.schema) as rows:
                    body, content_type = metrics.render(rows, outer.schema)
                self._reply(200, content_type, body)

            def do_POST(self):
                started = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {**dict(self.headers.items()), **execution_headers(key="")}
                result = outer.functions.call(WEBHOOK_FUNCTION, Request("POST", "/", "", headers, body))
                metrics.observe_delivery(result.status, time.perf_counter() - started)
                self._reply(result.status, result.headers.get("content-type", "application/json"), result.body)

            def _reply(self, status, content_type, body):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def firing(prom_url: str, name: str) -> list[dict]:
    try:
        alerts = httpx.get(prom_url + "/api/v1/alerts", timeout=2).json()["data"]["alerts"]
    except httpx.HTTPError:
        return []
    return [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]


def test_prometheus_scrapes_metrics_and_alerts_on_failing_deliveries(tmp_path, monkeypatch):
    require(PROM_BIN)
    from provision.project import find_project

    project = find_project(MONITORING)
    schema = project.load_schema()
    db = tmp_path / "alertwrite.db"
    for name in ("ALERTWRITE_BACKEND", "ALERTWRITE_SQLITE_PATH", "ALERTWRITE_WEBHOOK_TOKENS"):
        monkeypatch.setenv(name, "")  # Functions sets them as a container would; this restores them after
    functions = Functions(project, schema, Backend("sqlite", db_path=db), (TOKEN,), tmp_path / "bundles")
    server = Instrumented(functions, schema, db)
    # The shipped rules, with `for:` dropped so the test waits seconds instead of minutes.
    rules = yaml.safe_load((MONITORING / "alertwrite.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    port = free_port()
    target = server.url.split("//")[1]
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: ['{tmp_path / "rules.yml"}']
scrape_configs:
  - job_name: alertwrite
    static_configs: [{{targets: ['{target}']}}]
""")
    prom = Process([PROM_BIN, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}"], tmp_path / "prometheus.log")
    prom_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ready(prom_url + "/-/ready"), 60, "Prometheus /-/ready")

        def scraped(query):
            data = httpx.get(prom_url + "/api/v1/query", params={"query": query}, timeout=2).json()["data"]["result"]
            return data
        wait_until(lambda: scraped('up{job="alertwrite"} == 1'), 30, "the first scrape of /metrics")
        good = body_of("0001")
        answer = httpx.post(server.url + "/", content=good, headers={"Authorization": f"Bearer {TOKEN}",
                                                                      "Content-Type": "application/json"})
        assert answer.status_code == 200
        wait_until(lambda: scraped('alertwrite_alerts{state="firing"} > 0'), 30, "the stored alert in a gauge")
        time.sleep(3)
        assert firing(prom_url, "AlertwriteDeliveriesFailing") == []
        for _ in range(5):  # Alertmanager with a stale token in its config
            bad = httpx.post(server.url + "/", content=good, headers={"Authorization": "Bearer wrong-token",
                                                                       "Content-Type": "application/json"})
            assert bad.status_code == 401
            time.sleep(0.5)
        (alert,) = wait_until(lambda: firing(prom_url, "AlertwriteDeliveriesFailing"), 60,
                              "AlertwriteDeliveriesFailing to fire")
        assert alert["labels"]["outcome"] == "401" and alert["labels"]["severity"] == "critical"
        assert "401" in alert["annotations"]["summary"]
    finally:
        prom.stop()
        server.stop()
