"""serve with several worker processes: one port, one store, nothing announced twice."""
import json
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from e2e_support import ServeProcess
from support import TOKEN, body_of


def overlapping(fingerprints: list[str]) -> bytes:
    doc = json.loads(body_of("0001"))
    template = doc["alerts"][0]
    doc["alerts"] = [{**template, "fingerprint": fp, "labels": {**template["labels"], "instance": fp}} for fp in fingerprints]
    return json.dumps(doc).encode()


def test_two_workers_share_the_store_and_never_announce_a_transition_twice(project, tmp_path):
    serve = ServeProcess(tmp_path, project.root, TOKEN, extra_args=("--workers", "2"))
    try:
        children = Path(f"/proc/{serve.process.proc.pid}/task/{serve.process.proc.pid}/children").read_text().split()
        assert len(children) == 1  # the primary process and one forked worker
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        statuses, fired = [], []

        def post(body):
            with httpx.Client() as client:  # a connection of its own, so both workers get work
                answer = client.post(serve.url, content=body, headers=headers, timeout=30)
                statuses.append(answer.status_code)
                fired.append(answer.json()["transitions"].get("firing", 0))
        for round_ in range(15):
            a, b = f"a{round_:02d}", f"b{round_:02d}"
            threads = [threading.Thread(target=post, args=(overlapping(fps),)) for fps in ([a], [a, b], [a, b], [b])]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert statuses == [200] * 60
        conn = sqlite3.connect(serve.db)
        try:  # delivery is asynchronous: wait until the dispatcher has sent what intake recorded
            for _ in range(300):
                (open_,) = conn.execute("SELECT COUNT(*) FROM notifications WHERE status IN ('pending', 'retrying')").fetchone()
                if not open_:
                    break
                time.sleep(0.1)
            assert not open_, f"{open_} notifications still unsent"
        finally:
            conn.close()
        conn = sqlite3.connect(serve.db)
        try:
            alerts = conn.execute("SELECT COUNT(*), SUM(occurrences) FROM alerts").fetchone()
            per_channel = dict(conn.execute("SELECT channel, COUNT(*) FROM notifications GROUP BY channel").fetchall())
            media = {m for (m,) in conn.execute("SELECT DISTINCT medium FROM messages")}
        finally:
            conn.close()
        assert alerts == (30, 30)
        assert sum(fired) == 30  # every alert's firing announced by exactly one delivery
        # Per round one or two announcements per channel (a and b together, or one after the other),
        # never more. (The dispatcher may then coalesce a channel's pending ones into one message.)
        assert per_channel and all(15 <= n <= 30 for n in per_channel.values()), per_channel
        assert media == {"email", "push", "sms"}
    finally:
        serve.stop()
