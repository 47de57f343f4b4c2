"""Each measurement of the benchmark; run.py orchestrates and reports."""
from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from appwrite_fake import AppwriteFake
from appwrite_fake.http import serve_http
from click.testing import CliRunner
from deliveries import delivery, naive, ours
from e2e_support import Alertmanager, ServeProcess
from support import TOKEN, seed_schema


class Env:
    """Environment variables for the function, restored afterwards."""

    def __init__(self, **values):
        self.values, self.saved = values, {}

    def __enter__(self):
        for k, v in self.values.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def fresh_fake(schema, latency: float = 0.0) -> AppwriteFake:
    fake = AppwriteFake()
    seed_schema(fake, schema)
    fake.latency = latency
    return fake


def calls(processor, schema, sizes) -> list[dict]:
    """Appwrite calls and messages per delivery: first, re-delivery, half resolved."""
    rows = []
    for n in sizes:
        fake = fresh_fake(schema)
        with fake.running(), Env(APPWRITE_FUNCTION_API_ENDPOINT=fake.endpoint, APPWRITE_FUNCTION_PROJECT_ID=fake.project,
                                 ALERTWRITE_WEBHOOK_TOKENS=TOKEN, ALERTWRITE_BACKEND="appwrite"):
            for case, body in (("first", delivery(n)), ("redelivery", delivery(n)), ("half_resolved", delivery(n, max(1, n // 2)))):
                fake.reset_calls()
                status, _, summary = ours(processor, body)
                assert status == 200, summary
                rows.append({"alerts": n, "case": case, "calls": len(fake.calls),
                             "messages": summary.get("notifications", 0)})  # now notifications recorded
    return rows


def wall_time(processor, schema, sizes, latencies, naive_max: int, repeat: int) -> list[dict]:
    """Seconds per first delivery with a fixed latency per Appwrite call; ours vs the naive design."""
    rows = []
    for latency in latencies:
        for n in sizes:
            our_times, naive_times, naive_calls, our_calls = [], [], None, None
            for r in range(repeat):
                fake = fresh_fake(schema, latency)
                with fake.running(), Env(APPWRITE_FUNCTION_API_ENDPOINT=fake.endpoint,
                                         APPWRITE_FUNCTION_PROJECT_ID=fake.project, ALERTWRITE_WEBHOOK_TOKENS=TOKEN,
                                         ALERTWRITE_BACKEND="appwrite"):
                    _, seconds, _ = ours(processor, delivery(n, prefix=f"r{r}"))
                    our_times.append(seconds)
                    our_calls = len(fake.calls)
                if n <= naive_max:
                    fake = fresh_fake(schema, latency)
                    with fake.running():
                        naive_times.append(naive(fake, delivery(n, prefix=f"r{r}")))
                        naive_calls = len(fake.calls)
            ours_s = statistics.median(our_times)
            row = {"alerts": n, "latency_ms": int(latency * 1000), "ours_s": round(ours_s, 4), "ours_calls": our_calls}
            if naive_times:
                naive_s = statistics.median(naive_times)
                row.update(naive_s=round(naive_s, 4), naive_calls=naive_calls,
                           ratio_time=round(naive_s / ours_s, 1), ratio_calls=round(naive_calls / our_calls, 1))
            rows.append(row)
    return rows


COLD_OURS = """
import sys, time
t0 = time.perf_counter()
from provision.runtime import Request, invoke, load_entrypoint, execution_headers
from pathlib import Path
module = load_entrypoint(Path(sys.argv[1]))
body = open(sys.argv[2], "rb").read()
headers = {"authorization": "Bearer " + sys.argv[3], "content-type": "application/json", **execution_headers(key=sys.argv[4])}
result = invoke(module, Request("POST", "/", "", headers, body))
assert result.status == 200, result.body
print(time.perf_counter() - t0)
"""
COLD_SDK = """
import time
t0 = time.perf_counter()
from appwrite.client import Client
from appwrite.query import Query
from appwrite.exception import AppwriteException
from appwrite.services.tables_db import TablesDB
from appwrite.services.messaging import Messaging
print(time.perf_counter() - t0)
"""


def cold_start(bundle: Path, schema, repeat: int) -> dict:
    """Fresh interpreters: import the entrypoint and answer a first delivery (over real HTTP to
    the fake), against importing only the SDK client and services that path needs."""
    fake = fresh_fake(schema)
    server, endpoint = serve_http(fake)
    body = Path(tempfile.mkdtemp()) / "delivery.json"
    body.write_bytes(delivery(1))
    env = {**os.environ, "APPWRITE_FUNCTION_API_ENDPOINT": endpoint, "APPWRITE_FUNCTION_PROJECT_ID": fake.project,
           "ALERTWRITE_WEBHOOK_TOKENS": TOKEN, "ALERTWRITE_BACKEND": "appwrite"}
    ours_s, sdk_s = [], []
    try:
        for _ in range(repeat):
            out = subprocess.run([sys.executable, "-c", COLD_OURS, str(bundle), str(body), TOKEN, fake.key],
                                 capture_output=True, text=True, env=env, check=True)
            ours_s.append(float(out.stdout.strip().splitlines()[-1]))
            out = subprocess.run([sys.executable, "-c", COLD_SDK], capture_output=True, text=True, env=env, check=True)
            sdk_s.append(float(out.stdout.strip()))
    finally:
        server.shutdown()
    ours_m, sdk_m = statistics.median(ours_s), statistics.median(sdk_s)
    return {"ours_ms": round(ours_m * 1000, 1), "sdk_import_ms": round(sdk_m * 1000, 1),
            "ratio": round(ours_m / sdk_m, 2), "runs": repeat}


def _load(port: int, path: str, bodies: list[bytes], clients: int, headers: dict) -> dict:
    """`clients` threads with keep-alive connections POST the bodies; latency per request."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(bodies)

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            started = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            assert response.status in (200, 201), response.status
            with lock:
                latencies.append(time.perf_counter() - started)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "seconds": round(elapsed, 3),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1)}


def throughput(project, deliveries: int, per_delivery: int, clients: int) -> dict:
    """alertwrite serve (SQLite) vs a real Alertmanager's POST /api/v2/alerts, same alert counts."""
    work = Path(tempfile.mkdtemp(prefix="alertwrite-bench-"))
    serve = ServeProcess(work, project.root, TOKEN)
    try:
        bodies = [delivery(per_delivery, prefix=f"d{i:04x}") for i in range(deliveries)]
        _load(serve.port, "/", bodies[:4], 2, {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        ours = _load(serve.port, "/", bodies[4:], clients,
                     {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    finally:
        serve.stop()
    ours["alerts_per_s"] = round((deliveries - 4) * per_delivery / ours["seconds"])
    am = Alertmanager(work / "am", "http://127.0.0.1:9/", TOKEN)  # its own notifications go nowhere
    try:
        posts = []
        for i in range(deliveries):
            posts.append(json.dumps([{"labels": {"alertname": "BenchLoad", "instance": f"a{i}-{j}", "job": "node",
                                                 "severity": "warning"}, "annotations": {"summary": "load high"},
                                      "generatorURL": "http://prometheus:9090/graph"} for j in range(per_delivery)]).encode())
        _load(am.port, "/api/v2/alerts", posts[:4], 2, {"Content-Type": "application/json"})
        theirs = _load(am.port, "/api/v2/alerts", posts[4:], clients, {"Content-Type": "application/json"})
    finally:
        am.stop()
    theirs["alerts_per_s"] = round((deliveries - 4) * per_delivery / theirs["seconds"])
    return {"per_delivery": per_delivery, "clients": clients, "serve": ours, "alertmanager": theirs,
            "ratio": round(ours["alerts_per_s"] / theirs["alerts_per_s"], 2)}


def provisioning(project, latency: float) -> dict:
    from provision.cli import main
    fake = AppwriteFake()
    fake.latency = latency
    env = {"APPWRITE_ENDPOINT": fake.endpoint, "APPWRITE_PROJECT_ID": fake.project, "APPWRITE_API_KEY": fake.key}
    out = {}
    with fake.running():
        for run in ("empty", "up_to_date"):
            fake.reset_calls()
            started = time.perf_counter()
            result = CliRunner().invoke(main, ["--root", str(project.root), "apply", "--poll", "0.05"], env=env)
            assert result.exit_code == 0, result.output
            out[run] = {"calls": len(fake.calls), "writes": fake.writes(),
                        "seconds": round(time.perf_counter() - started, 2)}
    out["latency_ms"] = int(latency * 1000)
    return out
