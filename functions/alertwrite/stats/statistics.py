"""Statistics over alert episodes: counts, MTTA, MTTR, noisy and flapping alerts, time series.

Pure: typed `Episode` records in, plain dicts out (the CLI prints them, GET /stats returns them).

Definitions (PagerDuty Analytics, `mean_seconds_to_first_ack` / `mean_seconds_to_resolve`):
- An episode belongs to the window its start falls in ([since, until)); its ack and resolve
  count whenever they happened, so a window's figures settle once its episodes close.
- TTA = first ack - episode start, over episodes that were acked. Silencing is not an ack.
- TTR = resolve - episode start, wall clock: silenced time stays inside it (PagerDuty's clock
  does not stop for a snooze either) and is reported beside it as `silencedSeconds`.
- Janitor resolves and superseded episodes (closed by the next start because the resolve never
  came) are left out of TTR: their resolve time is when we gave up waiting, not when the
  problem ended. They are counted as `janitorResolved` and `superseded`.
- Mean, median (middle value, or the mean of the two middle values) and p90 (nearest rank:
  the smallest value at least 90% of the values are <=), each beside n.
- A page is an episode whose severity is in `page_severities`. A never-acked page was resolved
  (by anyone) without an ack and was never silenced: a silence is a response too (OnCall counts
  it as one), so it is not "nobody answered".
- Flapping: at least `flap_refires` re-fires within `flap_window`, i.e. flap_refires + 1 episode
  starts of one alert series inside some span of that length.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..timeutil import format_ms, parse_rfc3339

JANITOR = "janitor"
SUPERSEDED = "superseded"
NONE = "(none)"
DIMENSIONS = ("alertname", "severity", "tenant", "receiver", "instance")
DEFAULT_PAGE_SEVERITIES = ("critical",)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class StatsInputError(ValueError):
    """Bad window, dimension or option: the caller answers 400 / a usage error."""


@dataclass(slots=True)
class Episode:
    """One firing episode. tta, ttr and resolved are worked out once, at construction: a report
    over 100,000 episodes reads each of them several times."""
    fingerprint: str
    started: datetime
    status: str = "firing"  # firing | resolved | superseded
    alertname: str = ""
    severity: str = ""
    instance: str = ""
    receiver: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    resolved_at: datetime | None = None
    resolved_by: str = ""  # alertmanager | janitor | superseded | an operator's name
    first_ack_at: datetime | None = None
    acked_by: str = ""
    silenced_seconds: float = 0.0
    resolved: bool = field(init=False)
    closed_by_timeout: bool = field(init=False)
    tta: float | None = field(init=False)  # first ack - start
    ttr: float | None = field(init=False)  # resolve - start, None for janitor and superseded closes
    # Set by compute() for its options, once per episode rather than once per figure.
    page: bool = field(init=False, default=False)
    never_acked: bool = field(init=False, default=False)

    def __post_init__(self):
        self.resolved = self.resolved_at is not None and self.status != "firing"
        self.closed_by_timeout = self.resolved_by in (JANITOR, SUPERSEDED) or self.status == SUPERSEDED
        self.tta = None if self.first_ack_at is None else \
            max((self.first_ack_at - self.started).total_seconds(), 0.0)
        self.ttr = None if not self.resolved or self.closed_by_timeout else \
            max((self.resolved_at - self.started).total_seconds(), 0.0)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def to_dict(self) -> dict:
        return {"since": format_ms(self.since), "until": format_ms(self.until)}


@dataclass(frozen=True)
class Options:
    by: str | None = None  # alertname | severity | tenant | receiver | instance | label:NAME
    top: int = 10
    flap_refires: int = 3
    flap_window: timedelta = timedelta(hours=1)
    page_severities: tuple[str, ...] = DEFAULT_PAGE_SEVERITIES
    tenant_label: str = "tenant"
    bucket: str | None = None  # day | hour; None picks hour for windows up to 2 days
    tz: str = "UTC"


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text or "")
    if not m:
        raise StatsInputError(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d, 2w)")
    seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    if seconds <= 0:
        raise StatsInputError(f"duration must be positive: {text!r}")
    return timedelta(seconds=seconds)


def parse_moment(text: str, tz: str = "UTC") -> datetime:
    """RFC 3339, or a bare date (YYYY-MM-DD: midnight in `tz`)."""
    text = (text or "").strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), zone(tz)).astimezone(timezone.utc)
        return parse_rfc3339(text)
    except ValueError:
        raise StatsInputError(f"not a time: {text[:40]!r} (use 2026-12-01 or 2026-12-01T08:00:00Z)") from None


def parse_window(now: datetime, since: str | None = None, from_: str | None = None,
                 until: str | None = None, tz: str = "UTC", default: str = "7d") -> Window:
    """`--since 7d` (back from --until, or now), or `--from ... [--until ...]`; not both."""
    if since and from_:
        raise StatsInputError("give --since or --from, not both")
    zone(tz)
    end = parse_moment(until, tz) if until else now
    start = parse_moment(from_, tz) if from_ else end - parse_duration(since or default)
    if start >= end:
        raise StatsInputError(f"the window is empty: {format_ms(start)} is not before {format_ms(end)}")
    return Window(start, end)


def zone(name: str):
    try:
        return timezone.utc if name in ("UTC", "Z", "") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise StatsInputError(f"unknown time zone: {name!r} (use an IANA name like Europe/Berlin)") from None


def check_dimension(by: str | None) -> None:
    if by is None or by in DIMENSIONS or (by.startswith("label:") and len(by) > 6):
        return
    raise StatsInputError(f"cannot group by {by!r}: use one of {', '.join(DIMENSIONS)} or label:NAME")


def dimension_value(ep: Episode, by: str, tenant_label: str = "tenant") -> str:
    if by == "tenant":
        value = ep.labels.get(tenant_label, "")
    elif by.startswith("label:"):
        value = ep.labels.get(by[6:], "")
    else:
        value = getattr(ep, by) or ep.labels.get(by, "")
    return value or NONE


# --- summary figures --------------------------------------------------------------------------

def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest rank: an observed value, so p90 of [1, 2, ..., 10] is 9."""
    if not values:
        return None
    s = sorted(values)
    return s[max(math.ceil(p / 100 * len(s)), 1) - 1]


