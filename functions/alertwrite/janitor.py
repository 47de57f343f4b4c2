"""The scheduled sweep: close alerts Alertmanager stopped talking about.

A resolve can be lost for good: `send_resolved: false`, or a resolved alert sorted into the part
`max_alerts` cuts off (capture 0009). Such an alert would stay `firing` for ever. A firing alert
not seen for `stale_after` (choose more than Alertmanager's repeat_interval, which re-sends every
firing alert) is resolved with `resolvedBy: janitor`; if Alertmanager still has it, its next
repeat reopens it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .lifecycle import JANITOR, AlertChange, EpisodeWrite
from .records import EpisodeRecord
from .writes import write_alerts, write_episodes

DEFAULT_STALE_AFTER_MINUTES = 720  # 3 x Alertmanager's default 4 h repeat_interval
MAX_PER_RUN = 1000
# A year: more is no janitor at all, and timedelta itself overflows near 1e12 minutes.
MAX_STALE_AFTER_MINUTES = 525_600


def stale_after_minutes(raw: str) -> float:
    """The setting as a number of minutes; ValueError says what is wrong with it."""
    if not raw.strip():
        return DEFAULT_STALE_AFTER_MINUTES
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"is {raw[:20]!r}, not a number of minutes") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_STALE_AFTER_MINUTES:
        raise ValueError(f"is {raw[:20]}; give minutes from 0 to {MAX_STALE_AFTER_MINUTES}")
    return value


@dataclass
class SweepResult:
    resolved: int
    more_left: bool

    def to_dict(self) -> dict:
        return {"resolved": self.resolved, "moreLeft": self.more_left}


def sweep(store, schema, now: datetime, stale_after: timedelta) -> SweepResult:
    """Writes only the columns a resolve changes (status, endsAt, resolvedAt, resolvedBy), so
    the alert's text, labels and annotations are never written back, let alone cut."""
    stale = store.stale_firing(now - stale_after, MAX_PER_RUN + 1)
    batch = stale[:MAX_PER_RUN]
    changes = [AlertChange(r, r.evolve(status="resolved", ends_at=now, resolved_at=now, resolved_by=JANITOR,
                                       clear_ack=False)) for r in batch]
    episodes = [EpisodeWrite(EpisodeRecord(r.fingerprint, r.occurrences, r.starts_at, "resolved", labels=r.labels,
                                           annotations=r.annotations, ends_at=now, resolved_at=now), False)
                for r in batch]
    if batch:
        write_episodes(store, schema, episodes)
        write_alerts(store, schema, changes)
    return SweepResult(len(batch), len(stale) > MAX_PER_RUN)
