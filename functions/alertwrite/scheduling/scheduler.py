"""One scheduled function every minute (`alert-scheduler`) runs every job in order (contracts §3).

Heartbeats run before escalation so a missing heartbeat's alert is paged in the same run.
A failing job does not stop the others: its error is reported in the summary and the run
answers 500 or 503 so the failure shows in Appwrite's execution list.
"""
from __future__ import annotations

from datetime import datetime

from ..errors import StoreMisconfigured, StoreUnavailable
from .jobs import JOBS


class JobsFailed(Exception):
    def __init__(self, summary: dict, transient: bool):
        super().__init__("; ".join(f"{k}: {v['error']}" for k, v in summary.items() if isinstance(v, dict) and "error" in v))
        self.summary = summary
        self.transient = transient


def run(rows, schema, settings, now: datetime, only: tuple[str, ...] = ()) -> dict:
    summary: dict = {}
    transient = failed = False
    for name, job in JOBS:
        if only and name not in only:
            continue
        try:
            summary[name] = job(rows, schema, settings, now)
        except StoreUnavailable as exc:
            summary[name], transient, failed = {"error": str(exc)[:300]}, True, True
        except (StoreMisconfigured, ValueError) as exc:
            summary[name], failed = {"error": str(exc)[:300]}, True
    if failed:
        raise JobsFailed(summary, transient)
    return summary
