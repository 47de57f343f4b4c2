"""Acting on alerts: ack, unack, resolve, unresolve, silence, unsilence, in bulk or one by one.

Each action is a compare-and-set per alert (`rows.update_many` with the state it requires), so it
is atomic per alert, never half-applied, and two operators acting at once change it once (one
audit row, one announcement). Calls per 100 alerts are constant: one read of the current rows,
one bulk update, one bulk audit create (plus one episode update for resolve/unresolve, one
silence create for silence) and one message per (topic, medium) for the whole batch.

Semantics (README "Operator workflows"):
- ack stops repeats and escalation for the current episode; a new episode clears it.
- unack restarts escalation from its first step (the escalation capability keys on the ack).
- resolve by a person closes the alert now. If Alertmanager still sends it firing afterwards,
  it reopens and is announced again (PagerDuty: a trigger after a resolve opens a new incident;
  Grafana OnCall: a new alert after a resolve starts a new group), so a still-firing problem
  cannot disappear silently. Only Alertmanager's own resolve is final.
- silence mutes notifications until its end; acks and resolves still pass.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

from ..records import episode_id
from ..timeutil import format_ms, parse_rfc3339
from .actor import Actor, OpError
from .announce import announce
from .audit import entry, record
from .silences import add as add_silence
from .silences import SILENCES, end_of, expire_for_alert, labels_of
from .silences import extend as extend_silence

ALERTS = "alerts"
EPISODES = "alert_episodes"
ACTIONS = ("ack", "unack", "resolve", "unresolve", "silence", "unsilence")
STATES = ("firing", "acknowledged", "silenced", "resolved")
MAX_BULK = 1000
TRACKED = ("status", "acknowledgedAt", "acknowledgedBy", "resolvedAt", "resolvedBy", "silencedUntil")


def ack_mark(by: str | None, at: str | None) -> str:
    """Written with every ack we make: a console edit of acknowledgedBy leaves it stale."""
    return hashlib.sha256(f"{by or ''}\n{at or ''}".encode()).hexdigest()[:32]


def state_of(row: dict, now: datetime) -> str:
    if row["status"] == "resolved":
        return "resolved"
    if row.get("acknowledgedAt"):
        return "acknowledged"
    if row.get("silencedUntil") and parse_rfc3339(row["silencedUntil"]) > now:
        return "silenced"
    return "firing"


def alert_json(row: dict, now: datetime) -> dict:
    labels = labels_of(row)
    try:
        annotations = json.loads(row.get("annotations") or "{}")
    except ValueError:
        annotations = {}
    links = {"runbook": annotations.get("runbook_url") or None, "dashboard": annotations.get("dashboard_url") or None,
             "source": row.get("generatorURL") or None}
    return {"fingerprint": row["fingerprint"], "alertname": row.get("alertname") or "", "status": row["status"],
            "state": state_of(row, now), "severity": row.get("severity") or "", "instance": row.get("instance") or "",
            "summary": row.get("summary") or "", "description": row.get("description") or "", "labels": labels,
            "annotations": annotations if isinstance(annotations, dict) else {}, "startsAt": row["startsAt"],
            "endsAt": row.get("endsAt"), "lastSeenAt": row.get("lastSeenAt"), "resolvedAt": row.get("resolvedAt"),
            "resolvedBy": row.get("resolvedBy") or None, "acknowledgedAt": row.get("acknowledgedAt"),
            "acknowledgedBy": row.get("acknowledgedBy") or None, "silencedUntil": row.get("silencedUntil"),
            "occurrences": int(row.get("occurrences") or 1), "receiver": row.get("receiver") or "",
            "groupKey": row.get("groupKey") or "", "generatorURL": row.get("generatorURL") or "",
            "source": row.get("source") or "alertmanager", "links": links}


# -- listing -----------------------------------------------------------------------------------
SORTS = {"startsAt": "startsAt", "lastSeenAt": "lastSeenAt", "severity": "severity", "alertname": "alertname",
         "resolvedAt": "resolvedAt"}


def label_needle(name: str, value: str) -> str:
    """How one label appears inside the stored labels JSON (records.py: sorted keys, ': ')."""
    return json.dumps(name, ensure_ascii=False) + ": " + json.dumps(value, ensure_ascii=False)


def filters(status: str = "", severity: str = "", alertname: str = "", labels: list[str] = (), tenant: str = "",
            since: str = "", until: str = "", q: str = "") -> list:
    where: list = []
    if status:
        if status not in STATES:
            raise OpError(400, "invalid_status", f"one of {', '.join(STATES)}")
        if status == "resolved":
            where.append(("status", "=", "resolved"))
        else:
            where += [("status", "=", "firing")]
            if status == "acknowledged":
                where.append(("acknowledgedAt", "not_null", None))
            else:
                where.append(("acknowledgedAt", "is_null", None))
                where.append(("silencedUntil", "not_null" if status == "silenced" else "is_null", None))
    if severity:
        where.append(("severity", "=", severity))
    if alertname:
        where.append(("alertname", "=", alertname))
    for item in list(labels) + ([f"tenant={tenant}"] if tenant else []):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise OpError(400, "invalid_label", f"{item[:40]!r}: use label=name=value")
        where.append(("labels", "search", label_needle(name, value)))
    for key, value, op in (("since", since, ">="), ("until", until, "<=")):
        if value:
            try:
                where.append(("startsAt", op, format_ms(parse_rfc3339(value))))
            except ValueError:
                raise OpError(400, f"invalid_{key}", "an RFC 3339 time with a zone, e.g. 2026-01-01T00:00:00Z") from None
    if q:
        where.append(("labels", "search", q))  # every label name and value, alertname and instance included
    return where


def sort_order(sort: str) -> list[tuple[str, str]]:
    sort = sort or "-startsAt"
    column = sort.lstrip("-+")
    if column not in SORTS:
        raise OpError(400, "invalid_sort", f"one of {', '.join(SORTS)} (prefix - for descending)")
    return [(SORTS[column], "desc" if sort.startswith("-") else "asc")]


def list_alerts(rows, where: list, order: list, limit: int, cursor: str | None, now: datetime) -> dict:
    if not 1 <= limit <= 100:
        raise OpError(400, "invalid_limit", "from 1 to 100")
    page = rows.find(ALERTS, where, order, limit, cursor)
    more = len(page) == limit  # the next page may turn out empty; never a skipped row
    return {"alerts": [alert_json(r, now) for r in page], "next_cursor": page[-1]["$id"] if more and page else None,
            "total": rows.count(ALERTS, where)}


def get_alert(rows, fingerprint: str) -> dict:
    row = rows.get(ALERTS, fingerprint)
    if row is None:
        raise OpError(404, "alert_not_found", fingerprint[:64])
    return row


def show(rows, schema, fingerprint: str, now: datetime) -> dict:
    from .audit import find as find_audit

    row = get_alert(rows, fingerprint)
    episodes = rows.find(EPISODES, [("fingerprint", "=", fingerprint)], [("startsAt", "desc")], 100)
    notifications = []
    if any(t.id == "notifications" for t in schema.tables):
        columns = {c.key for c in schema.table("notifications").columns}
        if "fingerprint" in columns:
            notifications = rows.find("notifications", [("fingerprint", "=", fingerprint)], limit=100)
    audit = find_audit(rows, fingerprint=fingerprint)
    timeline = []
    for ep in episodes:
        timeline.append({"at": ep["startsAt"], "event": "firing", "by": "alertmanager", "occurrence": ep.get("occurrence")})
        if ep.get("resolvedAt"):
            timeline.append({"at": ep["resolvedAt"], "event": ep["status"], "by": ""})
    timeline += [{"at": a["at"], "event": a["action"], "by": a["actor"], "comment": a["comment"]} for a in audit]
    return {"alert": alert_json(row, now),
            "episodes": [{k: v for k, v in ep.items() if not k.startswith("$")} for ep in episodes],
            "notifications": notifications, "audit": audit, "timeline": sorted(timeline, key=lambda e: e["at"])}


# -- actions -----------------------------------------------------------------------------------
def _plan(action: str, actor: Actor, now: datetime, until: str | None) -> tuple[dict, list]:
    stamp = format_ms(now)
    if action == "ack":
        return ({"acknowledgedAt": stamp, "acknowledgedBy": actor.name, "ackMark": ack_mark(actor.name, stamp)},
                [("status", "=", "firing"), ("acknowledgedAt", "is_null", None)])
    if action == "unack":
        return ({"acknowledgedAt": None, "acknowledgedBy": None, "ackMark": None},
                [("status", "=", "firing"), ("acknowledgedAt", "not_null", None)])
    if action == "resolve":
        return ({"status": "resolved", "resolvedAt": stamp, "resolvedBy": actor.name, "endsAt": stamp,
                 "silencedUntil": None}, [("status", "=", "firing")])
    if action == "unresolve":
        return ({"status": "firing", "resolvedAt": None, "resolvedBy": None, "endsAt": None,
                 "acknowledgedAt": None, "acknowledgedBy": None, "ackMark": None}, [("status", "=", "resolved")])
    if action == "silence":
        return {"silencedUntil": until}, [("status", "=", "firing")]
    if action == "unsilence":
        return {"silencedUntil": stamp}, [("silencedUntil", "not_null", None)]
    raise OpError(400, "invalid_action", f"one of {', '.join(ACTIONS)}")


def _refusal(action: str, row: dict | None) -> str:
    if row is None:
        return "alert_not_found"
    if action in ("ack", "unack", "resolve", "silence") and row["status"] == "resolved":
        return "alert_resolved"
    if action == "unresolve" and row["status"] != "resolved":
        return "alert_not_resolved"
    return "no_change"


def act(rows, schema, settings, action: str, fingerprints: list[str], actor: Actor, now: datetime,
        comment: str = "", duration: str = "", until: str = "", log=lambda line: None) -> list[dict]:
    """Apply one action to many alerts. Per alert: {"fingerprint", "ok", "error"?, "alert"?}.
    An alert already in the asked-for state counts as ok and is changed (and audited) once."""
    if action not in ACTIONS:
        raise OpError(400, "invalid_action", f"one of {', '.join(ACTIONS)}")
    fingerprints = list(dict.fromkeys(str(f) for f in fingerprints))
    if not fingerprints:
        raise OpError(400, "missing_fingerprints", "name at least one alert")
    if len(fingerprints) > MAX_BULK:
        raise OpError(400, "too_many_alerts", f"at most {MAX_BULK} per call")
    ends = end_of(until, duration, now) if action == "silence" else None
    changes, where = _plan(action, actor, now, format_ms(ends) if ends else None)
    results: list[dict] = []
    all_done: list[dict] = []
    for start in range(0, len(fingerprints), 100):
        chunk = fingerprints[start:start + 100]
        before = {r["$id"]: r for r in rows.find(ALERTS, [("$id", "in", chunk)], limit=100)}
        changed = {r["$id"]: r for r in rows.update_many(ALERTS, [f for f in chunk if f in before], changes, where)}
        done = [changed[f] for f in chunk if f in changed]
        _side_effects(rows, schema, settings, action, done, before, actor, now, comment, ends, log)
        all_done += done
        for f in chunk:
            if f in changed:
                results.append({"fingerprint": f, "ok": True, "alert": alert_json(changed[f], now)})
                continue
            code = _refusal(action, before.get(f))
            if code == "no_change":
                results.append({"fingerprint": f, "ok": True, "alert": alert_json(before[f], now)})
            else:
                results.append({"fingerprint": f, "ok": False, "error": code})
    if action == "unsilence" and all_done:
        from .silences import release
        release(rows, schema, settings, now, log)
    elif action in ("ack", "resolve", "unack", "unresolve") and all_done:
        announce(rows, schema, settings, action, all_done, actor, now, comment)  # one message per target
    return results


def current_episodes(alert_rows: list[dict]) -> list[str]:
    """The episode row each alert is in now (lifecycle.py: episodes are numbered per fingerprint)."""
    return [episode_id(r["$id"], int(r.get("occurrences") or 1)) for r in alert_rows]


def mark_first_ack(rows, alert_rows: list[dict], by: str, stamp: str) -> None:
    """What MTTA is computed from (stats/): the first ack of the current episode, kept once."""
    rows.update_many(EPISODES, current_episodes(alert_rows), {"firstAckAt": stamp, "ackedBy": by},
                     where=[("firstAckAt", "is_null", None)])


def _side_effects(rows, schema, settings, action, done, before, actor, now, comment, ends, log) -> None:
    if not done:
        return
    ops = getattr(settings, "ops", None)
    if action in ("resolve", "unresolve"):
        episode_changes = ({"status": "resolved", "resolvedAt": format_ms(now), "endsAt": format_ms(now),
                            "resolvedBy": actor.name}
                           if action == "resolve" else {"status": "firing", "resolvedAt": None, "endsAt": None,
                                                        "resolvedBy": None})
        rows.update_many(EPISODES, current_episodes(done), episode_changes)
    if action == "ack":
        mark_first_ack(rows, done, actor.name, format_ms(now))
    if action in ("resolve", "unsilence"):
        for r in done:
            expire_for_alert(rows, ops, actor, r["$id"], now, log)
    if action == "silence":
        for r in done:
            held = rows.find(SILENCES, [("fingerprint", "=", r["$id"]), ("endedAt", "is_null", None),
                                        ("endsAt", ">", format_ms(now))], limit=1)
            if held:  # silenced again: one silence, a new end
                extend_silence(rows, ops, actor, held[0], ends, comment, now, log)
                continue
            matchers = [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                        for k, v in sorted(labels_of(r).items())] or [
                {"name": "alertname", "value": r.get("alertname") or "", "isRegex": False, "isEqual": True}]
            add_silence(rows, ops, actor, matchers, now, ends, comment, now, fingerprint=r["$id"], log=log,
                        stamp=False)  # silencedUntil is set by the action itself
    record(rows, [entry(actor, action, "alert", r["$id"], now,
                        before={k: before[r["$id"]].get(k) for k in TRACKED},
                        after={k: r.get(k) for k in TRACKED}, comment=comment) for r in done])
