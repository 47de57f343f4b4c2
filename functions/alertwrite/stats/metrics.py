"""Prometheus metrics for Alertwrite itself: `render(rows, schema, settings) -> (bytes, content_type)`.

Two kinds of series:
- Gauges read from the tables at scrape time (alerts by state, notifications pending and dead,
  escalation lateness, heartbeats). Appwrite executions share no memory, so only the tables
  know these; they are right in every process that renders them.
- Counters and histograms of this process (deliveries, notifications sent, scheduler runs),
  updated through `observe_*`. They live in memory: they reset when the process restarts
  (Prometheus' rate() and increase() treat that as a counter reset), and on Appwrite each
  execution container has its own, which nobody scrapes, so there they stay empty.

Cardinality: no label carries a fingerprint or a free-form label value. Severity is folded to
a fixed set, channel types and outcomes are enumerations, heartbeat and function names are
declared in schemas/.
"""
from __future__ import annotations

import sys
import threading
import types
from datetime import datetime
from importlib import metadata
from typing import Iterable

from ..timeutil import format_ms, parse_rfc3339, utcnow

try:  # Function bundles that only record need not ship the library: nothing scrapes them.
    from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
    from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
    from prometheus_client.exposition import generate_latest
except ImportError:  # pragma: no cover - exercised only in a bundle without the dependency
    CollectorRegistry = None

# The classic text format: Prometheus 2.x parses it, and our names need nothing newer.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SEVERITIES = ("critical", "error", "warning", "info")
OTHER, NO_SEVERITY = "other", "none"
STATES = ("firing", "acknowledged", "silenced", "resolved")
PENDING_STATES = ("pending", "retrying")
NOTIFICATION_OUTCOMES = ("sent", "retrying", "dead")
# Webhook answers take milliseconds; Alertmanager gives up after 10 s (its flush deadline).
DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From the transition to the chat endpoint's answer: retries with back-off take minutes.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_STATE_MODULE = "_alertwrite_process_metrics"


def delivery_outcome(status: int) -> str:
    """What Alertmanager's retrier sees: 200 stored, 400 and 401 dropped for good, 5xx retried."""
    if 200 <= status < 300:
        return "200"
    if status in (401, 403):
        return "401"
    if status >= 500:
        return "5xx"
    return "400"


def severity_class(value: str | None) -> str:
    value = (value or "").strip().lower()
    if not value:
        return NO_SEVERITY
    return value if value in SEVERITIES else OTHER


# --- in-process counters ----------------------------------------------------------------------

def _process():
    """One set of counters per process. `serve` imports a copy of this package per function
    bundle (provision/runtime.py `load_entrypoint`), so module globals would split them;
    sys.modules is the one place every copy shares."""
    state = sys.modules.get(_STATE_MODULE)
    if state is not None:
        return state
    with _lock:
        state = sys.modules.get(_STATE_MODULE)
        if state is None:
            state = types.ModuleType(_STATE_MODULE)
            # *_created series double the output and no rule or panel of ours reads them.
            disable_created_metrics()
            registry = CollectorRegistry(auto_describe=True)
            state.registry = registry
            state.deliveries = Counter("alertwrite_deliveries", "Alertmanager webhook deliveries by answer.",
                                       ["outcome"], registry=registry)
            state.delivery_seconds = Histogram("alertwrite_delivery_duration_seconds",
                                               "Time to answer an Alertmanager delivery.",
                                               buckets=DELIVERY_BUCKETS, registry=registry)
            state.notifications = Counter("alertwrite_notifications", "Notification attempts by channel type and outcome.",
                                          ["channel_type", "outcome"], registry=registry)
            state.notification_latency = Histogram("alertwrite_notification_latency_seconds",
                                                   "Time from a notification's creation to its successful send.",
                                                   buckets=LATENCY_BUCKETS, registry=registry)
            state.runs = Counter("alertwrite_scheduled_runs", "Scheduled function runs by outcome.",
                                 ["function", "outcome"], registry=registry)
            state.last_run = {}
            for outcome in ("200", "400", "401", "5xx"):
                state.deliveries.labels(outcome)  # present at 0, so rate() has a start
            sys.modules[_STATE_MODULE] = state
    return state


