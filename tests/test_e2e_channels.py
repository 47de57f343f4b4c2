"""End to end: real Alertmanager -> `alertwrite serve` -> the chat fakes, channels changed at runtime.

One scenario, to earn its place in CI: fire reaches every matching channel once; resolve once;
an endpoint that failed gets it at the next scheduled run, with every attempt logged; a 400 is
dead with its reason in `notifications list`; a channel added while serve runs gets the next one.
"""
from __future__ import annotations

import json
import sqlite3
import time

import pytest
from click.testing import CliRunner

from chat_fakes import ChatFakes
from e2e_support import Alertmanager, ServeProcess, wait_until
from provision.cli import main

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token-" + "c" * 24


def test_channels_end_to_end(tmp_path, project, monkeypatch):
    monkeypatch.setenv("ALERTWRITE_CHANNELS_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("ALERTWRITE_CHANNELS_RETRY_BASE_SECONDS", "1")
    with ChatFakes() as fakes:
        serve = ServeProcess(tmp_path, project.root, TOKEN)
        db = str(serve.db)

        def cli(*args):
            result = CliRunner().invoke(main, ["--root", str(project.root), *args, "--db", db])
            assert result.exit_code in (0, 1), result.output
            return result.stdout

        def attempts(channel):
            conn = sqlite3.connect(db)
            try:
                return conn.execute('SELECT attempt, outcome, httpStatus FROM notification_attempts WHERE channel = ? '
                                    'ORDER BY "$createdAt", attempt', (channel,)).fetchall()
            finally:
                conn.close()

        am = Alertmanager(tmp_path / "am", serve.url, TOKEN)
        try:
            secret = None
            cli("channels", "add", "ops", "--type", "slack", "--url", fakes.url("slack", "ops"), "--severity", "critical")
            cli("channels", "add", "chat", "--type", "discord", "--url", fakes.url("discord", "chat"))
            cli("channels", "add", "bad", "--type", "teams", "--url", fakes.url("teams", "bad", ["400"]))
            out = cli("channels", "add", "hook", "--type", "webhook", "--url", fakes.url("webhook", "hook"))
            secret = out.split("receiver): ")[1].strip()
            fakes.endpoints["webhook/hook"].secret = secret  # the fake verifies every signature from now on
            cli("channels", "add", "warn", "--type", "slack", "--url", fakes.url("slack", "warn"), "--severity", "warning")

            am.fire("E2EChan", severity="critical", instance="web-1:9100")
            wait_until(lambda: all(fakes.got(k, n) for k, n in (("slack", "ops"), ("discord", "chat"),
                                                                   ("webhook", "hook"))), 30, "the firing in each channel")
            dead = wait_until(lambda: "400 400: invalid_payload" in cli("notifications", "list", "--status", "dead"),
                              15, "the 400 as dead")
            assert dead
            am.fire("E2EChan", resolve=True, severity="critical", instance="web-1:9100")
            wait_until(lambda: len(fakes.got("slack", "ops")) == 2, 30, "the resolve")
            time.sleep(3)  # Alertmanager's re-sends and the dispatcher's polls must add nothing
            assert [len(fakes.got(k, n)) for k, n in (("slack", "ops"), ("discord", "chat"), ("webhook", "hook"))] \
                == [2, 2, 2]
            assert fakes.got("slack", "warn") == []
            assert "RESOLVED" in fakes.got("slack", "ops")[1].body.decode()

            # Discord is down for a while, and a channel is added while serve runs.
            fakes.script("discord", "chat", ["500", "200"])
            cli("channels", "add", "late", "--type", "slack", "--url", fakes.url("slack", "late"))
            am.fire("E2EChanTwo", severity="warning", instance="web-2:9100")
            wait_until(lambda: fakes.got("slack", "late") and fakes.got("slack", "warn"), 30, "the runtime channel")
            # the retry comes with alert-dispatcher's schedule (serve: every 5 s; Appwrite: every minute)
            wait_until(lambda: len(fakes.got("discord", "chat")) == 4, 75, "delivery after the outage")
            # the attempt is recorded just after the endpoint has answered it
            wait_until(lambda: [(o, s) for _, o, s in attempts("chat")[-2:]] == [("retry", 500), ("ok", 200)],
                       10, "both attempts logged")
            health = {c["name"]: c for c in json.loads(cli("channels", "list", "--json"))["channels"]}
            assert health["chat"]["failures"] == 1 and health["bad"]["dead"] == 3  # fire, resolve, second fire
        finally:
            am.stop()
            serve.stop()
        assert fakes.violations == []
        log = serve.process.output()
        assert "/slack/ops" not in log and secret and secret not in log
