"""Silences: label matchers between two times. A silenced alert is stored and visible but
notifies nobody; resolves and acks still pass (Keep's maintenance-window rule), so a resolve
closes things even during maintenance. When a silence ends, what still fires is announced once.

`alerts.silencedUntil` is the end of the silence that holds an alert; the scheduler job
`expire_due` ends due silences and clears that stamp with a compare-and-set, so exactly one run
announces each alert that is still firing.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

from ..timeutil import format_ms, parse_rfc3339
from .actor import SYSTEM, Actor, OpError
from .alertmanager import Alertmanager, AlertmanagerError
from .audit import entry, record

SILENCES = "silences"
ALERTS = "alerts"
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
MAX_SILENCE = timedelta(days=366)


def parse_matchers(value) -> list[dict]:
    """From the API ([{name, value, isRegex, isEqual}]) or the CLI ("job=~api.*", ...)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            m = _MATCHER.match(item)
            if not m:
                raise OpError(400, "invalid_matcher", f"{item[:60]!r}: use name=value, name!=value, name=~regex or name!~regex")
            name, op, raw = m.groups()
            item = {"name": name, "value": raw.strip('"'), "isRegex": "~" in op, "isEqual": not op.startswith("!")}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not isinstance(item.get("value"), str):
            raise OpError(400, "invalid_matcher", "each matcher needs a string name and value")
        matcher = {"name": item["name"], "value": item["value"], "isRegex": bool(item.get("isRegex", False)),
                   "isEqual": bool(item.get("isEqual", True))}
        if matcher["isRegex"]:
            try:
                re.compile(matcher["value"])
            except re.error as exc:
                raise OpError(400, "invalid_matcher", f"{matcher['name']}: bad regular expression: {exc}") from None
        out.append(matcher)
    if not out:
        raise OpError(400, "invalid_matcher", "give at least one matcher")
    # Alertmanager's rule: a silence must not match everything (silence.go validateSilence).
    if all(_matches_one(m, {}) for m in out):
        raise OpError(400, "invalid_matcher", "at least one matcher must not match an empty label")
    return out


def _matches_one(m: dict, labels: dict) -> bool:
    value = labels.get(m["name"], "")
    hit = re.fullmatch(m["value"], value) is not None if m["isRegex"] else value == m["value"]
    return hit if m["isEqual"] else not hit


def matches(matchers: list[dict], labels: dict) -> bool:
    return all(_matches_one(m, labels) for m in matchers)


def labels_of(alert_row: dict) -> dict:
    try:
        labels = json.loads(alert_row.get("labels") or "{}")
    except ValueError:
        labels = {}
    return labels if isinstance(labels, dict) else {}


def silence_json(row: dict, now: datetime) -> dict:
    ends = parse_rfc3339(row["endsAt"])
    starts = parse_rfc3339(row["startsAt"])
    state = "expired" if row.get("endedAt") or ends <= now else ("pending" if starts > now else "active")
    return {"id": row["$id"], "matchers": json.loads(row["matchers"]), "startsAt": row["startsAt"],
            "endsAt": row["endsAt"], "createdBy": row["createdBy"], "comment": row.get("comment") or "",
            "fingerprint": row.get("fingerprint") or None, "state": state, "endedAt": row.get("endedAt"),
            "alertmanagerId": row.get("alertmanagerId") or None, "alertmanagerError": row.get("alertmanagerError") or None}


def active(rows, now: datetime) -> list[dict]:
    stamp = format_ms(now)
    return [r for r in rows.find_all(SILENCES, [("endedAt", "is_null", None), ("endsAt", ">", stamp)])
            if r["startsAt"] <= stamp]


def holding_until(silences: list[dict], labels: dict) -> str | None:
    """The latest end among the active silences that match these labels."""
    ends = [s["endsAt"] for s in silences if matches(json.loads(s["matchers"]), labels)]
    return max(ends) if ends else None


def end_of(body_until, body_duration, now: datetime) -> datetime:
    if body_until:
        try:
            until = parse_rfc3339(str(body_until))
        except ValueError:
            raise OpError(400, "invalid_until", "until must be an RFC 3339 time with a zone") from None
    elif body_duration:
        until = now + parse_duration(str(body_duration))
    else:
        raise OpError(400, "missing_duration", "give duration (e.g. 2h) or until")
    if until <= now:
        raise OpError(400, "invalid_until", "the silence would end in the past")
    if until - now > MAX_SILENCE:
        raise OpError(400, "invalid_duration", "at most 366 days")
    return until


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise OpError(400, "invalid_duration", f"{text[:20]!r}: use e.g. 30m, 2h, 1d12h")
    d, h, mi, s = (int(x or 0) for x in m.groups())
    return timedelta(days=d, hours=h, minutes=mi, seconds=s)


