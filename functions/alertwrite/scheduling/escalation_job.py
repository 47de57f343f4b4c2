"""The escalation job: the engine (escalation.py) over the tables, batched.

Per run it reads every table once (pages of 100) and writes in bulk: escalations and timeline
entries through RowStore.create (the claim: only the execution that created a notify entry
sends it), closes and un-acks through update_many, and sends one message per (recipient, medium).
"""
from __future__ import annotations

import json
from datetime import datetime

from ..timeutil import format_ms, parse_rfc3339
from . import notify
from .escalation import AlertView, Entry, advance, entry_id, escalation_id
from .oncall import Schedule, on_call, parse_override, parse_schedule
from .policies import choose, from_snapshot, load_people, load_policies, snapshot

ESCALATIONS, LOG = "escalations", "escalation_log"
SCHEDULES, OVERRIDES = "schedules", "schedule_overrides"
CHUNK = 100


def _time(value) -> datetime | None:
    return parse_rfc3339(value) if value else None


def alert_view(row: dict) -> AlertView:
    labels = json.loads(row.get("labels") or "{}")
    return AlertView(row["fingerprint"], int(row.get("occurrences") or 1), row["status"], labels,
                     _time(row["startsAt"]), _time(row.get("acknowledgedAt")), row.get("acknowledgedBy") or "",
                     _time(row.get("silencedUntil")), row.get("alertname") or labels.get("alertname", ""),
                     row.get("severity") or "", row.get("summary") or "")


def load_schedules(rows, schema, now: datetime | None = None) -> dict[str, Schedule]:
    """Declared then table schedules (a row wins by name), each with its overrides."""
    specs = dict(schema.section("schedules") or {})
    for row in rows.find_all(SCHEDULES):
        specs[row["name"]] = json.loads(row["spec"])
    schedules = {name: parse_schedule(name, spec) for name, spec in specs.items()}
    where = [("end", ">", format_ms(now))] if now else []
    extra: dict[str, list] = {}
    for row in rows.find_all(OVERRIDES, where, order=[("$createdAt", "asc")]):
        s = schedules.get(row["schedule"])
        if s:
            extra.setdefault(s.name, []).append(parse_override(row, s.tz, f"overrides.{row['$id']}", row["$id"]))
    return {name: s.with_overrides(extra.get(name, [])) for name, s in schedules.items()}


def _entry(row: dict) -> Entry:
    return Entry(row["kind"], row.get("round") or 0, parse_rfc3339(row["at"]), row.get("loop") or 0,
                 row.get("step") or 0, row.get("seq") or 0, row.get("user") or "", row.get("target") or "",
                 row.get("medium") or "", row.get("tag") or "", row.get("detail") or "",
                 json.loads(row.get("data") or "{}"))


def _row(esc_id: str, fingerprint: str, e: Entry) -> dict:
    return {"$id": entry_id(esc_id, e), "escalation": esc_id, "fingerprint": fingerprint, "kind": e.kind,
            "round": e.round, "loop": e.loop, "step": e.step, "seq": e.seq, "user": e.user, "target": e.target,
            "medium": e.medium, "tag": e.tag, "detail": e.detail, "data": json.dumps(e.data, sort_keys=True),
            "at": format_ms(e.at)}