_lock = threading.Lock()


def observe_delivery(outcome: str | int, seconds: float) -> None:
    """Called once per webhook answer; `outcome` is the HTTP status or its class."""
    if CollectorRegistry is None:
        return
    state = _process()
    state.deliveries.labels(delivery_outcome(outcome) if isinstance(outcome, int) else outcome).inc()
    state.delivery_seconds.observe(max(seconds, 0.0))


def observe_notification(channel_type: str, outcome: str, latency_seconds: float | None = None) -> None:
    """One send attempt: outcome sent | retrying | dead; latency only for a successful send."""
    if CollectorRegistry is None:
        return
    if outcome not in NOTIFICATION_OUTCOMES:
        raise ValueError(f"notification outcome must be one of {NOTIFICATION_OUTCOMES}, not {outcome!r}")
    state = _process()
    state.notifications.labels(channel_type or "unknown", outcome).inc()
    if latency_seconds is not None and outcome == "sent":
        state.notification_latency.observe(max(latency_seconds, 0.0))


def observe_scheduled_run(function_id: str, ok: bool, at: datetime | None = None) -> None:
    if CollectorRegistry is None:
        return
    state = _process()
    state.runs.labels(function_id, "ok" if ok else "failed").inc()
    if ok:
        state.last_run[function_id] = (at or utcnow()).timestamp()


# --- gauges from the tables -------------------------------------------------------------------

def _has(schema, table: str, *columns: str) -> bool:
    try:
        keys = {c.key for c in schema.table(table).columns}
    except KeyError:
        return False
    return all(c in keys for c in columns)


def _state_column(schema, table: str) -> str | None:
    return next((c for c in ("state", "status") if _has(schema, table, c)), None)


def _seconds_since(value, now: datetime) -> float:
    return max((now - parse_rfc3339(value)).total_seconds(), 0.0) if value else 0.0


def alert_counts(rows, schema, now: datetime) -> dict[tuple[str, str], int]:
    """Open alerts are read (few); resolved ones are counted per severity (many)."""
    counts = {(state, sev): 0 for state in STATES for sev in (*SEVERITIES, NO_SEVERITY, OTHER)}
    silenced_col = _has(schema, "alerts", "silencedUntil")
    stamp = format_ms(now)
    for row in rows.find_all("alerts", [("status", "=", "firing")]):
        if silenced_col and row.get("silencedUntil") and row["silencedUntil"] > stamp:
            state = "silenced"
        elif row.get("acknowledgedAt"):
            state = "acknowledged"
        else:
            state = "firing"
        counts[(state, severity_class(row.get("severity")))] += 1
    resolved = rows.count("alerts", [("status", "=", "resolved")])
    known = 0
    for sev in SEVERITIES:
        n = rows.count("alerts", [("status", "=", "resolved"), ("severity", "=", sev)])
        counts[("resolved", sev)] = n
        known += n
    blank = sum(rows.count("alerts", [("status", "=", "resolved"), where])
                for where in (("severity", "is_null", None), ("severity", "=", "")))
    counts[("resolved", NO_SEVERITY)] = blank
    counts[("resolved", OTHER)] = max(resolved - known - blank, 0)
    return counts