def add(rows, ops, actor: Actor, matchers: list[dict], starts_at: datetime, ends_at: datetime, comment: str,
        now: datetime, fingerprint: str = "", log=lambda line: None, stamp: bool = True) -> dict:
    """Store the silence, mirror it into Alertmanager, stamp the alerts it holds now."""
    sid = "s" + hashlib.sha256(f"{json.dumps(matchers, sort_keys=True)}\n{format_ms(starts_at)}\n{format_ms(ends_at)}\n"
                               f"{actor.name}".encode()).hexdigest()[:30]
    row = {"$id": sid, "matchers": json.dumps(matchers, sort_keys=True), "startsAt": format_ms(starts_at),
           "endsAt": format_ms(ends_at), "createdBy": actor.name, "comment": comment or None,
           "fingerprint": fingerprint or None}
    if rows.create(SILENCES, [row]):
        am = Alertmanager.from_config(ops)
        if am:
            try:
                row["alertmanagerId"] = am.create(matchers, starts_at, ends_at, actor.name, comment)
                row["alertmanagerURL"] = am.base
            except AlertmanagerError as exc:
                row["alertmanagerError"] = str(exc)[:1000]
                log(f"silence {sid}: {exc}")
            rows.update(SILENCES, sid, {k: row.get(k) for k in ("alertmanagerId", "alertmanagerURL", "alertmanagerError")})
        record(rows, [entry(actor, "silence.add", "silence", sid, now, after=silence_json(row | {"$id": sid}, now),
                            comment=comment)])
    if stamp and starts_at <= now:
        stamp_matching(rows, matchers, format_ms(ends_at), fingerprint)
    return silence_json(rows.get(SILENCES, sid), now)


def extend(rows, ops, actor: Actor, row: dict, ends_at: datetime, comment: str, now: datetime,
           log=lambda line: None) -> dict:
    """A new end for an active silence, here and in Alertmanager, which may answer a new ID."""
    changes = {"endsAt": format_ms(ends_at)}
    am = Alertmanager.from_config(ops)
    if am:
        try:
            changes["alertmanagerId"] = am.create(json.loads(row["matchers"]), parse_rfc3339(row["startsAt"]), ends_at,
                                                  actor.name, comment or row.get("comment") or "",
                                                  silence_id=row.get("alertmanagerId") or "")
            changes["alertmanagerURL"], changes["alertmanagerError"] = am.base, None
        except AlertmanagerError as exc:
            changes["alertmanagerError"] = str(exc)[:1000]
            log(f"silence {row['$id']}: {exc}")
    after = rows.update(SILENCES, row["$id"], changes)
    record(rows, [entry(actor, "silence.extend", "silence", row["$id"], now, before=silence_json(row, now),
                        after=silence_json(after, now), comment=comment)])
    return after


def stamp_matching(rows, matchers: list[dict], until: str, fingerprint: str = "") -> list[str]:
    where = [("status", "=", "firing")] + ([("$id", "=", fingerprint)] if fingerprint else [])
    ids = [a["$id"] for a in rows.find_all(ALERTS, where) if matches(matchers, labels_of(a))
           and (a.get("silencedUntil") or "") < until]
    if ids:
        rows.update_many(ALERTS, ids, {"silencedUntil": until})
    return ids


def expire(rows, ops, actor: Actor, silence_id: str, now: datetime, settings=None, schema=None,
           log=lambda line: None) -> dict:
    row = rows.get(SILENCES, silence_id)
    if row is None:
        raise OpError(404, "silence_not_found", silence_id)
    claimed = rows.update_many(SILENCES, [silence_id], {"endedAt": format_ms(now), "endedBy": actor.name},
                               where=[("endedAt", "is_null", None)])
    if claimed:
        _expire_in_alertmanager(rows, ops, claimed[0], log)
        record(rows, [entry(actor, "silence.expire", "silence", silence_id, now, before=silence_json(row, now),
                            after=silence_json(claimed[0], now))])
        # Alerts it held are released now rather than at the next scheduler run.
        held = [a["$id"] for a in rows.find_all(ALERTS, [("silencedUntil", "not_null", None)])
                if matches(json.loads(row["matchers"]), labels_of(a))]
        if held:
            rows.update_many(ALERTS, held, {"silencedUntil": format_ms(now)})
        release(rows, schema, settings, now, log)
    return silence_json(rows.get(SILENCES, silence_id), now)


