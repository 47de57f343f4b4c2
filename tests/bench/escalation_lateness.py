"""Escalation step lateness under a one-minute scheduler, on the local store.

    python tests/bench/escalation_lateness.py [--alerts 200] [--minutes 60]

Alerts arrive at random seconds over the window; the scheduler runs at every whole minute
(Appwrite's cron granularity, and serve's), simulated with `--at` time travel, so the figure
is the lateness the design gives plus each run's own duration (measured, real). Reports p50,
p99 and max of `lateSeconds` as the timeline records it, and the per-run wall time.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent)]

from alertwrite.processor import process  # noqa: E402
from alertwrite.scheduling import scheduler, service  # noqa: E402
from alertwrite.settings import Settings  # noqa: E402
from alertwrite.stores.sqlite import SqliteBackend  # noqa: E402
from alertwrite.stores.sqlite_rows import SqliteRows  # noqa: E402
from alertwrite.timeutil import format_ms  # noqa: E402
from alertwrite.webhook import parse_delivery  # noqa: E402
from provision.project import find_project  # noqa: E402

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)


def _delivery(i: int, at: datetime) -> bytes:
    alert = {"status": "firing", "labels": {"alertname": f"A{i}", "severity": "critical"}, "annotations": {},
             "startsAt": format_ms(at), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": f"{i:016x}"}
    return json.dumps({"version": "4", "status": "firing", "receiver": "r", "groupKey": str(i), "groupLabels": {},
                       "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "alerts": [alert]}).encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=60)
    args = parser.parse_args()
    schema = find_project(HERE).load_schema()
    db = str(Path(tempfile.mkdtemp()) / "bench.db")
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=db)
    with SqliteRows.transaction(db, schema) as rows:
        service.put_schedule(rows, "primary", {"timezone": "Europe/Berlin", "layers": [
            {"users": ["ann", "bob", "cy"], "rotation_start": "2026-01-05", "handoff": "09:00", "turn": "1d"}]})
        service.put_policy(rows, "pages", {"match": {"severity": "critical"}, "steps": [
            {"notify": ["oncall:primary"], "media": ["push"]}, {"after": "3m", "notify": ["user:lead"], "media": ["sms"]}]})
    rng = random.Random(7)
    arrivals = sorted((T0 + timedelta(seconds=rng.uniform(0, args.minutes * 60)), i) for i in range(args.alerts))
    backend, run_ms, late = SqliteBackend(db, schema), [], []
    pending = list(arrivals)
    for minute in range(args.minutes + 5):
        now = T0 + timedelta(minutes=minute)
        while pending and pending[0][0] <= now:
            at, i = pending.pop(0)
            with backend.unit_of_work() as (store, outbox):
                process(parse_delivery(_delivery(i, at)), store, outbox, schema, at)
        started = time.perf_counter()
        with SqliteRows.transaction(db, schema) as rows:
            scheduler.run(rows, schema, settings, now)
        run_ms.append((time.perf_counter() - started) * 1000)
    with SqliteRows.transaction(db, schema) as rows:
        late = [json.loads(r["data"])["lateSeconds"] for r in rows.find_all("escalation_log", [("kind", "=", "step")])]
    late.sort()
    pct = lambda p: late[min(len(late) - 1, int(p * len(late)))]  # noqa: E731
    report = {"steps": len(late), "lateness_s": {"p50": round(pct(0.5), 1), "p99": round(pct(0.99), 1),
                                                 "max": round(late[-1], 1)},
              "run_ms": {"p50": round(statistics.median(run_ms), 1), "max": round(max(run_ms), 1)},
              "note": "lateness = scheduler run time - step due time; add run_ms for the send"}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