def summary(values: Sequence[float]) -> dict:
    return {"n": len(values), "mean": _round(mean(values)), "median": _round(median(values)),
            "p90": _round(percentile(values, 90))}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def mark(episodes: Sequence[Episode], options: Options) -> None:
    pages = {s.lower() for s in options.page_severities}
    every = "*" in pages
    for ep in episodes:
        ep.page = every or ep.severity.lower() in pages
        ep.never_acked = ep.page and ep.resolved and ep.first_ack_at is None and ep.silenced_seconds <= 0


def figures(episodes: Sequence[Episode], options: Options) -> dict:
    ttas, ttrs = [], []
    open_ = janitor = superseded = pages = never = 0
    silenced = 0.0
    for e in episodes:  # one pass: this runs once per group over up to 100,000 episodes
        if e.tta is not None:
            ttas.append(e.tta)
        if e.ttr is not None:
            ttrs.append(e.ttr)
        if not e.resolved:
            open_ += 1
        elif e.resolved_by == JANITOR:
            janitor += 1
        if e.status == SUPERSEDED or e.resolved_by == SUPERSEDED:
            superseded += 1
        pages += e.page
        never += e.never_acked
        silenced += e.silenced_seconds
    return {
        "episodes": len(episodes),
        "alerts": len({e.fingerprint for e in episodes}),
        "open": open_,
        "resolved": len(episodes) - open_,
        "acked": len(ttas),
        "janitorResolved": janitor,
        "superseded": superseded,
        "pages": pages,
        "neverAckedPages": never,
        "silencedSeconds": round(silenced, 3),
        "mtta": summary(ttas),
        "mttr": summary(ttrs),
    }


# --- the report -------------------------------------------------------------------------------

def compute(episodes: Iterable[Episode], window: Window, options: Options = Options()) -> dict:
    check_dimension(options.by)
    if options.top < 1:
        raise StatsInputError("--top must be at least 1")
    if options.flap_refires < 1 or options.flap_window <= timedelta(0):
        raise StatsInputError("flapping needs at least 1 re-fire within a positive window")
    # Stable on the store's order (by start already), so ties keep one order on every backend.
    inside = sorted((e for e in episodes if window.since <= e.started < window.until), key=_start)
    mark(inside, options)
    by_series = list(_series_of(inside).values())
    report = {
        "window": window.to_dict(),
        "definitions": {"pageSeverities": list(options.page_severities),
                        "flapping": {"refires": options.flap_refires,
                                     "windowSeconds": options.flap_window.total_seconds()}},
        "overall": figures(inside, options),
        "by": options.by,
        "groups": groups(inside, options) if options.by else [],
        "noisy": noisy(by_series, options.top),
        "flapping": flapping(by_series, options.flap_refires, options.flap_window)[:options.top],
        "neverAcked": never_acked(by_series)[:options.top],
        "series": series(inside, window, options),
    }
    return report


def _start(ep: Episode) -> datetime:
    return ep.started


