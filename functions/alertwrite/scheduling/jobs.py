"""The scheduler's jobs, in the order they run (contracts §3): one line each.

Each job is `job(rows, schema, settings, now) -> dict` and idempotent under overlapping runs.
Silences expire before escalation, so an expired silence restarts escalation in the same run.
channels.dispatch.run_due (channels) adds its line when it lands.
"""
from __future__ import annotations

import os
from datetime import timedelta

from ..operations.silences import expire_due
from ..janitor import DEFAULT_STALE_AFTER_MINUTES, sweep
from . import escalation_job, heartbeats, retention
from .notify import legacy_backend


def janitor(rows, schema, settings, now) -> dict:
    """The former alert-janitor function; ALERTWRITE_STALE_AFTER_MINUTES still rules it (0 = off)."""
    raw = os.environ.get("ALERTWRITE_STALE_AFTER_MINUTES") or DEFAULT_STALE_AFTER_MINUTES
    try:
        minutes = float(raw)
    except ValueError:
        raise ValueError("ALERTWRITE_STALE_AFTER_MINUTES must be a number of minutes (0 turns the janitor off)") from None
    if minutes <= 0:
        return {"off": True}
    store, _ = legacy_backend(rows)
    return sweep(store, schema, now, timedelta(minutes=minutes)).to_dict()


JOBS = [
    ("silences", expire_due),
    ("heartbeats", heartbeats.run),
    ("escalation", escalation_job.run),
    ("janitor", janitor),
    ("retention", retention.run),
]