def _expire_in_alertmanager(rows, ops, row: dict, log) -> None:
    am = Alertmanager.from_config(ops) if ops else None
    if not row.get("alertmanagerId") or am is None:
        return
    try:
        am.expire(row["alertmanagerId"])
    except AlertmanagerError as exc:
        rows.update(SILENCES, row["$id"], {"alertmanagerError": str(exc)[:1000]})
        log(f"silence {row['$id']}: {exc}")


def expire_for_alert(rows, ops, actor: Actor, fingerprint: str, now: datetime, log=lambda line: None) -> list[str]:
    """End the silences made for one alert (unsilence, resolve)."""
    ended = []
    for row in rows.find_all(SILENCES, [("fingerprint", "=", fingerprint), ("endedAt", "is_null", None)]):
        if rows.update_many(SILENCES, [row["$id"]], {"endedAt": format_ms(now), "endedBy": actor.name},
                            where=[("endedAt", "is_null", None)]):
            _expire_in_alertmanager(rows, ops, row, log)
            ended.append(row["$id"])
    return ended


def release(rows, schema, settings, now: datetime, log=lambda line: None) -> list[dict]:
    """Clear `silencedUntil` where it has passed; announce, once, what still fires unacknowledged."""
    stamp = format_ms(now)
    due = list(rows.find_all(ALERTS, [("silencedUntil", "not_null", None), ("silencedUntil", "<=", stamp)]))
    if not due:
        return []
    still = active(rows, now)
    extend: dict[str, list[str]] = {}
    free = []
    for a in due:
        until = holding_until(still, labels_of(a))
        if until:
            extend.setdefault(until, []).append(a["$id"])
        else:
            free.append(a["$id"])
    for until, ids in extend.items():
        rows.update_many(ALERTS, ids, {"silencedUntil": until}, where=[("silencedUntil", "<=", stamp)])
    cleared = rows.update_many(ALERTS, free, {"silencedUntil": None}, where=[("silencedUntil", "<=", stamp)]) if free else []
    firing = [a for a in cleared if a["status"] == "firing" and not a.get("acknowledgedAt")]
    if firing and schema is not None:
        from .announce import announce

        announce(rows, schema, settings, "unsilenced", firing, SYSTEM, now, "the silence ended and it still fires")
    return firing


def expire_due(rows, schema, settings, now: datetime) -> dict:
    """Scheduler job (contract §3): end silences whose time is up, release what they held."""
    stamp = format_ms(now)
    due = [r["$id"] for r in rows.find_all(SILENCES, [("endedAt", "is_null", None), ("endsAt", "<=", stamp)])]
    ended = rows.update_many(SILENCES, due, {"endedAt": stamp, "endedBy": SYSTEM.name},
                             where=[("endedAt", "is_null", None)]) if due else []
    ops = getattr(settings, "ops", None)
    for row in ended:
        record(rows, [entry(SYSTEM, "silence.end", "silence", row["$id"], now)])
        _expire_in_alertmanager(rows, ops, row, lambda line: None)  # Alertmanager ends it itself too
    announced = release(rows, schema, settings, now)
    return {"silencesEnded": len(ended), "announced": len(announced)}


def mute(rows, transitions: list, now: datetime) -> tuple[list, dict[str, str]]:
    """For the processor: drop firing transitions of silenced alerts (resolves pass), and say
    which fingerprints to stamp with which end."""
    if not any(t.kind != "resolved" for t in transitions):
        return transitions, {}
    silences = active(rows, now)
    if not silences:
        return transitions, {}
    kept, muted = [], {}
    for t in transitions:
        until = holding_until(silences, t.alert.labels) if t.kind != "resolved" else None
        if until:
            muted[t.alert.fingerprint] = until
        else:
            kept.append(t)
    return kept, muted


def stamp(rows, muted: dict[str, str]) -> None:
    by_until: dict[str, list[str]] = {}
    for fp, until in muted.items():
        by_until.setdefault(until, []).append(fp)
    for until, ids in by_until.items():
        rows.update_many(ALERTS, ids, {"silencedUntil": until})