def groups(episodes: Sequence[Episode], options: Options) -> list[dict]:
    by_value: dict[str, list[Episode]] = defaultdict(list)
    for ep in episodes:
        by_value[dimension_value(ep, options.by, options.tenant_label)].append(ep)
    rows = [{"key": key, **figures(eps, options)} for key, eps in by_value.items()]
    return sorted(rows, key=lambda r: (-r["episodes"], r["key"]))


def _series_of(episodes: Sequence[Episode]) -> dict[str, list[Episode]]:
    out: dict[str, list[Episode]] = defaultdict(list)
    for ep in episodes:
        out[ep.fingerprint].append(ep)
    return out


def _describe(eps: Sequence[Episode]) -> dict:
    last = eps[-1]
    return {"fingerprint": last.fingerprint, "alertname": last.alertname, "severity": last.severity,
            "instance": last.instance}


def noisy(by_series: Sequence[Sequence[Episode]], top: int) -> list[dict]:
    """The alert series with the most episodes; ties by alertname, then fingerprint."""
    rows = []
    for eps in by_series:
        ttrs = [t for t in (e.ttr for e in eps) if t is not None]
        rows.append({**_describe(eps), "episodes": len(eps), "acked": sum(1 for e in eps if e.tta is not None),
                     "mttrMean": _round(mean(ttrs))})
    rows.sort(key=lambda r: (-r["episodes"], r["alertname"], r["fingerprint"]))
    return rows[:top]


def max_starts_within(starts: Sequence[datetime], span: timedelta) -> int:
    """The most starts inside any closed span of the given length (two pointers over sorted starts)."""
    best, lo = 0, 0
    for hi, start in enumerate(starts):
        while start - starts[lo] > span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def flapping(by_series: Sequence[Sequence[Episode]], refires: int, span: timedelta) -> list[dict]:
    rows = []
    for eps in by_series:
        starts = sorted(e.started for e in eps)
        most = max_starts_within(starts, span)
        if most >= refires + 1:
            rows.append({**_describe(eps), "episodes": len(eps), "maxRefiresInWindow": most - 1,
                         "first": format_ms(starts[0]), "last": format_ms(starts[-1])})
    rows.sort(key=lambda r: (-r["maxRefiresInWindow"], -r["episodes"], r["alertname"], r["fingerprint"]))
    return rows


def never_acked(by_series: Sequence[Sequence[Episode]]) -> list[dict]:
    rows = []
    for eps in by_series:
        missed = [e for e in eps if e.never_acked]
        if missed:
            rows.append({**_describe(eps), "neverAcked": len(missed), "pages": sum(1 for e in eps if e.page),
                         "last": format_ms(max(e.started for e in missed))})
    rows.sort(key=lambda r: (-r["neverAcked"], r["alertname"], r["fingerprint"]))
    return rows


def bucket_starts(window: Window, bucket: str, tz: str) -> list[datetime]:
    """Bucket boundaries in UTC: local midnights for days (so a DST day is 23 or 25 hours),
    whole hours for hours; the first bucket holds `since`."""
    where = zone(tz)
    if bucket == "day":
        day = window.since.astimezone(where).date()
        out = []
        while True:
            start = datetime.combine(day, time(0), where).astimezone(timezone.utc)
            if start >= window.until:
                return out
            out.append(start)
            day += timedelta(days=1)
    if bucket != "hour":
        raise StatsInputError(f"bucket must be day or hour, not {bucket!r}")
    local = window.since.astimezone(where)
    first = local.replace(minute=0, second=0, microsecond=0).astimezone(timezone.utc)
    # Hours step in absolute time: a local hour repeated or skipped by DST is still one hour.
    count = math.ceil((window.until - first).total_seconds() / 3600)
    return [first + timedelta(hours=i) for i in range(count)]


def series(episodes: Sequence[Episode], window: Window, options: Options) -> dict:
    bucket = options.bucket or ("hour" if window.until - window.since <= timedelta(days=2) else "day")
    starts = bucket_starts(window, bucket, options.tz)
    filled: list[list[Episode]] = [[] for _ in starts]
    i = 0
    for ep in episodes:  # sorted by start
        while i + 1 < len(starts) and ep.started >= starts[i + 1]:
            i += 1
        filled[i].append(ep)
    where = zone(options.tz)
    points = []
    for start, eps in zip(starts, filled):
        ttas = [t for t in (e.tta for e in eps) if t is not None]
        ttrs = [t for t in (e.ttr for e in eps) if t is not None]
        points.append({"start": start.astimezone(where).isoformat(), "episodes": len(eps), "acked": len(ttas),
                       "resolved": sum(1 for e in eps if e.resolved),
                       "mttaMean": _round(mean(ttas)), "mttrMean": _round(mean(ttrs))})
    return {"bucket": bucket, "tz": options.tz, "points": points}
