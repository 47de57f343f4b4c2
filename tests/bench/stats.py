"""Benchmark: `alertwrite stats` on the local store, a 30-day window over 100,000 episodes.

    python tests/bench/stats.py [--episodes 100000] [--alerts 2000] [--repeat 5]

Two layouts: all episodes inside the window (the worst case), and the same count spread over
90 days (a third in the window). Reports the median of --repeat runs of the whole command
path below the CLI: open the store, read the window, join the alerts, compute.
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
sys.path[:0] = [str(HERE), str(HERE.parent)]

from alertwrite.records import episode_id  # noqa: E402
from alertwrite.settings import Settings  # noqa: E402
from alertwrite.stats.query import stats  # noqa: E402
from alertwrite.stores import open_rows  # noqa: E402
from alertwrite.timeutil import format_ms  # noqa: E402
from provision.project import find_project  # noqa: E402

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def build(path: Path, schema, episodes: int, alerts: int, days: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    start = NOW - timedelta(days=days)
    span = days * 86400
    alert_rows, episode_rows = [], []
    for a in range(alerts):
        labels = {"alertname": f"Alert{a % 97}", "severity": rnd.choice(["critical", "warning", "info"]),
                  "team": f"team{a % 7}", "instance": f"host{a}:9100"}
        alert_rows.append({"$id": f"fp{a:06d}", "fingerprint": f"fp{a:06d}", "status": "resolved",
                           "startsAt": format_ms(start), "occurrences": 1, "labels": json.dumps(labels),
                           "alertname": labels["alertname"], "severity": labels["severity"], "receiver": "ops"})
    for i in range(episodes):
        a = rnd.randrange(alerts)
        began = start + timedelta(seconds=rnd.randrange(span))
        row = {"$id": episode_id(f"fp{a:06d}", began) + f"{i:x}"[-4:], "fingerprint": f"fp{a:06d}",
               "startsAt": format_ms(began), "status": "resolved", "alertname": f"Alert{a % 97}",
               "severity": alert_rows[a]["severity"], "instance": f"host{a}:9100",
               "resolvedAt": format_ms(began + timedelta(seconds=rnd.randrange(60, 7200))),
               "resolvedBy": "janitor" if rnd.random() < 0.02 else "alertmanager"}
        if rnd.random() < 0.6:
            row["firstAckAt"] = format_ms(began + timedelta(seconds=rnd.randrange(5, 1800)))
        episode_rows.append(row)
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(path))
    with open_rows(settings, schema) as rows:
        rows.create("alerts", alert_rows)
        rows.create("alert_episodes", episode_rows)


def measure(path: Path, schema, repeat: int, by: str | None) -> tuple[float, int]:
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(path))
    times, seen = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        with open_rows(settings, schema) as rows:
            report = stats(rows, NOW, since="30d", by=by, env={})
        times.append(time.perf_counter() - began)
        seen = report["overall"]["episodes"]
    return statistics.median(times), seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    schema = find_project(HERE).load_schema()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for days in (30, 90):
            path = Path(tmp) / f"bench-{days}.db"
            build(path, schema, args.episodes, args.alerts, days)
            for by in (None, "label:team"):
                seconds, seen = measure(path, schema, args.repeat, by)
                out.append({"spreadDays": days, "by": by, "episodesInWindow": seen, "seconds": round(seconds, 3)})
                print(f"{args.episodes} episodes over {days} d, 30-day window holds {seen}, by={by}: "
                      f"{seconds:.3f} s (median of {args.repeat})", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
