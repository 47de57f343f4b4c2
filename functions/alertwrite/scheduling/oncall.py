"""The one resolver: who is on call in a schedule at an instant, and the final schedule over a range.

Model (PagerDuty's, [PDS `ScheduleLayer`, `Restriction`, `Override`]):
- a layer has ordered users, a rotation virtual start (may lie before the schedule existed), a turn
  length, a hand-off time, an IANA time zone and optional daily/weekly restrictions;
- a later layer in the list wins where layers overlap ("the bottom layer will always take
  precedence", support.pagerduty.com/docs/escalation-policy-vs-schedule);
- an override wins exactly within [start, end); of overlapping overrides the later one wins.

Hand-offs are wall-clock times in the layer's zone: the k-th hand-off is `virtual start + k * turn`
as local time, so a daily 09:00 hand-off stays at 09:00 across DST (OnCall#3261, OneUptime#1890 are
the bugs this avoids) and the shift that contains a change is an hour shorter or longer.
A wall time that does not exist (spring forward) is read with the offset before the gap, and an
ambiguous one (fall back) as its first occurrence: RFC 5545 §3.3.5's rule for DATE-TIME.

Every answer, including `shifts` and `gaps`, is computed by `on_call` over the instants where
something can change, so the "next on-call" list can never disagree with paging (OnCall#4755).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_TURN = timedelta(hours=1)
MAX_TURN = timedelta(days=366)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ScheduleError(ValueError):
    """`path` names the offending key, e.g. schedules.primary.layers[0].turn."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass(frozen=True)
class Restriction:
    """A window in local time: every day (`day` None) or weekly from ISO weekday `day` (1 = Monday)."""
    start: time
    duration: timedelta
    day: int | None = None


@dataclass(frozen=True)
class Layer:
    name: str
    users: tuple[str, ...]
    virtual_start: datetime  # naive: wall time in `tz`
    turn: timedelta
    tz: ZoneInfo
    restrictions: tuple[Restriction, ...] = ()
    start: datetime | None = None  # aware; the layer is active in [start, end)
    end: datetime | None = None


@dataclass(frozen=True)
class Override:
    user: str
    start: datetime  # aware
    end: datetime
    id: str = ""


@dataclass(frozen=True)
class Schedule:
    name: str
    tz: ZoneInfo
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()

    def with_overrides(self, overrides) -> "Schedule":
        return Schedule(self.name, self.tz, self.layers, tuple(self.overrides) + tuple(overrides))


@dataclass(frozen=True)
class Shift:
    user: str
    start: datetime
    end: datetime
    source: str  # the layer's name, or "override"

    def to_dict(self) -> dict:
        return {"user": self.user, "start": _iso(self.start), "end": _iso(self.end), "source": self.source}


# ---------------------------------------------------------------- resolving


def local_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def handoff(layer: Layer, k: int) -> datetime:
    """The instant the k-th turn starts (k may be negative: turns before the virtual start)."""
    return local_to_utc(layer.virtual_start + k * layer.turn, layer.tz)


def turn_at(layer: Layer, at: datetime) -> int:
    """The largest k whose hand-off is at or before `at`: one k per instant, so one user."""
    wall = at.astimezone(layer.tz).replace(tzinfo=None)
    k = (wall - layer.virtual_start) // layer.turn
    # The wall-clock estimate is off by at most a turn or two around an offset change.
    while handoff(layer, k) > at:
        k -= 1
    while handoff(layer, k + 1) <= at or handoff(layer, k + 2) <= at:
        k += 1
    return k


def _windows(layer: Layer, around: datetime) -> list[tuple[datetime, datetime]]:
    """Restriction windows (UTC) that may contain `around`: those starting on the 8 local days before it."""
    today = around.astimezone(layer.tz).date()
    out = []
    for back in range(-1, 9):
        day = today - timedelta(days=back)
        for r in layer.restrictions:
            if r.day is not None and day.isoweekday() != r.day:
                continue
            wall = datetime.combine(day, r.start)
            out.append((local_to_utc(wall, layer.tz), local_to_utc(wall + r.duration, layer.tz)))
    return out


