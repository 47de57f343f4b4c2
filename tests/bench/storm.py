"""The alert storm (issue 9): a real Alertmanager flushes N single-alert groups at once.

Alertmanager groups by [alertname, instance] with group_wait 0s, so N alerts posted in one
request to /api/v2/alerts become N webhook deliveries fired together. The same storm goes once
to a null receiver (answers 200 at once) and once to `alertwrite serve` (SQLite); we report the
time until the receiver has everything, Alertmanager's failed notifications, and serve's
per-request times from its log.
"""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from e2e_support import AM_BIN, AMTOOL, Process, ServeProcess, free_port, ready, ready_port, require, wait_until

NULL_RECEIVER = """
import sys, uvicorn
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    if scope["method"] == "POST":
        count += 1
        body = b""
    else:
        body = str(count).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", backlog=4096, timeout_keep_alive=75)
"""
_SERVE_LINE = re.compile(r"^POST / -> alert-processor (\d+) \(([\d.]+) ms\)$", re.M)


class StormAlertmanager:
    def __init__(self, workdir: Path, receiver_url: str, token: str):
        require(AM_BIN, AMTOOL)
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "alertmanager.yml"
        config.write_text(f"""
route:
  receiver: target
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: target
    webhook_configs:
      - url: '{receiver_url}'
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: '{token}'}}
""")
        subprocess.run([AMTOOL, "check-config", str(config)], check=True, capture_output=True)
        self.process = Process([AM_BIN, f"--config.file={config}", f"--storage.path={workdir / 'data'}",
                                f"--web.listen-address=127.0.0.1:{self.port}", f"--web.external-url={self.url}",
                                "--cluster.listen-address="], workdir / "alertmanager.log")
        wait_until(lambda: ready(self.url + "/-/ready"), 30, "Alertmanager /-/ready")

    def post(self, n: int, prefix: str) -> None:
        import httpx
        alerts = [{"labels": {"alertname": "Storm", "instance": f"{prefix}-{i}:9100", "job": "node", "severity": "warning"},
                   "annotations": {"summary": f"host {i} unreachable"}, "generatorURL": "http://prometheus:9090/graph"}
                  for i in range(n)]
        assert httpx.post(self.url + "/api/v2/alerts", json=alerts, timeout=60).status_code == 200

    def failures(self) -> int:
        return self.process.output().count("Notify for alerts failed")

    def stop(self) -> None:
        self.process.stop()


def _until(predicate, timeout: float) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter()
        time.sleep(0.02)
    return None


def null_storm(work: Path, n: int, token: str, settle: float) -> dict:
    import httpx
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    null = Process([sys.executable, "-c", NULL_RECEIVER, str(port)], work / "null.log")
    try:
        wait_until(lambda: ready_port(port), 30, "null receiver")
        am = StormAlertmanager(work / "am-null", f"http://127.0.0.1:{port}/", token)
        try:
            count = lambda: int(httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text)
            started = time.perf_counter()
            am.post(n, "null")
            done = _until(lambda: count() >= n, 120)
            time.sleep(settle)
            return {"seconds": round(done - started, 2) if done else None, "received": count(), "failed": am.failures()}
        finally:
            am.stop()
    finally:
        null.stop()


def serve_storm(work: Path, root: Path, n: int, token: str, settle: float) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    serve = ServeProcess(work, root, token)
    try:
        am = StormAlertmanager(work / "am-serve", serve.url, token)
        conn = sqlite3.connect(serve.db)
        try:
            stored = lambda: conn.execute("SELECT COUNT(*) FROM alerts WHERE alertname = 'Storm'").fetchone()[0]
            started = time.perf_counter()
            am.post(n, "serve")
            done = _until(lambda: stored() >= n, 300)
            time.sleep(settle)
            failed = am.failures()
            messages = conn.execute("SELECT COUNT(*), COUNT(DISTINCT \"$id\") FROM messages").fetchone()
            count = stored()
        finally:
            conn.close()
            am.stop()
    finally:
        serve.stop()
    times = sorted(float(ms) for status, ms in _SERVE_LINE.findall(serve.process.output()) if status == "200")
    return {"seconds": round(done - started, 2) if done else None, "stored": count, "failed": failed,
            "messages": messages[0], "requests": len(times),
            "p50_ms": _pct(times, 0.50), "p99_ms": _pct(times, 0.99)}


def _pct(values: list[float], q: float) -> float | None:
    return round(values[min(len(values) - 1, int(len(values) * q))], 1) if values else None


def storm(work: Path, root: Path, sizes: list[int], token: str) -> list[dict]:
    rows = []
    for n in sizes:
        settle = 12.0  # Alertmanager logs a failure only when its 10 s notify deadline gives up
        null = null_storm(work / f"null-{n}", n, token, settle)
        ours = serve_storm(work / f"serve-{n}", root, n, token, settle)
        ratio = round(ours["seconds"] / null["seconds"], 2) if ours["seconds"] and null["seconds"] else None
        rows.append({"alerts": n, "null": null, "serve": ours, "ratio": ratio})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def single_alert(work: Path, root: Path, token: str, deliveries: int) -> dict:
    """Server time of single-alert deliveries sent one after another on a keep-alive connection."""
    import http.client

    from deliveries import delivery
    work.mkdir(parents=True, exist_ok=True)
    serve = ServeProcess(work, root, token)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", serve.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for i in range(deliveries):
            conn.request("POST", "/", body=delivery(1, prefix=f"s{i}"), headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
        conn.close()
    finally:
        serve.stop()
    times = sorted(float(ms) for status, ms in _SERVE_LINE.findall(serve.process.output()) if status == "200")
    return {"deliveries": len(times), "p50_ms": _pct(times, 0.50), "p99_ms": _pct(times, 0.99)}