def _chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run(rows, schema, settings, now: datetime) -> dict:
    summary = {"started": 0, "entries": 0, "notified": 0, "closed": 0, "unacked": 0}
    firing = {r["fingerprint"]: r for r in rows.find_all("alerts", [("status", "=", "firing")])}
    open_rows = {r["$id"]: r for r in rows.find_all(ESCALATIONS, [("status", "=", "open")])}
    # Alerts of open escalations that no longer fire (resolved since the last run).
    missing = sorted({r["fingerprint"] for r in open_rows.values()} - set(firing))
    alerts = dict(firing)
    for part in _chunks(missing):
        alerts.update({r["fingerprint"]: r for r in rows.find("alerts", [("fingerprint", "in", part)], limit=CHUNK)})

    wanted = {escalation_id(fp, int(r.get("occurrences") or 1)): fp for fp, r in firing.items()}
    new = [eid for eid in wanted if eid not in open_rows]
    for part in _chunks(new):
        # Closed for this episode already (a janitor-resolved alert that reopened): leave closed,
        # and do not let a doomed create fall back to one call per row every minute.
        closed = {r["$id"] for r in rows.find(ESCALATIONS, [("$id", "in", part)], limit=CHUNK)}
        new = [eid for eid in new if eid not in closed]
    if new:
        policies, people = load_policies(schema, rows), load_people(schema, rows)
        fresh = []
        for eid in new:
            view = alert_view(alerts[wanted[eid]])
            policy = choose(policies, view.labels)
            if policy:
                fresh.append({"$id": eid, "fingerprint": view.fingerprint, "episode": view.episode,
                              "policy": policy.name, "snapshot": snapshot(policy, people),
                              "startedAt": format_ms(view.starts_at), "status": "open"})
        created = set(rows.create(ESCALATIONS, fresh)) if fresh else set()
        summary["started"] = len(created)
        # A row already there (another run, or closed earlier) is not reopened.
        for row in fresh:
            if row["$id"] in created:
                open_rows[row["$id"]] = row
    if not open_rows:
        return summary

    logs: dict[str, list[Entry]] = {eid: [] for eid in open_rows}
    for part in _chunks(sorted(open_rows)):
        for r in rows.find_all(LOG, [("escalation", "in", part)]):
            logs[r["escalation"]].append(_entry(r))
    schedules = load_schedules(rows, schema, now)

    def who(name: str, at: datetime):
        return on_call(schedules[name], at) if name in schedules else None

    new_rows, to_close, to_unack, views = [], [], [], {}
    for eid, esc in open_rows.items():
        alert_row = alerts.get(esc["fingerprint"])
        view = alert_view(alert_row) if alert_row else None
        if view is not None and view.episode != esc["episode"]:
            view = None  # a newer episode has its own escalation
        if view is None:
            view = AlertView(esc["fingerprint"], esc["episode"], "resolved", {}, parse_rfc3339(esc["startedAt"]))
        views[eid] = view
        policy, people = from_snapshot(esc["snapshot"])
        out = advance(policy, people, parse_rfc3339(esc["startedAt"]), logs[eid], view, now, who)
        new_rows += [_row(eid, esc["fingerprint"], e) for e in out.entries]
        if out.close:
            to_close.append(eid)
        if out.unack:
            to_unack.append(esc["fingerprint"])

    created = set(rows.create(LOG, new_rows)) if new_rows else set()
    summary["entries"] = len(created)
    claimed = [(r, views[r["escalation"]]) for r in new_rows if r["kind"] == "notify" and r["$id"] in created]
    sent = notify.deliver(rows, claimed)
    summary["notified"] = len(claimed)
    summary["messages"] = sent
    if to_close:
        summary["closed"] = len(rows.update_many(ESCALATIONS, to_close, {"status": "closed", "closedAt": format_ms(now)},
                                                 [("status", "=", "open")]))
    if to_unack:
        # The ack timed out: the alert is unacknowledged again (PagerDuty: back to triggered).
        summary["unacked"] = len(rows.update_many("alerts", to_unack, {"acknowledgedAt": None, "acknowledgedBy": None},
                                                  [("status", "=", "firing")]))
    lateness = [json.loads(r["data"]).get("lateSeconds") for r in new_rows if r["kind"] == "step" and r["$id"] in created]
    if lateness:
        summary["maxLateSeconds"] = max(lateness)
    return summary


def timeline(rows, fingerprint: str) -> list[dict]:
    """The escalation timeline of an alert, oldest first (for the API and the CLI)."""
    return [{"at": r["at"], "kind": r["kind"], "detail": r["detail"]}
            for r in rows.find_all(LOG, [("fingerprint", "=", fingerprint)], order=[("at", "asc")])]