def layer_user(layer: Layer, at: datetime) -> str | None:
    if not layer.users:
        return None
    if (layer.start and at < layer.start) or (layer.end and at >= layer.end):
        return None
    if layer.restrictions and not any(s <= at < e for s, e in _windows(layer, at)):
        return None
    return layer.users[turn_at(layer, at) % len(layer.users)]


def _active_override(schedule: Schedule, at: datetime) -> Override | None:
    winner = None
    for o in schedule.overrides:  # later overrides win
        if o.start <= at < o.end:
            winner = o
    return winner


def resolve(schedule: Schedule, at: datetime) -> tuple[str | None, str]:
    """(user or None, source) at `at`."""
    at = _aware(at)
    override = _active_override(schedule, at)
    if override:
        return override.user, "override"
    for layer in reversed(schedule.layers):
        user = layer_user(layer, at)
        if user is not None:
            return user, layer.name
    return None, ""


def on_call(schedule: Schedule, at: datetime) -> list[str]:
    user, _ = resolve(schedule, at)
    return [user] if user else []


def _boundaries(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Every instant in (start, end) where the answer of `resolve` can change."""
    points: set[datetime] = set()
    for layer in schedule.layers:
        for edge in (layer.start, layer.end):
            if edge:
                points.add(edge)
        k = turn_at(layer, start)
        while True:
            k += 1
            h = handoff(layer, k)
            if h >= end:
                break
            points.add(h)
        if layer.restrictions:
            day, last = start.astimezone(layer.tz).date() - timedelta(days=8), end.astimezone(layer.tz).date()
            while day <= last:
                for r in layer.restrictions:
                    if r.day is None or day.isoweekday() == r.day:
                        wall = datetime.combine(day, r.start)
                        points.add(local_to_utc(wall, layer.tz))
                        points.add(local_to_utc(wall + r.duration, layer.tz))
                day += timedelta(days=1)
    for o in schedule.overrides:
        points.update((o.start, o.end))
    return sorted(p for p in points if start < p < end)


def _segments(schedule: Schedule, start: datetime, end: datetime):
    start, end = _aware(start), _aware(end)
    edges = [start, *_boundaries(schedule, start, end), end]
    merged: list[list] = []
    for a, b in zip(edges, edges[1:]):
        user, source = resolve(schedule, a)
        if merged and merged[-1][0] == user and merged[-1][3] == source:
            merged[-1][2] = b
        else:
            merged.append([user, a, b, source])
    return merged


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final schedule in [start, end): overrides applied, consecutive equal turns merged."""
    out: list[Shift] = []
    for user, a, b, source in _segments(schedule, start, end):
        if user is None:
            continue
        if out and out[-1].user == user and out[-1].end == a:
            out[-1] = Shift(user, out[-1].start, b, out[-1].source)
        else:
            out.append(Shift(user, a, b, source))
    return out


def gaps(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for user, a, b, _ in _segments(schedule, start, end):
        if user is not None:
            continue
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def next_shifts(schedule: Schedule, at: datetime, count: int = 3, horizon_days: int = 62) -> list[Shift]:
    """The current shift and the ones after it (the "next on-call" answer)."""
    return shifts(schedule, _aware(at), _aware(at) + timedelta(days=horizon_days))[:count]


# ---------------------------------------------------------------- parsing at the edge


def parse_duration(value: object, path: str) -> timedelta:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    m = _DURATION.match(str(value))
    if not m:
        raise ScheduleError(path, f"{value!r} is not a duration like 30m, 12h, 1d or 1w")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def parse_zone(value: object, path: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(path, f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from None


def parse_instant(value: object, tz: ZoneInfo, path: str) -> datetime:
    """ISO 8601; without an offset it is wall time in `tz`."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ScheduleError(path, f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        return local_to_utc(parsed, tz)
    return parsed.astimezone(timezone.utc)


def _time_of_day(value: object, path: str) -> time:
    try:
        return time.fromisoformat(str(value)) if not isinstance(value, time) else value
    except ValueError:
        raise ScheduleError(path, f"{value!r} is not a time of day like 09:00") from None


_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


def _restriction(spec: object, path: str) -> Restriction:
    if not isinstance(spec, dict):
        raise ScheduleError(path, "expected a mapping like {start: '09:00', duration: 8h, day: mon}")
    start = _time_of_day(spec.get("start", "00:00"), f"{path}.start")
    duration = parse_duration(spec.get("duration"), f"{path}.duration")
    day = spec.get("day")
    if day is not None:
        day = _DAYS.get(str(day).lower()[:3]) if not isinstance(day, int) else day
        if day not in range(1, 8):
            raise ScheduleError(f"{path}.day", "a weekday: mon..sun or 1..7 (1 = Monday)")
    limit = timedelta(days=7 if day else 1)
    if not timedelta(minutes=1) <= duration <= limit:
        raise ScheduleError(f"{path}.duration", f"from 1m to {'7d' if day else '1d'}")
    return Restriction(start, duration, day)


def parse_layer(spec: object, index: int, default_tz: ZoneInfo, path: str) -> Layer:
    if not isinstance(spec, dict):
        raise ScheduleError(path, "expected a mapping")
    tz = parse_zone(spec["timezone"], f"{path}.timezone") if spec.get("timezone") else default_tz
    users = spec.get("users")
    if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
        raise ScheduleError(f"{path}.users", "a non-empty list of user IDs, in rotation order")
    turn = parse_duration(spec.get("turn", "1w"), f"{path}.turn")
    if not MIN_TURN <= turn <= MAX_TURN:
        raise ScheduleError(f"{path}.turn", "from 1h to 366d")
    raw_start = spec.get("rotation_start")
    if raw_start is None:
        raise ScheduleError(f"{path}.rotation_start", "required: when the first user's turn starts (may be in the past)")
    virtual = _wall(raw_start, tz, f"{path}.rotation_start")
    if spec.get("handoff") is not None:
        virtual = datetime.combine(virtual.date(), _time_of_day(spec["handoff"], f"{path}.handoff"))
    restrictions = tuple(_restriction(r, f"{path}.restrictions[{i}]")
                         for i, r in enumerate(spec.get("restrictions") or []))
    start = parse_instant(spec["start"], tz, f"{path}.start") if spec.get("start") else None
    end = parse_instant(spec["end"], tz, f"{path}.end") if spec.get("end") else None
    return Layer(str(spec.get("name") or f"layer-{index + 1}"), tuple(users), virtual, turn, tz,
                 restrictions, start, end)


def _wall(value: object, tz: ZoneInfo, path: str) -> datetime:
    """A rotation start as naive wall time in `tz` (an explicit offset is converted first)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(path, f"{value!r} is not an ISO 8601 date or date-time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(tz).replace(tzinfo=None)
    return parsed


def parse_schedule(name: str, spec: object, path: str = "") -> Schedule:
    path = path or f"schedules.{name}"
    if not isinstance(spec, dict):
        raise ScheduleError(path, "expected a mapping with timezone and layers")
    tz = parse_zone(spec.get("timezone", "UTC"), f"{path}.timezone")
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ScheduleError(f"{path}.layers", "declare at least one layer")
    parsed = tuple(parse_layer(s, i, tz, f"{path}.layers[{i}]") for i, s in enumerate(layers))
    overrides = tuple(parse_override(o, tz, f"{path}.overrides[{i}]")
                      for i, o in enumerate(spec.get("overrides") or []))
    return Schedule(name, tz, parsed, overrides)


def parse_override(spec: object, tz: ZoneInfo, path: str, override_id: str = "") -> Override:
    if not isinstance(spec, dict) or not spec.get("user"):
        raise ScheduleError(path, "an override needs user, start and end")
    start = parse_instant(spec.get("start"), tz, f"{path}.start")
    end = parse_instant(spec.get("end"), tz, f"{path}.end")
    if end <= start:
        raise ScheduleError(f"{path}.end", "must be after start")
    return Override(str(spec["user"]), start, end, override_id or str(spec.get("id") or ""))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("the resolver takes aware datetimes only")
    return value.astimezone(timezone.utc)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
