"""serve's cron: each scheduled function runs when its `schedule` matches the minute, in UTC.

Appwrite reads `schedule` as a five-field cron expression in UTC (Tasks/ScheduleFunctions.php
uses dragonmantank/cron-expression): minute hour day-of-month month day-of-week, each `*`,
a number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list; day-of-week 0 or 7 is
Sunday; when both day fields are restricted, either may match (Vixie cron).
A run still going when its next minute comes is not started twice.

Functions scheduled every minute (`* * * * *`) also run every `fast_seconds` (5 s) in between:
locally nothing charges per execution, so an escalation step fires within seconds of its due
time instead of up to a minute late (Appwrite's cron cannot do better than the minute). Those
in-between runs are logged only when they fail or report an error.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable

from .http_server import log_sink

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def _field(text: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step = part.partition("/")
        every = int(step) if step else 1
        if every < 1:
            raise ValueError(f"bad step in {part!r}")
        if base == "*":
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-", 1))
        else:
            start = int(base)
            end = high if step else start
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, every))
    return values


def cron_matches(expression: str, at: datetime) -> bool:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"{expression!r}: expected 5 fields")
    minute, hour, dom, month, dow = (_field(f, *r) for f, r in zip(fields, _RANGES))
    if 7 in dow:
        dow.add(0)
    at = at.astimezone(timezone.utc)
    if at.minute not in minute or at.hour not in hour or at.month not in month:
        return False
    day_ok, weekday_ok = at.day in dom, (at.isoweekday() % 7) in dow
    if fields[2] != "*" and fields[4] != "*":
        return day_ok or weekday_ok
    return day_ok and weekday_ok


EVERY_MINUTE = "* * * * *"


class Scheduler:
    def __init__(self, functions, say: Callable[[str], None], fast_seconds: float = 5.0):
        self.functions = functions
        self.say = say
        self.fast_seconds = fast_seconds
        self.jobs = {fn.id: fn.schedule for fn in functions.schema.functions if fn.schedule}
        for fid, expr in self.jobs.items():
            cron_matches(expr, datetime.now(timezone.utc))  # a bad expression fails at startup
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.jobs)), thread_name_prefix="alertwrite-cron")
        self._thread: threading.Thread | None = None

    def tick(self, at: datetime, fast: bool = False) -> list:
        """Start every function due at `at` (with `fast`, the every-minute ones between two
        minutes); returns their futures."""
        started = []
        for fid, expr in self.jobs.items():
            if (fast and " ".join(expr.split()) != EVERY_MINUTE) or (not fast and not cron_matches(expr, at)):
                continue
            with self._lock:
                if fid in self._running:
                    if not fast:
                        self.say(f"schedule {fid}: previous run still going, skipped")
                    continue
                self._running.add(fid)
            started.append(self._pool.submit(self._run, fid, fast))
        return started

    def _run(self, fid: str, quiet: bool = False):
        try:
            t0 = time.perf_counter()
            lines: list[tuple[str, str]] = []
            sink = log_sink(self.say)
            result = self.functions.run_scheduled(fid, (lambda kind, line: lines.append((kind, line))) if quiet else sink)
            if quiet and (result.status >= 300 or any(kind == "error" for kind, _ in lines)):
                for kind, line in lines:
                    sink(kind, line)
                quiet = False
            if not quiet:
                self.say(f"schedule {fid} -> {result.status} ({(time.perf_counter() - t0) * 1000:.0f} ms)")
            return result
        finally:
            with self._lock:
                self._running.discard(fid)

    def start(self) -> None:
        if not self.jobs:
            return
        self._thread = threading.Thread(target=self._loop, name="alertwrite-scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        minute = int(time.time() // 60)
        while True:
            to_minute = 60 - time.time() % 60
            if self._stop.wait(min(to_minute, self.fast_seconds) if self.fast_seconds else to_minute):
                return
            now = int(time.time() // 60)
            if now != minute:
                minute = now
                self.tick(datetime.now(timezone.utc).replace(second=0, microsecond=0))
            elif self.fast_seconds:
                self.tick(datetime.now(timezone.utc), fast=True)

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
