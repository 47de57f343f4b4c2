"""Channel delivery benchmark: notification latency in `serve`, and the webhook's answer time
with one hanging channel.

    python tests/bench/channels.py [--quick] [--out channels.json]

Latency is from the start of the Alertmanager-shaped POST to `serve` until a loopback chat
endpoint has the notification, for every (delivery, channel) pair, with 1, 10 and 100
healthy `webhook` channels (no rate budget, so the figure is the pipeline's, not Slack's
1/s). The hanging case adds one channel whose endpoint never answers (30 s) and compares the
webhook's answer time with and without it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import httpx  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from chat_fakes import ChatFakes  # noqa: E402
from e2e_support import ServeProcess  # noqa: E402
from provision.cli import main as cli_main  # noqa: E402
from provision.project import find_project  # noqa: E402
from provision.send_test import test_delivery  # noqa: E402

TOKEN = "bench-token-" + "b" * 24


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def add(root: Path, db: str, *args: str) -> None:
    result = CliRunner().invoke(cli_main, ["--root", str(root), "channels", "add", *args, "--db", db])
    assert result.exit_code == 0, result.output


def one_run(root: Path, channels: int, deliveries: int, hang: bool, fakes: ChatFakes) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        serve = ServeProcess(Path(tmp), root, TOKEN)
        db = str(serve.db)
        try:
            for i in range(channels):
                add(root, db, f"bench-{i}", "--type", "webhook", "--url", fakes.url("webhook", f"b{channels}-{i}"),
                    "--secret", "whsec_" + "QkVOQ0g=" * 4)
            if hang:
                add(root, db, "hanging", "--type", "webhook", "--url", fakes.url("webhook", "hang", ["hang:30"]))
            client = httpx.Client(timeout=30)
            answers, latencies = [], []
            for n in range(deliveries + 1):  # the first warms the bundle imports and is not counted
                body = test_delivery("firing", "info")
                body["alerts"][0]["labels"]["run"] = f"{channels}-{hang}-{n}"
                body["alerts"][0]["fingerprint"] = f"{hash((channels, hang, n)) & (2**64 - 1):016x}"
                before = {i: len(fakes.got("webhook", f"b{channels}-{i}")) for i in range(channels)}
                start = time.monotonic()
                answer = client.post(serve.url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})
                answered = time.monotonic()
                assert answer.status_code == 200, answer.text
                for i in range(channels):
                    got = fakes.wait_for(before[i] + 1, "webhook", f"b{channels}-{i}", timeout=30)
                    if n:
                        latencies.append((got[before[i]].at - start) * 1000)
                if n:
                    answers.append((answered - start) * 1000)
                time.sleep(0.05)
            client.close()
            if os.environ.get("BENCH_DEBUG"):
                import sqlite3
                conn = sqlite3.connect(db)
                print("attempt durations (ms), slowest:", [r[0] for r in conn.execute(
                    "SELECT durationMs FROM notification_attempts ORDER BY durationMs DESC LIMIT 6")], file=sys.stderr)
        finally:
            serve.stop()
    if os.environ.get("BENCH_DEBUG"):
        print("slowest", sorted(latencies)[-8:], file=sys.stderr)
    out = {"channels": channels, "hanging": hang, "deliveries": deliveries,
           "answer_p50_ms": round(statistics.median(answers), 1), "answer_p99_ms": round(pct(answers, 99), 1)}
    if latencies:
        out.update(latency_p50_ms=round(statistics.median(latencies), 1), latency_p99_ms=round(pct(latencies, 99), 1),
                   samples=len(latencies))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args()
    os.environ["ALERTWRITE_CHANNELS_ALLOW_PRIVATE"] = "1"
    os.environ.setdefault("ALERTWRITE_WEBHOOK_TOKENS", TOKEN)
    root = find_project(HERE).root
    n = 10 if args.quick else 40
    rows = []
    with ChatFakes() as fakes:
        for channels in (1, 10, 100):
            rows.append(one_run(root, channels, n if channels < 100 else max(5, n // 4), False, fakes))
            print(json.dumps(rows[-1]), file=sys.stderr)
        rows.append(one_run(root, 1, n, True, fakes))
        print(json.dumps(rows[-1]), file=sys.stderr)
    base = rows[0]
    hung = rows[-1]
    print("\nNotification latency in serve, POST to the chat endpoint's receipt (healthy webhook channels)\n")
    print("| channels | samples | p50 | p99 | webhook answer p50 |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows[:3]:
        print(f"| {r['channels']} | {r['samples']} | {r['latency_p50_ms']} ms | {r['latency_p99_ms']} ms | "
              f"{r['answer_p50_ms']} ms |")
    added = round(hung["answer_p50_ms"] - base["answer_p50_ms"], 1)
    print(f"\nWebhook answer with one channel hanging 30 s: p50 {hung['answer_p50_ms']} ms, "
          f"p99 {hung['answer_p99_ms']} ms, vs {base['answer_p50_ms']} / {base['answer_p99_ms']} ms "
          f"without it: {added:+} ms at p50 (goal: at most +50 ms); healthy channel p99 "
          f"{hung['latency_p99_ms']} ms meanwhile")
    if args.out:
        Path(args.out).write_text(json.dumps({"runs": rows, "hang_added_p50_ms": added}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
