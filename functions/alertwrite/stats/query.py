"""Load a window of episodes through the generic RowStore and compute the report.

The one implementation behind `alertwrite stats` and GET /stats. Reads:
- `alert_episodes` whose startsAt falls in the window, paged by the store (`find_all`, ordered
  by startsAt so the startsAt index serves it);
- the `alerts` rows of the fingerprints seen, 100 per call: a fingerprint is the hash of the
  alert's label set, so its labels (team, tenant, ...) and receiver are the same for every
  episode and are kept once, on the alert, instead of on each episode.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from ..records import ALERTS_TABLE, EPISODES_TABLE
from ..timeutil import format_ms, parse_rfc3339
from .statistics import (DEFAULT_PAGE_SEVERITIES, JANITOR, SUPERSEDED, Episode, Options, StatsInputError, Window,
                         check_dimension, compute, parse_duration, parse_window)

ALERTS_PER_CALL = 100  # RowStore's page limit; 100 fingerprints also stay under Appwrite's 4096-char query cap


EPISODE_COLUMNS = ("fingerprint", "startsAt", "status", "resolvedAt", "resolvedBy", "firstAckAt", "silencedSeconds",
                   "receiver", "alertname", "severity", "instance", "ackedBy")
# The local store leaves out what the alert row has already (same for every episode of it).
SQLITE_COLUMNS = EPISODE_COLUMNS[:8]
SCAN_FRACTION = 0.4  # of the table inside the window, above which the local store scans it


def load_episodes(rows, window: Window) -> list[Episode]:
    where = [("startsAt", ">=", format_ms(window.since)), ("startsAt", "<", format_ms(window.until))]
    conn = getattr(rows, "conn", None)
    if isinstance(conn, sqlite3.Connection):
        found = _sqlite_window(conn, where)
    else:
        found = [tuple(r.get(c) for c in EPISODE_COLUMNS)
                 for r in rows.find_all(EPISODES_TABLE, where, order=[("startsAt", "asc")])]
    alerts = load_alerts(rows, sorted({r[0] for r in found}))
    return [to_episode(r, alerts.get(r[0], NO_ALERT)) for r in found]


def _sqlite_window(conn: sqlite3.Connection, where) -> list[tuple]:
    """The local store's window in one statement. Inside the RowStore's transaction it reads
    what paging would, but find_all's keyset pages took 16 s for 100,000 episodes, against
    under 1 s here (tests/bench/stats.py): each page re-plans an OR-ed cursor clause."""
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: a sqlite3.Row or dict per row costs as much again
    columns = ", ".join(f'"{c}"' for c in SQLITE_COLUMNS)
    bounds = [where[0][2], where[1][2]]
    # Through the startsAt index each row is a lookup in the table: for a window that holds
    # most of the table, one pass over it and a sort is faster (0.46 s against 0.31 s for
    # 100,000 rows, tests/bench/stats.py). Both counts come from indexes, in milliseconds.
    inside = cursor.execute(f'SELECT COUNT(*) FROM "{EPISODES_TABLE}" WHERE "startsAt" >= ? AND "startsAt" < ?',
                            bounds).fetchone()[0]
    total = cursor.execute(f'SELECT COUNT(*) FROM "{EPISODES_TABLE}"').fetchone()[0]
    scan = "+" if inside > total * SCAN_FRACTION else ""  # a unary + keeps SQLite off the index
    sql = (f'SELECT {columns} FROM "{EPISODES_TABLE}" WHERE {scan}"startsAt" >= ? AND {scan}"startsAt" < ? '
           f'ORDER BY {scan}"startsAt"')
    return cursor.execute(sql, bounds).fetchall()


def load_alerts(rows, fingerprints: list[str]) -> dict[str, "AlertFacts"]:
    out: dict[str, AlertFacts] = {}
    for start in range(0, len(fingerprints), ALERTS_PER_CALL):
        chunk = fingerprints[start:start + ALERTS_PER_CALL]
        for row in rows.find(ALERTS_TABLE, [("fingerprint", "in", chunk)], limit=len(chunk)):
            out[row["fingerprint"]] = AlertFacts.of(row)
    return out


@dataclass(frozen=True)
class AlertFacts:
    """What every episode of one alert shares, worked out once per alert, not once per episode."""
    labels: dict
    alertname: str = ""
    severity: str = ""
    instance: str = ""
    receiver: str = ""
    janitor_start: datetime | None = None  # its latest episode's start, if the janitor closed it

    @classmethod
    def of(cls, row: dict) -> "AlertFacts":
        labels = _labels(row.get("labels"))
        janitor = None
        if row.get("resolvedBy") == JANITOR and row.get("startsAt"):
            janitor = parse_rfc3339(row["startsAt"]).replace(microsecond=0)
        return cls(labels, row.get("alertname") or labels.get("alertname", ""),
                   row.get("severity") or labels.get("severity", ""),
                   row.get("instance") or labels.get("instance", ""), row.get("receiver") or "", janitor)


NO_ALERT = AlertFacts({})


def to_episode(values: tuple, alert: AlertFacts) -> Episode:
    """`values` in EPISODE_COLUMNS order (or its first 8)."""
    (fingerprint, starts_at, status, resolved_at, resolved_by, first_ack_at, silenced, receiver,
     *named) = values
    alertname, severity, instance, acked_by = named or (None, None, None, None)
    started = _time(starts_at)
    resolved = _time(resolved_at) if resolved_at else None
    status = status or "firing"
    if not resolved_by:
        resolved_by = _legacy_resolved_by(alert, started, status, resolved)
    return Episode(fingerprint, started, status, alertname or alert.alertname, severity or alert.severity,
                   instance or alert.instance, receiver or alert.receiver, alert.labels, resolved, resolved_by,
                   _time(first_ack_at) if first_ack_at else None, acked_by or "", float(silenced or 0.0))


def _legacy_resolved_by(alert: AlertFacts, started: datetime, status: str, resolved_at) -> str:
    if status == SUPERSEDED:
        return SUPERSEDED
    # Episodes written before the episode kept resolvedBy: the alert row still knows it for its
    # latest episode (same start, to the second, as records.episode_start).
    if resolved_at and alert.janitor_start and alert.janitor_start == started.replace(microsecond=0):
        return JANITOR
    return ""


def options_from(env: Mapping[str, str], by: str | None = None, top: int | None = None, tz: str | None = None,
                 bucket: str | None = None) -> Options:
    """Deployment settings from the environment; the caller's choices (flags, query) on top."""
    pages = tuple(s.strip().lower() for s in env.get("ALERTWRITE_STATS_PAGE_SEVERITIES", "").split(",") if s.strip())
    try:
        refires = int(env.get("ALERTWRITE_STATS_FLAP_REFIRES") or 3)
    except ValueError:
        raise StatsInputError("ALERTWRITE_STATS_FLAP_REFIRES must be a whole number") from None
    check_dimension(by)
    return Options(by=by or None, top=top or 10, flap_refires=refires,
                   flap_window=parse_duration(env.get("ALERTWRITE_STATS_FLAP_WINDOW") or "1h"),
                   page_severities=pages or DEFAULT_PAGE_SEVERITIES,
                   tenant_label=env.get("ALERTWRITE_TENANT_LABEL") or "tenant",
                   bucket=bucket or None, tz=tz or "UTC")


def stats(rows, now: datetime, since: str | None = None, from_: str | None = None, until: str | None = None,
          by: str | None = None, top: int | None = None, tz: str | None = None, bucket: str | None = None,
          env: Mapping[str, str] | None = None) -> dict:
    """Parse the caller's choices (raising StatsInputError for bad ones), read, compute."""
    options = options_from(os.environ if env is None else env, by=by, top=top, tz=tz, bucket=bucket)
    window = parse_window(now, since=since, from_=from_, until=until, tz=options.tz)
    return compute(load_episodes(rows, window), window, options)


def _time(value: str) -> datetime:
    try:  # the stores' form, 2026-11-01T00:00:00.000+00:00, parsed at C speed
        return datetime.fromisoformat(value)
    except ValueError:  # anything else RFC 3339 allows (nanoseconds, Z)
        return parse_rfc3339(value)


def _labels(value) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:  # cut by the column's size on the way in
        return {}
    return parsed if isinstance(parsed, dict) else {}