class TableCollector:
    def __init__(self, rows, schema, now: datetime):
        self.rows, self.schema, self.now = rows, schema, now

    def collect(self) -> Iterable:
        alerts = GaugeMetricFamily("alertwrite_alerts", "Alerts by state and severity, from the alerts table.",
                                   labels=["state", "severity"])
        for (state, sev), n in sorted(alert_counts(self.rows, self.schema, self.now).items()):
            alerts.add_metric([state, sev], n)
        yield alerts
        yield from self._notifications()
        yield from self._escalations()
        yield from self._heartbeats()

    def _notifications(self):
        pending = GaugeMetricFamily("alertwrite_notifications_pending",
                                    "Notifications waiting for a first send or a retry.")
        dead = GaugeMetricFamily("alertwrite_notifications_dead", "Notifications given up on (dead letters).")
        oldest = GaugeMetricFamily("alertwrite_notifications_oldest_pending_age_seconds",
                                   "Age of the oldest notification still waiting; 0 when none waits.")
        column = _state_column(self.schema, "notifications")
        if column:
            waiting = [(column, "in", list(PENDING_STATES))]
            pending.add_metric([], self.rows.count("notifications", waiting))
            dead.add_metric([], self.rows.count("notifications", [(column, "=", "dead")]))
            first = self.rows.find("notifications", waiting, order=[("$createdAt", "asc")], limit=1)
            oldest.add_metric([], _seconds_since(first[0]["$createdAt"], self.now) if first else 0.0)
        yield from (pending, dead, oldest)

    def _escalations(self):
        late = GaugeMetricFamily("alertwrite_escalation_lateness_seconds",
                                 "How long the most overdue escalation step is past its due time; 0 when none is.")
        table = ESCALATION_TABLE
        column = _state_column(self.schema, table)
        if column and _has(self.schema, table, ESCALATION_DUE):
            due = self.rows.find(table, [(column, "in", list(ESCALATION_WAITING)), (ESCALATION_DUE, "<", format_ms(self.now))],
                                 order=[(ESCALATION_DUE, "asc")], limit=1)
            late.add_metric([], _seconds_since(due[0][ESCALATION_DUE], self.now) if due else 0.0)
        yield late

    def _heartbeats(self):
        seen = GaugeMetricFamily("alertwrite_heartbeat_last_seen_timestamp_seconds",
                                 "When each declared heartbeat was last seen (Unix time).", labels=["heartbeat"])
        if _has(self.schema, HEARTBEAT_TABLE, HEARTBEAT_SEEN):
            for row in self.rows.find_all(HEARTBEAT_TABLE):
                if row.get(HEARTBEAT_SEEN):
                    seen.add_metric([row.get("name") or row["$id"]], parse_rfc3339(row[HEARTBEAT_SEEN]).timestamp())
        yield seen


# Where the escalation and heartbeat state lives (schemas/escalation.yaml, owned by on-call).
ESCALATION_TABLE, ESCALATION_DUE, ESCALATION_WAITING = "escalations", "nextAt", ("pending", "active")
HEARTBEAT_TABLE, HEARTBEAT_SEEN = "heartbeats", "lastSeenAt"


class _ProcessCollector:
    def collect(self):
        state = _process()
        yield from state.registry.collect()
        last = GaugeMetricFamily("alertwrite_scheduler_last_run_timestamp_seconds",
                                 "When each scheduled function last ran successfully in this process (Unix time).",
                                 labels=["function"])
        for function_id, at in sorted(state.last_run.items()):
            last.add_metric([function_id], at)
        yield last


class _BuildCollector:
    def collect(self):
        info = InfoMetricFamily("alertwrite_build", "Alertwrite version and Python version.")
        info.add_metric([], {"version": version(), "python": ".".join(map(str, sys.version_info[:3]))})
        yield info


def version() -> str:
    try:
        return metadata.version("alertwrite")
    except metadata.PackageNotFoundError:  # inside a function bundle, which is not installed
        return "unknown"


def registry_for(rows, schema, now: datetime | None = None):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_BuildCollector())
    registry.register(_ProcessCollector())
    if rows is not None:
        registry.register(TableCollector(rows, schema, now or utcnow()))
    return registry


def render(rows, schema, settings=None, now: datetime | None = None) -> tuple[bytes, str]:
    """The text exposition: this process's counters plus gauges read from `rows` now.
    `rows=None` renders the process's own series only (a store that cannot be opened)."""
    if CollectorRegistry is None:
        raise RuntimeError("prometheus_client is not installed: add it to this function's requirements.txt")
    return generate_latest(registry_for(rows, schema, now)), CONTENT_TYPE
