"""Escalation policies and personal notification rules, parsed at the edge into typed objects.

Sources, merged by name (a table row wins over the declaration, so runtime edits need no redeploy):
- schemas/escalation.yaml `policies:` / `people:` (synced into the tables by `alertwrite apply`);
- the `policies` / `people` tables, each row `{name, spec: JSON, position}`.

Limits follow the peers: a step waits >= 1 minute after the previous one (the first may be 0;
PagerDuty's and OnCall's API minimum is 60 s), at most 86400 s (OnCall), `repeat` <= 9
(PagerDuty's UI maximum for num_loops), PagerDuty's 30-minute default acknowledgement timeout.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from .oncall import ScheduleError, parse_duration as _parse_duration

MEDIA = ("email", "sms", "push")
TARGET_KINDS = ("oncall", "user", "topic", "channel")
ON_EMPTY = ("skip", "wait", "fallback")
DEFAULT_ACK_TIMEOUT = timedelta(minutes=30)  # PagerDuty acknowledgement_timeout default 1800 s
DEFAULT_REPEAT_AFTER = timedelta(minutes=5)
DEFAULT_MEDIA = ("push", "email")
MAX_REPEAT = 9
MIN_AFTER, MAX_AFTER = timedelta(minutes=1), timedelta(days=1)
POLICIES_TABLE, PEOPLE_TABLE = "policies", "people"


class PolicyError(ScheduleError):
    """`path` names the offending key, e.g. policies.default.steps[1].after."""


def parse_duration(value, path: str) -> timedelta:
    try:
        return _parse_duration(value, path)
    except ScheduleError as err:
        raise PolicyError(err.path, str(err).split(": ", 1)[1]) from None


@dataclass(frozen=True)
class Target:
    kind: str  # oncall | user | topic | channel
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Matcher:
    """A channel-style label filter: every `match` label equals one of its values, every
    `match_re` label fully matches its regex. Empty matches everything."""
    match: dict = field(default_factory=dict)
    match_re: dict = field(default_factory=dict)

    def matches(self, labels: dict) -> bool:
        return (all(labels.get(k, "") in v for k, v in self.match.items())
                and all(re.fullmatch(p, labels.get(k, "")) for k, p in self.match_re.items()))


@dataclass(frozen=True)
class Step:
    after: timedelta
    notify: tuple[Target, ...]
    media: tuple[str, ...] = DEFAULT_MEDIA
    important: bool = False
    on_empty: str = "skip"
    fallback: Target | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    matcher: Matcher
    steps: tuple[Step, ...]
    repeat: int = 0
    repeat_after: timedelta = DEFAULT_REPEAT_AFTER
    ack_timeout: timedelta | None = DEFAULT_ACK_TIMEOUT
    position: int = 0


@dataclass(frozen=True)
class Rule:
    medium: str
    after: timedelta  # wait after the previous rule of the chain


@dataclass(frozen=True)
class Person:
    name: str
    default: tuple[Rule, ...]
    important: tuple[Rule, ...] = ()

    def chain(self, important: bool) -> tuple[Rule, ...]:
        return (self.important or self.default) if important else self.default


# ---------------------------------------------------------------- parsing


def _duration(value, path: str, low: timedelta, high: timedelta) -> timedelta:
    d = parse_duration(value, path) if value not in (None, "") else timedelta(0)
    if not (d == timedelta(0) and low == timedelta(0)) and not low <= d <= high:
        raise PolicyError(path, f"from {_fmt(low)} to {_fmt(high)}")
    return d


def _fmt(d: timedelta) -> str:
    return f"{int(d.total_seconds() // 60)}m" if d < timedelta(hours=1) else f"{d.total_seconds() / 3600:g}h"


def parse_target(value: object, path: str) -> Target:
    kind, sep, name = str(value).partition(":")
    if not sep or kind not in TARGET_KINDS or not name:
        raise PolicyError(path, f"{value!r}: write oncall:SCHEDULE, user:ID, topic:ID or channel:NAME")
    return Target(kind, name)


def _media(value, path: str, default=DEFAULT_MEDIA) -> tuple[str, ...]:
    if value is None:
        return default
    items = value if isinstance(value, list) else [value]
    bad = [m for m in items if m not in MEDIA]
    if not items or bad:
        raise PolicyError(path, f"choose from {', '.join(MEDIA)}")
    return tuple(items)


def parse_step(spec: object, index: int, path: str) -> Step:
    if not isinstance(spec, dict):
        raise PolicyError(path, "expected a mapping with after and notify")
    after = parse_duration(spec.get("after", 0), f"{path}.after")
    if index > 0 and not MIN_AFTER <= after <= MAX_AFTER:
        raise PolicyError(f"{path}.after", "from 1m to 1d after the previous step")
    if index == 0 and not timedelta(0) <= after <= MAX_AFTER:
        raise PolicyError(f"{path}.after", "from 0 to 1d")
    raw = spec.get("notify")
    raw = raw if isinstance(raw, list) else [raw] if raw else []
    if not raw or len(raw) > 10:
        raise PolicyError(f"{path}.notify", "1 to 10 targets")
    notify = tuple(parse_target(t, f"{path}.notify[{i}]") for i, t in enumerate(raw))
    on_empty, fallback = str(spec.get("on_empty", "skip")), None
    if on_empty.startswith("fallback:"):
        fallback = parse_target(on_empty[len("fallback:"):], f"{path}.on_empty")
        on_empty = "fallback"
    if on_empty not in ON_EMPTY:
        raise PolicyError(f"{path}.on_empty", "skip, wait or fallback:<target>")
    return Step(after, notify, _media(spec.get("media"), f"{path}.media"), bool(spec.get("important", False)),
                on_empty, fallback)


def parse_policy(name: str, spec: object, position: int = 0, path: str = "") -> Policy:
    path = path or f"policies.{name}"
    if not isinstance(spec, dict):
        raise PolicyError(path, "expected a mapping with steps")
    match = {}
    for key, value in (spec.get("match") or {}).items():
        match[str(key)] = tuple(str(v) for v in (value if isinstance(value, list) else [value]))
    match_re = {}
    for key, pattern in (spec.get("match_re") or {}).items():
        try:
            re.compile(str(pattern))
        except re.error as err:
            raise PolicyError(f"{path}.match_re.{key}", f"bad regular expression: {err}") from None
        match_re[str(key)] = str(pattern)
    steps = spec.get("steps")
    if not isinstance(steps, list) or not steps:
        raise PolicyError(f"{path}.steps", "declare at least one step")
    repeat = spec.get("repeat", 0)
    if not isinstance(repeat, int) or not 0 <= repeat <= MAX_REPEAT:
        raise PolicyError(f"{path}.repeat", f"a whole number from 0 to {MAX_REPEAT}")
    ack_timeout = spec.get("ack_timeout", "30m")
    timeout = None if ack_timeout in (0, "0", "off", None, False) else \
        _duration(ack_timeout, f"{path}.ack_timeout", MIN_AFTER, MAX_AFTER)
    return Policy(name, Matcher(match, match_re), tuple(parse_step(s, i, f"{path}.steps[{i}]") for i, s in enumerate(steps)),
                  repeat, _duration(spec.get("repeat_after", "5m"), f"{path}.repeat_after", MIN_AFTER, MAX_AFTER),
                  timeout, int(spec.get("position", position)))


def parse_person(name: str, spec: object, path: str = "") -> Person:
    path = path or f"people.{name}"
    if not isinstance(spec, dict):
        raise PolicyError(path, "expected a mapping with default (and important) rules")

    def chain(key: str) -> tuple[Rule, ...]:
        out = []
        for i, item in enumerate(spec.get(key) or []):
            where = f"{path}.{key}[{i}]"
            if isinstance(item, str):
                item = {"medium": item}
            if not isinstance(item, dict):
                raise PolicyError(where, "a medium, or {medium, after}")
            (medium,) = _media(item.get("medium"), f"{where}.medium", default=(None,))
            after = parse_duration(item.get("after", 0), f"{where}.after")
            if i and not MIN_AFTER <= after <= MAX_AFTER or not i and after:
                raise PolicyError(f"{where}.after", "the first rule runs at once; later ones 1m to 1d after the previous")
            out.append(Rule(medium, after))
        return tuple(out)

    default = chain("default")
    if not default:
        raise PolicyError(f"{path}.default", "at least one medium")
    return Person(name, default, chain("important"))


def _rows(rows, table: str) -> list[dict]:
    if rows is None:
        return []
    try:
        return list(rows.find_all(table))
    except KeyError:
        return []


def load_policies(schema, rows=None) -> list[Policy]:
    """Declared then table policies, table rows winning by name; ordered by position, then name."""
    specs = {name: (spec, i) for i, (name, spec) in enumerate((schema.section("policies") or {}).items())}
    for row in _rows(rows, POLICIES_TABLE):
        specs[row["name"]] = (json.loads(row.get("spec") or "{}"), row.get("position") or 0)
    out = [parse_policy(name, spec, pos) for name, (spec, pos) in specs.items()]
    return sorted(out, key=lambda p: (p.position, p.name))


def load_people(schema, rows=None) -> dict[str, Person]:
    specs = dict(schema.section("people") or {})
    for row in _rows(rows, PEOPLE_TABLE):
        specs[row["name"]] = json.loads(row.get("spec") or "{}")
    return {name: parse_person(name, spec) for name, spec in specs.items()}


def choose(policies: list[Policy], labels: dict) -> Policy | None:
    """The first policy (by position) whose matcher accepts the labels."""
    return next((p for p in policies if p.matcher.matches(labels)), None)


# ---------------------------------------------------------------- snapshots (copied onto an alert)


def snapshot(policy: Policy, people: dict[str, Person]) -> str:
    """JSON of the policy and every person's rules as they are now: an edit never changes a page in flight."""
    def td(d):
        return None if d is None else d.total_seconds()
    return json.dumps({
        "name": policy.name, "match": policy.matcher.match, "match_re": policy.matcher.match_re,
        "repeat": policy.repeat, "repeat_after": td(policy.repeat_after), "ack_timeout": td(policy.ack_timeout),
        "steps": [{"after": td(s.after), "notify": [str(t) for t in s.notify], "media": list(s.media),
                   "important": s.important,
                   "on_empty": f"fallback:{s.fallback}" if s.on_empty == "fallback" else s.on_empty}
                  for s in policy.steps],
        "people": {n: {"default": [asdict(r) | {"after": td(r.after)} for r in p.default],
                       "important": [asdict(r) | {"after": td(r.after)} for r in p.important]}
                   for n, p in sorted(people.items())},
    }, sort_keys=True)


def from_snapshot(text: str) -> tuple[Policy, dict[str, Person]]:
    doc = json.loads(text)
    spec = {**doc, "ack_timeout": doc["ack_timeout"] or 0}
    policy = parse_policy(doc["name"], spec)
    people = {n: parse_person(n, p) for n, p in doc.get("people", {}).items()}
    return policy, people
