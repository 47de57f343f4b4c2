"""Real Alertmanager and Prometheus (Debian packages), started and stopped by the tests.

Recipe: shared/reference/alertmanager-e2e.md. The binary is prometheus-alertmanager;
--cluster.listen-address= turns gossip off; Prometheus needs --rules.alert.resend-delay below
its evaluation interval or its first (dropped) notification is re-sent only a minute later.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

AM_BIN, AMTOOL, PROM_BIN = "prometheus-alertmanager", "amtool", "prometheus"


def require(*binaries: str) -> None:
    missing = [b for b in binaries if shutil.which(b) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (tests/run.sh installs the Debian packages)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; under CI a missing binary is a failure")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Process:
    def __init__(self, args: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
        self.log_path = log
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class Alertmanager:
    """group_wait/group_interval of 1 s so deliveries come within a second or two."""

    def __init__(self, workdir: Path, receiver_url: str, token: str):
        require(AM_BIN, AMTOOL)
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.dir / "alertmanager.yml"
        self.write_config(receiver_url, token)
        self.process = Process([AM_BIN, f"--config.file={self.config}", f"--storage.path={self.dir / 'data'}",
                                f"--web.listen-address=127.0.0.1:{self.port}", f"--web.external-url={self.url}",
                                "--cluster.listen-address=", "--log.level=debug"], self.dir / "alertmanager.log")
        wait_until(lambda: ready(self.url + "/-/ready") or self._died(), 30, "Alertmanager /-/ready")

    def _died(self):
        if self.process.proc.poll() is not None:
            raise AssertionError("Alertmanager exited:\n" + self.process.output()[-2000:])

    def write_config(self, receiver_url: str, token: str) -> None:
        self.config.write_text(f"""
route:
  receiver: alertwrite
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: alertwrite-max2
      matchers: ['route="max2"']
receivers:
  - name: alertwrite
    webhook_configs:
      - url: '{receiver_url}'
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: '{token}'}}
  - name: alertwrite-max2
    webhook_configs:
      - url: '{receiver_url}'
        send_resolved: true
        max_alerts: 2
        http_config:
          authorization: {{type: Bearer, credentials: '{token}'}}
""")
        subprocess.run([AMTOOL, "check-config", str(self.config)], check=True, capture_output=True)

    def reload(self) -> None:
        assert httpx.post(self.url + "/-/reload", timeout=5).status_code == 200

    def fire(self, alertname: str, resolve: bool = False, **labels: str) -> None:
        args = [AMTOOL, f"--alertmanager.url={self.url}", "alert", "add", f"alertname={alertname}",
                *(f"{k}={v}" for k, v in labels.items()), "--annotation=summary=e2e alert <b>&amp;</b> ünïcode",
                "--annotation=runbook_url=https://runbooks.example/e2e"]
        if resolve:
            args.append("--end=" + (datetime.now(timezone.utc) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        subprocess.run(args, check=True, capture_output=True, timeout=30)

    def stop(self) -> None:
        self.process.stop()


class Prometheus:
    def __init__(self, workdir: Path, alertmanager_url: str, rules: str):
        require(PROM_BIN)
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (self.dir / "rules.yml").write_text(rules)
        am_host = alertmanager_url.split("//")[1]
        (self.dir / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 5s, evaluation_interval: 2s, external_labels: {{cluster: e2e}}}}
rule_files: ['{self.dir / "rules.yml"}']
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{{targets: ['{am_host}']}}]
""")
        self.process = Process([PROM_BIN, f"--config.file={self.dir / 'prometheus.yml'}",
                                f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                                f"--web.external-url={self.url}", "--rules.alert.resend-delay=1s"],
                               self.dir / "prometheus.log")
        wait_until(lambda: ready(self.url + "/-/ready"), 60, "Prometheus /-/ready")

    def stop(self) -> None:
        self.process.stop()


class ServeProcess:
    """`python -m provision serve` as a user runs it: on the embedded SQLite store, or with
    `appwrite` set to (endpoint, project, key) as `serve --backend appwrite`."""

    def __init__(self, workdir: Path, root: Path, token: str, appwrite: tuple[str, str, str] | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.db = workdir / "alertwrite.db"
        env = {**os.environ, "ALERTWRITE_WEBHOOK_TOKENS": token, "PYTHONUNBUFFERED": "1"}
        args = [sys.executable, "-m", "provision", "--root", str(root), "serve", "--port", str(self.port),
                "--db", str(self.db), *extra_args]
        if appwrite:
            env.update(zip(("APPWRITE_ENDPOINT", "APPWRITE_PROJECT_ID", "APPWRITE_API_KEY"), appwrite))
            args += ["--backend", "appwrite"]
        self.process = Process(args, workdir / "serve.log", env, workdir)
        wait_until(lambda: ready_port(self.port) or self._died(), 60, "alertwrite serve")

    def _died(self):
        if self.process.proc.poll() is not None:
            raise AssertionError("serve exited:\n" + self.process.output()[-3000:])

    def stop(self) -> None:
        self.process.stop()


def ready_port(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
