"""Alertwrite benchmark: calls, wall time, cold start, local throughput, provisioning.

    python tests/bench/run.py --out bench.json           full run (a few minutes on 2 cores)
    python tests/bench/run.py --out bench.json --quick   smaller run (under a minute)
    python tests/bench/run.py --out storm.json --only storm   the alert storm, single-alert and 100-alert figures

Every figure is measured in this run; ratios compare numbers taken side by side.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from measures import calls, cold_start, provisioning, throughput, wall_time  # noqa: E402
from storm import single_alert, storm  # noqa: E402
from provision.bundle import build_bundle  # noqa: E402
from provision.project import find_project  # noqa: E402
from provision.runtime import load_entrypoint  # noqa: E402


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="where to write the figures as JSON")
    parser.add_argument("--quick", action="store_true", help="a smaller run of under a minute")
    parser.add_argument("--only", choices=["storm"], help="run only this section (and the serve figures)")
    args = parser.parse_args()
    quick = args.quick
    if args.only == "storm":
        return storm_main(args, quick)
    project = find_project(HERE)
    schema = project.load_schema()
    bundle = build_bundle(project, "alert-processor", Path(tempfile.mkdtemp()), schema)
    processor = load_entrypoint(bundle)
    started = time.perf_counter()

    def stage(name):
        print(f"[{time.perf_counter() - started:6.1f}s] {name}", file=sys.stderr, flush=True)

    stage("calls per delivery")
    call_rows = calls(processor, schema, [1, 10, 100, 1000])
    stage("wall time per delivery, ours and naive")
    time_rows = wall_time(processor, schema, [1, 10, 100] if quick else [1, 10, 100, 1000],
                          [0.010] if quick else [0.010, 0.050], naive_max=100, repeat=1 if quick else 3)
    stage("cold start")
    cold = cold_start(bundle, schema, repeat=3 if quick else 9)
    stage("serve throughput vs Alertmanager intake")
    serve = throughput(project, deliveries=24 if quick else 104, per_delivery=100, clients=4)
    stage("provisioning")
    prov = provisioning(project, latency=0.010)
    stage("alert storm from a real Alertmanager, single-alert server time, 100-alert throughput")
    storm_figures = serve_figures(quick)

    def find(rows, **match):
        return next(r for r in rows if all(r.get(k) == v for k, v in match.items()))

    t100 = find(time_rows, alerts=100, latency_ms=10)
    figures = {
        "calls_100_first": find(call_rows, alerts=100, case="first")["calls"],
        "messages_100_first": find(call_rows, alerts=100, case="first")["messages"],
        "calls_100_redelivery": find(call_rows, alerts=100, case="redelivery")["calls"],
        "messages_100_redelivery": find(call_rows, alerts=100, case="redelivery")["messages"],
        "calls_1000_first": find(call_rows, alerts=1000, case="first")["calls"],
        "ratio_calls_vs_naive_100": t100["ratio_calls"],
        "ratio_time_vs_naive_100_10ms": t100["ratio_time"],
        "cold_start_ratio": cold["ratio"],
        "serve_alerts_per_s": serve["serve"]["alerts_per_s"],
        "serve_vs_alertmanager_ratio": serve["ratio"],
        "apply_writes_second_run": prov["up_to_date"]["writes"],
        "machine": machine(),
        "quick": quick,
        "details": {"calls": call_rows, "wall_time": time_rows, "cold_start": cold, "throughput": serve,
                    "provisioning": prov},
    }
    figures["serve"] = {"machine": figures["machine"], "quick": quick, **storm_figures}
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(report(figures))
    print()
    print(storm_report(figures["serve"]))
    stage(f"done; figures in {args.out}")
    return 0


def serve_figures(quick: bool) -> dict:
    """The storm from a real Alertmanager, single-alert server time, and 100-alert throughput."""
    from support import TOKEN
    project = find_project(HERE)
    work = Path(tempfile.mkdtemp(prefix="alertwrite-storm-"))
    sizes = [1000] if quick else [1000, 5000, 10000]
    return {"storm": storm(work / "storm", project.root, sizes, TOKEN),
            "single": single_alert(work / "single", project.root, TOKEN, 300 if quick else 1000),
            "throughput": throughput(project, deliveries=24 if quick else 104, per_delivery=100, clients=4)}


def storm_main(args, quick: bool) -> int:
    figures = {"machine": machine(), "quick": quick, **serve_figures(quick)}
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(storm_report(figures))
    return 0


def storm_report(f: dict) -> str:
    lines = [f"Machine: {f['machine']}{' (quick run)' if f['quick'] else ''}", "",
             "Alert storm: N single-alert groups flushed at once by a real Alertmanager", "",
             "| groups | null receiver | serve: all stored | ratio | failed notifications (null / serve) "
             "| messages | server time p50 / p99 |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in f["storm"]:
        n, s = r["null"], r["serve"]
        lines.append(f"| {r['alerts']:,} | {n['seconds']} s | {s['seconds']} s | {r['ratio']}× | {n['failed']} / {s['failed']} "
                     f"| {s['messages']:,} | {s['p50_ms']} / {s['p99_ms']} ms |")
    one, t = f["single"], f["throughput"]
    lines += ["", f"Single-alert deliveries one after another: server time p50 {one['p50_ms']} ms, "
                  f"p99 {one['p99_ms']} ms ({one['deliveries']} deliveries)",
              f"100-alert deliveries from {t['clients']} clients: {t['serve']['alerts_per_s']:,} alerts/s "
              f"(p50 {t['serve']['p50_ms']} ms, p99 {t['serve']['p99_ms']} ms)"]
    return "\n".join(lines)


def report(f: dict) -> str:
    d = f["details"]
    lines = [f"Machine: {f['machine']}{' (quick run)' if f['quick'] else ''}", "",
             "Appwrite calls per delivery (notifications recorded in brackets; a fresh project's first delivery also seeds the declared channels)", "",
             "| alerts | first | re-delivery, no change | half resolved |", "|---:|---:|---:|---:|"]
    for n in (1, 10, 100, 1000):
        cells = [next(r for r in d["calls"] if r["alerts"] == n and r["case"] == c) for c in
                 ("first", "redelivery", "half_resolved")]
        lines.append(f"| {n} | " + " | ".join(f"{r['calls']} ({r['messages']})" for r in cells) + " |")
    lines += ["", "Wall time of a first delivery, fixed latency per Appwrite call", "",
              "| alerts | latency | ours | naive | calls ours / naive | naive / ours (time) |", "|---:|---:|---:|---:|---:|---:|"]
    for r in d["wall_time"]:
        naive = f"{r['naive_s'] * 1000:.0f} ms" if "naive_s" in r else "not run"
        ratio_calls = f"{r['ours_calls']} / {r['naive_calls']}" if "naive_calls" in r else f"{r['ours_calls']} / -"
        lines.append(f"| {r['alerts']} | {r['latency_ms']} ms | {r['ours_s'] * 1000:.0f} ms | {naive} | {ratio_calls} | "
                     f"{str(r.get('ratio_time', '-')) + '×' if 'ratio_time' in r else '-'} |")
    c, t, p = d["cold_start"], d["throughput"], d["provisioning"]
    lines += ["", f"Cold start: {c['ours_ms']} ms to import the entrypoint and answer a first delivery, vs "
                  f"{c['sdk_import_ms']} ms to import the SDK client and services: {c['ratio']}× (median of {c['runs']})",
              "", f"Local throughput, {t['per_delivery']}-alert deliveries from {t['clients']} concurrent clients:", "",
              "| receiver | alerts/s | p50 | p99 |", "|---|---:|---:|---:|",
              f"| alertwrite serve (SQLite) | {t['serve']['alerts_per_s']} | {t['serve']['p50_ms']} ms | {t['serve']['p99_ms']} ms |",
              f"| Alertmanager POST /api/v2/alerts | {t['alertmanager']['alerts_per_s']} | {t['alertmanager']['p50_ms']} ms | "
              f"{t['alertmanager']['p99_ms']} ms |",
              "", f"serve / Alertmanager: {t['ratio']}×", "",
              f"Provisioning ({p['latency_ms']} ms per call): apply on an empty project {p['empty']['calls']} calls "
              f"({p['empty']['writes']} writes) in {p['empty']['seconds']} s; on an up-to-date one "
              f"{p['up_to_date']['calls']} calls ({p['up_to_date']['writes']} writes) in {p['up_to_date']['seconds']} s"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
