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
from datetime import datetime
from typing import Mapping

from ..records import ALERTS_TABLE, EPISODES_TABLE
from ..timeutil import format_ms, parse_rfc3339
from .statistics import (DEFAULT_PAGE_SEVERITIES, JANITOR, SUPERSEDED, Episode, Options, StatsInputError, Window,
                         check_dimension, compute, parse_duration, parse_window)

ALERTS_PER_CALL = 100  # RowStore's page limit; 100 fingerprints also stay under Appwrite's 4096-char query cap


EPISODE_COLUMNS = ("fingerprint", "startsAt", "status", "alertname", "severity", "instance", "receiver",
                   "resolvedAt", "resolvedBy", "firstAckAt", "ackedBy", "silencedSeconds")


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
    columns = ", ".join(f'"{c}"' for c in EPISODE_COLUMNS)
    sql = f'SELECT {columns} FROM "{EPISODES_TABLE}" WHERE "startsAt" >= ? AND "startsAt" < ? ORDER BY "startsAt"'
    return cursor.execute(sql, [where[0][2], where[1][2]]).fetchall()


def load_alerts(rows, fingerprints: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for start in range(0, len(fingerprints), ALERTS_PER_CALL):
        chunk = fingerprints[start:start + ALERTS_PER_CALL]
        for row in rows.find(ALERTS_TABLE, [("fingerprint", "in", chunk)], limit=len(chunk)):
            row["labels"] = _labels(row.get("labels"))  # once per alert, not once per episode
            out[row["fingerprint"]] = row
    return out


NO_ALERT: dict = {}


def to_episode(values: tuple, alert: dict) -> Episode:
    """`values` in EPISODE_COLUMNS order; `alert` is the fingerprint's alerts row, if any."""
    (fingerprint, starts_at, status, alertname, severity, instance, receiver, resolved_at, resolved_by,
     first_ack_at, acked_by, silenced) = values
    labels = alert.get("labels") or {}
    started = _time(starts_at)
    resolved = _time(resolved_at)
    status = status or "firing"
    return Episode(
        fingerprint, started, status,
        alertname=alertname or labels.get("alertname", ""), severity=severity or labels.get("severity", ""),
        instance=instance or labels.get("instance", ""), receiver=receiver or alert.get("receiver") or "",
        labels=labels, resolved_at=resolved,
        resolved_by=resolved_by or _legacy_resolved_by(alert, started, status, resolved),
        first_ack_at=_time(first_ack_at), acked_by=acked_by or "", silenced_seconds=float(silenced or 0.0))


def _legacy_resolved_by(alert: dict, started: datetime, status: str, resolved_at) -> str:
    if status == SUPERSEDED:
        return SUPERSEDED
    # Episodes written before the episode kept resolvedBy: the alert row still knows it for its
    # latest episode (same start, to the second, as records.episode_start).
    if resolved_at and alert.get("resolvedBy") == JANITOR and alert.get("startsAt"):
        if parse_rfc3339(alert["startsAt"]).replace(microsecond=0) == started.replace(microsecond=0):
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


def _time(value) -> datetime | None:
    if not value:
        return None
    if len(value) == 29 and value.endswith("+00:00"):  # as format_ms writes it: C-speed parse, UTC
        return datetime.fromisoformat(value)
    return parse_rfc3339(value)


def _labels(value) -> dict[str, str]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:  # cut by the column's size on the way in
        return {}
    return parsed if isinstance(parsed, dict) else {}
