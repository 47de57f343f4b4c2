"""Rows of the `alerts`, `alert_episodes` and `alert_transitions` tables as typed records, and
`fit_row`: every value written anywhere is fitted to its column first.

Fitting is derived from the schema alone, so a table another capability adds later is covered
too. Data Alertmanager sent is never rejected for its size or range: a write the server refuses
for good (400 row_invalid_structure) would make Alertmanager retry that delivery for ever, after
its messages were already sent. So each value is brought inside what the real 1.9.0 server
accepts (README of the 1.9.0 captures, §H and §I):
- string: at most `size` characters (characters, not bytes), cut visibly; a dict or list is
  written as JSON that stays valid JSON when it is cut (the longest values are shortened first);
- integer: a whole number within min..max (default signed 64-bit), double: a finite number
  within min..max; a negative duration from a coarse timestamp becomes 0, not a refusal;
- boolean: a bool; datetime: UTC with milliseconds within 1000-01-01..9999-12-31 23:59:59.000,
  never "" (the server stores "" as *now*);
- enum: one of `elements` (else the column default, else dropped), email/url/ip: a valid one;
- required: never null; a column this table does not declare is dropped (the server answers
  `Unknown attribute`).
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from .schema import Column, Table
from .timeutil import MAX_STORABLE, MIN_STORABLE, clamp_storable, format_ms, parse_rfc3339

TRUNCATION_MARK = "…[truncated]"
# json.dumps with options builds a new encoder on every call; this one is built once.
_to_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
ALERTS_TABLE = "alerts"
EPISODES_TABLE = "alert_episodes"
TRANSITIONS_TABLE = "alert_transitions"
INT64 = (-(2**63), 2**63 - 1)
DOUBLE_MAX = 1.7976931348623157e308
SYSTEM_KEYS = ("$id", "$createdAt", "$updatedAt", "$permissions", "$sequence", "$tableId", "$databaseId")
_ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,35}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def fit(value: str, size: int | None) -> str:
    if size is None or len(value) <= size:
        return value
    keep = max(size - len(TRUNCATION_MARK), 0)
    return (value[:keep] + TRUNCATION_MARK)[:size]


def fit_row(row: dict, table: Table, partial: bool = False) -> dict:
    """A copy of `row` that the server accepts. With `partial`, only the keys given are fitted
    (a PATCH); otherwise a missing required column is filled too (a create)."""
    fitters, required = _plan(table)
    out: dict = {}
    for key, value in row.items():
        fitter = fitters.get(key)
        if fitter is not None:
            out[key] = value if value is None else fitter(value)
        elif key in _SYSTEM:
            out[key] = value
    for col in required:
        if out.get(col.key) is None and (not partial or col.key in out):
            out[col.key] = _fallback(col)
    return out


_SYSTEM = frozenset(SYSTEM_KEYS)
# Per table: one fitter per column, built once. A row is fitted where it is made and again by
# the store that writes it (any caller may pass raw values), so each fitter first checks
# whether the value already fits and returns it as it is.
_plans: dict[int, tuple[Table, dict, tuple[Column, ...]]] = {}


def _plan(table: Table) -> tuple[dict, tuple[Column, ...]]:
    plan = _plans.get(id(table))
    if plan is None or plan[0] is not table:
        if len(_plans) > 256:  # schemas loaded again and again (tests): keep the cache small
            _plans.clear()
        plan = _plans[id(table)] = (table, {c.key: _fitter(c) for c in table.columns},
                                    tuple(c for c in table.columns if c.required))
    return plan[1], plan[2]


def _fitter(col: Column):
    def slow(value):
        return fit_value(value, col)

    if col.array:
        return slow
    kind = col.type
    if kind == "string" and not col.format:
        size = col.size
        if size is None:
            return lambda v: v if type(v) is str else slow(v)
        return lambda v: v if type(v) is str and len(v) <= size else slow(v)
    if kind == "string" and col.format == "enum":
        elements = frozenset(col.elements)
        return lambda v: v if type(v) is str and v in elements else slow(v)
    if kind == "integer":
        low = INT64[0] if col.min is None else col.min
        high = INT64[1] if col.max is None else col.max
        return lambda v: v if type(v) is int and low <= v <= high else slow(v)
    if kind == "double":
        low = -DOUBLE_MAX if col.min is None else col.min
        high = DOUBLE_MAX if col.max is None else col.max
        return lambda v: v if type(v) is float and low <= v <= high else slow(v)  # NaN fails the test
    if kind == "boolean":
        return lambda v: v if type(v) is bool else slow(v)
    if kind == "datetime":
        def fit_datetime(v):
            if type(v) is str:
                return _fit_datetime_text(v)
            if type(v) is datetime and v.tzinfo is timezone.utc and MIN_STORABLE <= v <= MAX_STORABLE:
                return v.isoformat(timespec="milliseconds")  # format_ms of an instant in range
            return slow(v)
        return fit_datetime
    return slow


def fit_value(value, col: Column):
    if value is None:
        return None
    if col.array:
        items = value if isinstance(value, (list, tuple)) else [value]
        fitted = [fit_value(v, replace(col, array=False)) for v in items]
        return [v for v in fitted if v is not None]
    kind = col.type
    if kind == "string":
        return _fit_string(value, col)
    if kind == "integer":
        return _fit_number(value, col, whole=True)
    if kind == "double":
        return _fit_number(value, col, whole=False)
    if kind == "boolean":
        return value if isinstance(value, bool) else bool(value)
    if kind == "datetime":
        return _fit_datetime(value)
    return value


def _fit_string(value, col: Column):
    if isinstance(value, (dict, list)):
        text = fit_json(value, col.size)
    else:
        text = value if isinstance(value, str) else str(value)
        text = fit(text, col.size)
    if col.format == "enum":
        return text if text in col.elements else col.default
    if col.format == "email":
        return text if _EMAIL.fullmatch(text) else None
    if col.format == "url":
        return text if re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s]+$", text) else None
    if col.format == "ip":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return None
    return text


def _fit_number(value, col: Column, whole: bool):
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        return None
    low_default, high_default = INT64 if whole else (-DOUBLE_MAX, DOUBLE_MAX)
    low = low_default if col.min is None else col.min
    high = high_default if col.max is None else col.max
    value = min(max(value, low), high)
    if whole:
        return int(math.floor(value)) if value >= 0 else int(math.ceil(value))
    return float(value)


@functools.lru_cache(maxsize=4096)
def _fit_datetime_text(value: str):
    """The same few instants (now, startsAt) recur in every row of a delivery and its re-fit."""
    return _fit_datetime(value)


def _fit_datetime(value):
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = parse_rfc3339(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return format_ms(clamp_storable(value))


def _fallback(col: Column):
    """A value for a required column that has none: the declared default, else the least
    value the column takes. Only reached for data that lacks a value we always write."""
    if col.default is not None:
        return fit_value(col.default, col)
    if col.format == "enum" and col.elements:
        return col.elements[0]
    return {"string": "", "integer": _fit_number(0, col, True), "double": _fit_number(0.0, col, False),
            "boolean": False, "datetime": format_ms(MIN_STORABLE)}.get(col.type, "")


def fit_json(value, size: int | None) -> str:
    """JSON text of at most `size` characters that is still valid JSON. For a mapping the
    longest string values are shortened first (labels stay readable), then entries are left out
    from the largest, with a visible marker."""
    text = _to_json(value)
    if size is None or len(text) <= size:
        return text
    if isinstance(value, dict):
        items = {str(k): (v if isinstance(v, str) else _to_json(v)) for k, v in value.items()}
        longest = max((len(v) for v in items.values()), default=0)
        lo, hi = 0, longest  # the largest per-value cap that fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(_to_json(_cap_values(items, mid))) <= size:
                lo = mid
            else:
                hi = mid - 1
        capped = _cap_values(items, lo)
        while len(_to_json(capped)) > size:
            droppable = [k for k in capped if k != TRUNCATION_MARK]
            if not droppable:
                break
            del capped[max(droppable, key=lambda k: len(k) + len(capped[k]))]
            capped[TRUNCATION_MARK] = "entries left out"
        text = _to_json(capped)
        if len(text) <= size:
            return text
    # Anything else (or a mapping whose keys alone are too long): a JSON string of the text.
    for keep in range(min(len(text), size), -1, -max(1, size // 8)):
        candidate = _to_json(fit(text, keep))
        if len(candidate) <= size:
            return candidate
    return "{}" if size >= 2 else ""


def _cap_values(items: dict[str, str], cap: int) -> dict[str, str]:
    return {k: (v if len(v) <= cap else fit(v, max(cap, len(TRUNCATION_MARK)))) for k, v in items.items()}


def row_id(*parts: object) -> str:
    """A valid Appwrite row ID (≤36 of [A-Za-z0-9._-], no leading special) made of `parts`;
    a hash when the readable form would not be one, so every input has a valid ID."""
    text = ".".join(str(p) for p in parts)
    if _ROW_ID.fullmatch(text):
        return text
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:36]


def episode_id(fingerprint: str, occurrence: int) -> str:
    """Episodes are numbered per fingerprint (see lifecycle.py for why not by startsAt)."""
    return row_id(fingerprint, occurrence)


def diff(old: dict, new: dict) -> dict:
    """The columns `new` changes: a write carries only those, so it never undoes a concurrent
    change to another column, and never writes back less than it read."""
    return {k: v for k, v in new.items() if k not in old or old[k] != v}


@dataclass(frozen=True)
class AlertRecord:
    fingerprint: str
    status: str
    starts_at: datetime
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: datetime | None = None
    last_seen_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str = ""
    generator_url: str = ""
    group_key: str = ""
    receiver: str = ""
    occurrences: int = 1
    truncated_alerts: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    # A new episode clears an acknowledgement; otherwise the row keeps whatever an
    # on-call engineer set, because writes carry only the columns they change.
    clear_ack: bool = False

    def to_row(self, table: Table) -> dict:
        row = {
            "fingerprint": self.fingerprint,
            "alertname": self.labels.get("alertname", ""),
            "status": self.status,
            "severity": self.labels.get("severity", ""),
            "instance": self.labels.get("instance", ""),
            "job": self.labels.get("job", ""),
            "summary": self.annotations.get("summary", ""),
            "description": self.annotations.get("description", ""),
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "lastSeenAt": self.last_seen_at,
            "resolvedAt": self.resolved_at,
            "resolvedBy": self.resolved_by,
            "generatorURL": self.generator_url,
            "groupKey": self.group_key,
            "receiver": self.receiver,
            "occurrences": self.occurrences,
            "truncatedAlerts": self.truncated_alerts,
        }
        if self.clear_ack:
            row["acknowledgedAt"] = None
            row["acknowledgedBy"] = None
        return fit_row(row, table)

    @classmethod
    def from_row(cls, row: dict) -> "AlertRecord":
        """Never raises for a row a store returns: a value a later read cannot parse (year
        0001, text in a number column) reads as the nearest sane value, so one bad row cannot
        block every delivery and janitor run that touches it."""
        return cls(
            fingerprint=str(row.get("fingerprint") or row.get("$id") or ""),
            status=row.get("status") if row.get("status") in ("firing", "resolved") else "resolved",
            starts_at=_time(row.get("startsAt")) or MIN_STORABLE,
            labels=_json_map(row.get("labels")),
            annotations=_json_map(row.get("annotations")),
            ends_at=_time(row.get("endsAt")),
            last_seen_at=_time(row.get("lastSeenAt")),
            resolved_at=_time(row.get("resolvedAt")),
            resolved_by=_text(row.get("resolvedBy")),
            generator_url=_text(row.get("generatorURL")),
            group_key=_text(row.get("groupKey")),
            receiver=_text(row.get("receiver")),
            occurrences=max(_int(row.get("occurrences"), 1), 1),
            truncated_alerts=max(_int(row.get("truncatedAlerts"), 0), 0),
            acknowledged_at=_time(row.get("acknowledgedAt")),
            acknowledged_by=_text(row.get("acknowledgedBy")),
        )

    def evolve(self, **changes) -> "AlertRecord":
        return replace(self, **changes)


@dataclass(frozen=True)
class EpisodeRecord:
    """One firing episode, row `<fingerprint>.<occurrence>`."""
    fingerprint: str
    occurrence: int
    starts_at: datetime
    status: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    ends_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def row_id(self) -> str:
        return episode_id(self.fingerprint, self.occurrence)

    def to_row(self, table: Table) -> dict:
        row: dict = {"fingerprint": self.fingerprint, "startsAt": self.starts_at, "status": self.status,
                     "alertname": self.labels.get("alertname", ""), "severity": self.labels.get("severity", ""),
                     "instance": self.labels.get("instance", ""), "summary": self.annotations.get("summary", ""),
                     "endsAt": self.ends_at, "resolvedAt": self.resolved_at, "occurrence": self.occurrence,
                     "durationSeconds": None}
        if self.resolved_at is not None:
            # Can be negative: a resolve stamped in whole seconds after a start with fractions
            # (10:22:22Z after 10:22:22.604Z); fit_row clamps it to the column's min of 0.
            row["durationSeconds"] = round((self.resolved_at - self.starts_at).total_seconds(), 3)
        return fit_row(row, table)


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return clamp_storable(parse_rfc3339(value))
    except ValueError:
        return None


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _int(value, default: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return int(number) if math.isfinite(number) else default


def _json_map(value) -> dict[str, str]:
    if not value or not isinstance(value, str):
        return {}
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):  # a value cut by an older version on the way in
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v if isinstance(v, str) else _to_json(v) for k, v in parsed.items()}


__all__ = ["AlertRecord", "EpisodeRecord", "fit_row", "fit_value", "fit_json", "row_id", "episode_id", "diff",
           "MAX_STORABLE"]
