"""On-call routes (contract §2): who is on call, schedules, overrides, policies, heartbeats."""
from __future__ import annotations

from ..scheduling import service
from ..scheduling.escalation_job import timeline
from ..scheduling.oncall import ScheduleError
from ..timeutil import parse_rfc3339
from .router import ApiCall, ApiError, qparam, route

S = {"type": "string"}
TIME = {"type": ["string", "null"]}
SHIFT = {"type": "object", "required": ["user", "start", "end"],
         "properties": {"user": S, "start": S, "end": S, "source": S}}


def _at(call: ApiCall):
    raw = call.query.get("at", "")
    if not raw:
        return call.now
    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise ApiError(400, "invalid_at", "at must be an RFC 3339 time") from None


def _guard(fn):
    try:
        return fn()
    except service.NotFound as exc:
        raise ApiError(404, "schedule_not_found", str(exc)) from None
    except ScheduleError as exc:
        raise ApiError(400, "invalid_schedule", str(exc)) from None


@route("GET", "/oncall", "viewer", summary="Who is on call now (or at `at`) and the next shifts, overrides applied",
       query=(qparam("schedule", "one schedule by name"), qparam("at", "RFC 3339 instant (default: now)")),
       response={"type": "object", "required": ["schedules"], "properties": {"schedules": {"type": "array", "items": {
           "type": "object", "required": ["id", "name", "now", "next"],
           "properties": {"id": S, "name": S, "now": {"type": "array", "items": S},
                          "next": {"type": "array", "items": SHIFT}}}}}})
def oncall_now(call: ApiCall):
    at = _at(call)
    return {"schedules": _guard(lambda: service.now_answer(call.rows, call.schema, at, call.query.get("schedule") or None))}


@route("GET", "/schedules", "viewer", summary="Schedules with their shifts for the next `days` (default 14)",
       query=(qparam("days", "1 to 90", {"type": "integer", "minimum": 1, "maximum": 90}),),
       response={"type": "object", "required": ["schedules"], "properties": {"schedules": {"type": "array"}}})
def list_schedules(call: ApiCall):
    try:
        days = int(call.query.get("days") or 14)
    except ValueError:
        raise ApiError(400, "invalid_days", "a whole number from 1 to 90") from None
    if not 1 <= days <= 90:
        raise ApiError(400, "invalid_days", "a whole number from 1 to 90")
    names = [s["name"] for s in service.now_answer(call.rows, call.schema, call.now)]
    return {"schedules": [_guard(lambda n=n: service.show(call.rows, call.schema, n, call.now, days)) for n in names]}


@route("POST", "/schedules/{name}/overrides", "responder", status=201,
       summary="USER covers the schedule from `start` until `end` (wins over every layer)",
       request={"type": "object", "required": ["user", "start", "end"], "properties": {"user": S, "start": S, "end": S}},
       response={"type": "object", "required": ["id", "schedule", "user", "start", "end"],
                 "properties": {"id": S, "schedule": S, "user": S, "start": S, "end": S}})
def add_override(call: ApiCall):
    body = call.json
    if not all(isinstance(body.get(k), str) and body.get(k) for k in ("user", "start", "end")):
        raise ApiError(400, "invalid_override", "user, start and end are required strings")
    return _guard(lambda: service.add_override(call.rows, call.schema, call.params["name"], body["user"],
                                               body["start"], body["end"], call.actor.name, call.now))


@route("GET", "/policies", "viewer", summary="Escalation policies in the order they are tried",
       response={"type": "object", "required": ["policies"], "properties": {"policies": {"type": "array"}}})
def list_policies(call: ApiCall):
    return {"policies": service.policies_answer(call.rows, call.schema)}


@route("GET", "/heartbeats", "viewer", summary="Dead-man switches and their state",
       response={"type": "object", "required": ["heartbeats"], "properties": {"heartbeats": {"type": "array", "items": {
           "type": "object", "required": ["name", "state"],
           "properties": {"name": S, "state": S, "lastPingAt": TIME, "armedAt": TIME, "deadline": TIME}}}}})
def list_heartbeats(call: ApiCall):
    return {"heartbeats": service.heartbeats_answer(call.rows, call.schema, call.now)}


@route("GET", "/alerts/{fingerprint}/escalation", "viewer", summary="The escalation timeline of an alert",
       response={"type": "object", "required": ["timeline"], "properties": {"timeline": {"type": "array"}}})
def escalation_timeline(call: ApiCall):
    return {"timeline": timeline(call.rows, call.params["fingerprint"])}
