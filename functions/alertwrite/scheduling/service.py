"""On-call operations written once for the CLI, alert-api and the console."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from ..timeutil import format_ms
from . import heartbeats, ical
from .escalation_job import OVERRIDES, SCHEDULES, load_schedules
from .oncall import Schedule, ScheduleError, gaps, next_shifts, on_call, parse_instant, parse_schedule, shifts
from .policies import POLICIES_TABLE, load_people, load_policies, parse_policy

CHECK_WEEKS = 4


class NotFound(LookupError):
    pass


def schedule(rows, schema, name: str, now: datetime | None = None) -> Schedule:
    found = load_schedules(rows, schema, now)
    if name not in found:
        raise NotFound(f"no schedule {name!r}; known: {', '.join(sorted(found)) or 'none'}")
    return found[name]


def now_answer(rows, schema, now: datetime, name: str | None = None, count: int = 3) -> list[dict]:
    found = load_schedules(rows, schema, now)
    if name and name not in found:
        raise NotFound(f"no schedule {name!r}; known: {', '.join(sorted(found)) or 'none'}")
    return [{"id": s.name, "name": s.name, "now": on_call(s, now),
             "next": [{"user": x.user, "start": x.to_dict()["start"], "end": x.to_dict()["end"]}
                      for x in next_shifts(s, now, count)]}
            for s in (found[n] for n in sorted(found) if not name or n == name)]


def show(rows, schema, name: str, now: datetime, days: int) -> dict:
    s = schedule(rows, schema, name, now)
    end = now + timedelta(days=days)
    return {"schedule": name, "timezone": str(s.tz), "from": format_ms(now), "until": format_ms(end),
            "shifts": [x.to_dict() for x in shifts(s, now, end)],
            "gaps": [{"start": format_ms(a), "end": format_ms(b)} for a, b in gaps(s, now, end)]}


def add_override(rows, schema, name: str, user: str, start: str, end: str, created_by: str, now: datetime) -> dict:
    s = schedule(rows, schema, name, now)
    a, b = parse_instant(start, s.tz, "from"), parse_instant(end, s.tz, "until")
    if b <= a:
        raise ScheduleError("until", "must be after --from")
    if b <= now:
        raise ScheduleError("until", "is in the past")
    # Deterministic: the same override submitted twice is one row.
    row_id = "o" + hashlib.sha256(f"{name}|{user}|{format_ms(a)}|{format_ms(b)}".encode()).hexdigest()[:32]
    row = {"$id": row_id, "schedule": name, "user": user, "start": format_ms(a), "end": format_ms(b),
           "createdBy": created_by}
    rows.create(OVERRIDES, [row])
    return {"id": row_id, "schedule": name, "user": user, "start": row["start"], "end": row["end"]}


def export_ical(rows, schema, name: str, now: datetime, days: int = 56) -> str:
    s = schedule(rows, schema, name, now)
    return ical.export(s, now - timedelta(days=7), now + timedelta(days=days), now)


def put_schedule(rows, name: str, spec: dict) -> None:
    parse_schedule(name, spec)  # refuse what the resolver could not use
    text = json.dumps(spec, sort_keys=True)
    if not rows.create(SCHEDULES, [{"$id": name, "name": name, "spec": text}]):
        rows.update(SCHEDULES, name, {"spec": text})


def put_policy(rows, name: str, spec: dict, position: int = 0) -> None:
    parse_policy(name, spec, position)
    text = json.dumps(spec, sort_keys=True)
    if not rows.create(POLICIES_TABLE, [{"$id": name, "name": name, "spec": text, "position": position}]):
        rows.update(POLICIES_TABLE, name, {"spec": text, "position": position})


def policies_answer(rows, schema) -> list[dict]:
    return [{"name": p.name, "match": p.matcher.match, "match_re": p.matcher.match_re, "repeat": p.repeat,
             "ack_timeout_minutes": None if p.ack_timeout is None else p.ack_timeout.total_seconds() / 60,
             "steps": [{"after_minutes": s.after.total_seconds() / 60, "notify": [str(t) for t in s.notify],
                        "media": list(s.media), "important": s.important,
                        "on_empty": f"fallback:{s.fallback}" if s.on_empty == "fallback" else s.on_empty}
                       for s in p.steps]}
            for p in load_policies(schema, rows)]


def heartbeats_answer(rows, schema, now: datetime) -> list[dict]:
    return [{"name": st.name, "state": st.state, "lastPingAt": format_ms(st.last_ping),
             "armedAt": format_ms(st.armed_at), "deadline": format_ms(st.deadline)}
            for st in heartbeats.statuses(rows, schema, now)]


def check(rows, schema, now: datetime, targets_of=None, weeks: int = CHECK_WEEKS) -> dict:
    """Coverage problems: schedule gaps in the next `weeks`, and users a policy may page through
    a medium they have no verified target for (`targets_of(user) -> set of media`, or None when
    the store has no Appwrite users to ask)."""
    end = now + timedelta(weeks=weeks)
    found = load_schedules(rows, schema, now)
    problems: list[dict] = []
    for name, s in sorted(found.items()):
        for a, b in gaps(s, now, end):
            problems.append({"kind": "gap", "schedule": name, "start": format_ms(a), "end": format_ms(b),
                             "detail": f"nobody on call in {name} from {format_ms(a)} to {format_ms(b)}"})
    people = load_people(schema, rows)
    needs: dict[str, set[str]] = {}
    for policy in load_policies(schema, rows):
        for step in policy.steps:
            for target in step.notify + ((step.fallback,) if step.fallback else ()):
                if target.kind == "oncall" and target.name not in found:
                    problems.append({"kind": "schedule", "schedule": target.name,
                                     "detail": f"policy {policy.name} pages oncall:{target.name}, which is not declared"})
                users = set()
                if target.kind == "user":
                    users = {target.name}
                elif target.kind == "oncall" and target.name in found:
                    users = {x.user for x in shifts(found[target.name], now, end)}
                for u in users:
                    person = people.get(u)
                    media = {r.medium for r in person.chain(step.important)} if person else set(step.media)
                    needs.setdefault(u, set()).update(media)
    skipped = targets_of is None
    if not skipped:
        for user, media in sorted(needs.items()):
            have = targets_of(user)
            for medium in sorted(media - have):
                problems.append({"kind": "target", "user": user, "medium": medium,
                                 "detail": f"{user} has no verified {medium} target, and a policy pages them by {medium}"})
    return {"problems": problems, "checkedUsers": sorted(needs), "targetsChecked": not skipped,
            "from": format_ms(now), "until": format_ms(end)}


def appwrite_targets(client):
    """targets_of for an Appwrite project: the media of a user's targets that have not expired."""
    from appwrite.services.users import Users

    users = Users(client)

    def targets_of(user: str) -> set[str]:
        try:
            listed = users.list_targets(user)
        except Exception as exc:  # an unknown user has no targets; every other fault is the caller's
            from appwrite.exception import AppwriteException

            if isinstance(exc, AppwriteException) and exc.code == 404:
                return set()
            raise
        out = set()
        for t in listed.targets:
            kind = getattr(t, "provider_type", None) or getattr(t, "providertype", None)
            if kind and not getattr(t, "expired", False):
                out.add(kind)
        return out
    return targets_of
