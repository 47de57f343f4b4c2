"""The scheduler's jobs, in the order they run (contracts §3): one line each.

Each job is `job(rows, schema, settings, now) -> dict` and idempotent under overlapping runs.
Silences expire before escalation, so an expired silence restarts escalation in the same run.
Console acks come before escalation, so an ack set in the Appwrite console stops the next step.
Notification retries are alert-dispatcher's own one-minute schedule, not a job here.
"""
from __future__ import annotations

import os
from datetime import timedelta

from ..operations.silences import expire_due
from ..janitor import stale_after_minutes, sweep
from ..operations.manual import sweep_console_acks
from . import escalation_job, heartbeats, retention
from ..stores.rows import pipeline_view


def janitor(rows, schema, settings, now) -> dict:
    """The former alert-janitor function; ALERTWRITE_STALE_AFTER_MINUTES still rules it (0 = off)."""
    try:
        minutes = stale_after_minutes(os.environ.get("ALERTWRITE_STALE_AFTER_MINUTES", ""))
    except ValueError as exc:
        # Said in the run's answer and log, but escalation and the other jobs still run:
        # a janitor typo must not stop paging.
        return {"error": f"ALERTWRITE_STALE_AFTER_MINUTES {exc} (0 turns the janitor off)"}
    if minutes == 0:
        return {"off": True}
    store, _ = pipeline_view(rows)
    return sweep(store, schema, now, timedelta(minutes=minutes)).to_dict()


JOBS = [
    ("silences", expire_due),
    ("console_acks", sweep_console_acks),
    ("heartbeats", heartbeats.run),
    ("escalation", escalation_job.run),
    ("janitor", janitor),
    ("retention", retention.run),
]
