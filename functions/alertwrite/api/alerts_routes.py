"""Alert, silence, audit and action-link endpoints, thin over alertwrite.operations."""
from __future__ import annotations

from html import escape

from ..operations import alerts as ops_alerts
from ..operations import audit, links, manual, silences
from ..timeutil import parse_rfc3339
from .router import ApiCall, ApiError, ApiResult, qparam, route

S, N, I = {"type": "string"}, {"type": ["string", "null"]}, {"type": "integer"}
ALERT = {"type": "object", "required": ["fingerprint", "status", "state", "labels", "startsAt"], "properties": {
    **{k: S for k in ("fingerprint", "alertname", "severity", "instance", "summary", "description", "startsAt",
                      "receiver", "groupKey", "generatorURL", "source")},
    **{k: N for k in ("endsAt", "lastSeenAt", "resolvedAt", "resolvedBy", "acknowledgedAt", "acknowledgedBy",
                      "silencedUntil")},
    "status": {"type": "string", "enum": ["firing", "resolved"]},
    "state": {"type": "string", "enum": list(ops_alerts.STATES)},
    "labels": {"type": "object", "additionalProperties": S},
    "annotations": {"type": "object"}, "occurrences": I,
    "links": {"type": "object", "properties": {k: N for k in ("runbook", "dashboard", "source")}}}}
MATCHER = {"type": "object", "required": ["name", "value"], "properties": {
    "name": S, "value": S, "isRegex": {"type": "boolean"}, "isEqual": {"type": "boolean"}}}
SILENCE = {"type": "object", "required": ["id", "matchers", "startsAt", "endsAt", "state"], "properties": {
    "id": S, "matchers": {"type": "array", "items": MATCHER}, "startsAt": S, "endsAt": S, "createdBy": S,
    "comment": S, "fingerprint": N, "endedAt": N, "alertmanagerId": N, "alertmanagerError": N,
    "state": {"type": "string", "enum": ["active", "pending", "expired"]}}}
AUDIT = {"type": "object", "required": ["id", "at", "actor", "action", "target"], "properties": {
    "id": S, "at": S, "actor": S, "actorKind": S, "action": S, "targetType": S, "target": S, "comment": S,
    "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]}}}
ACTION_BODY = {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 2048},
                                                "duration": {"type": "string"}, "until": {"type": "string"}}}
RESULT = {"type": "object", "required": ["fingerprint", "ok"], "properties": {
    "fingerprint": S, "ok": {"type": "boolean"}, "error": S, "alert": ALERT}}


def _text(body: dict, key: str) -> str:
    value = body.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(400, f"invalid_{key}", f"{key} must be a string")
    return value


def _limit(call: ApiCall) -> int:
    raw = call.query.get("limit", "") or "50"
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_limit", "from 1 to 100") from None


@route("GET", "/alerts", "viewer", summary="List alerts: filters, sort, cursor pagination (at most 100 per page)",
       query=(qparam("status", "firing | acknowledged | silenced | resolved",
                     {"type": "string", "enum": list(ops_alerts.STATES)}),
              qparam("severity", "severity label"), qparam("alertname", "alertname label"),
              qparam("label", "name=value; repeat for several", {"type": "array", "items": {"type": "string"}}),
              qparam("tenant", "tenant label"), qparam("since", "startsAt at or after (RFC 3339)"),
              qparam("until", "startsAt at or before (RFC 3339)"), qparam("q", "text in any label name or value"),
              qparam("sort", "startsAt, lastSeenAt, severity, alertname, resolvedAt; prefix - for descending"),
              qparam("cursor", "next_cursor of the previous page"),
              qparam("limit", "1 to 100 (default 50)", {"type": "integer", "minimum": 1, "maximum": 100})),
       response={"type": "object", "required": ["alerts", "next_cursor", "total"], "properties": {
           "alerts": {"type": "array", "items": ALERT}, "next_cursor": N, "total": I}})
def list_alerts(call: ApiCall):
    q = call.query
    where = ops_alerts.filters(q.get("status", ""), q.get("severity", ""), q.get("alertname", ""),
                               call.query_list("label"), q.get("tenant", ""), q.get("since", ""), q.get("until", ""),
                               q.get("q", ""))
    return ops_alerts.list_alerts(call.rows, where, ops_alerts.sort_order(q.get("sort", "")), _limit(call),
                                  q.get("cursor") or None, call.now)


@route("POST", "/alerts", "responder", status=201, summary="Declare an alert by hand (source: manual)",
       request={"type": "object", "required": ["alertname"], "properties": {
           "alertname": S, "severity": S, "instance": S, "summary": S, "description": S, "runbook_url": S,
           "labels": {"type": "object", "additionalProperties": S}, "comment": S}},
       response={"type": "object", "required": ["alert"], "properties": {"alert": ALERT}})
def declare(call: ApiCall):
    return ApiResult({"alert": manual.declare(call.rows, call.schema, call.json, call.actor, call.now)}, 201)


@route("POST", "/alerts/bulk", "responder", summary="One action on many alerts; a result per alert",
       request={"type": "object", "required": ["action"], "properties": {
           "action": {"type": "string", "enum": list(ops_alerts.ACTIONS)},
           "fingerprints": {"type": "array", "items": S, "maxItems": ops_alerts.MAX_BULK},
           "filter": {"type": "object"}, "comment": S, "duration": S, "until": S}},
       response={"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": RESULT}}})
def bulk(call: ApiCall):
    body = call.json
    action = _text(body, "action")
    if "fingerprints" in body:
        fps = body["fingerprints"]
        if not isinstance(fps, list) or not all(isinstance(f, str) for f in fps):
            raise ApiError(400, "invalid_fingerprints", "a list of fingerprints")
    elif isinstance(body.get("filter"), dict):
        f = body["filter"]
        labels = f.get("label") or f.get("labels") or []
        labels = [f"{k}={v}" for k, v in labels.items()] if isinstance(labels, dict) else labels
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ApiError(400, "invalid_filter", "label: a list of name=value")
        where = ops_alerts.filters(*(str(f.get(k) or "") for k in ("status", "severity", "alertname")), labels,
                                   *(str(f.get(k) or "") for k in ("tenant", "since", "until", "q")))
        fps = [r["$id"] for _, r in zip(range(ops_alerts.MAX_BULK), call.rows.find_all("alerts", where))]
        if not fps:
            return {"results": []}
    else:
        raise ApiError(400, "missing_fingerprints", "give fingerprints or filter")
    results = ops_alerts.act(call.rows, call.schema, call.settings, action, fps, call.actor, call.now,
                             _text(body, "comment"), _text(body, "duration"), _text(body, "until"))
    return {"results": results}


@route("GET", "/alerts/{fingerprint}", "viewer", summary="One alert with its episodes, notifications, audit and timeline",
       response={"type": "object", "required": ["alert", "episodes", "notifications", "audit", "timeline"],
                 "properties": {"alert": ALERT, "episodes": {"type": "array"}, "notifications": {"type": "array"},
                                "audit": {"type": "array", "items": AUDIT}, "timeline": {"type": "array"}}})
def show(call: ApiCall):
    return ops_alerts.show(call.rows, call.schema, call.params["fingerprint"], call.now)


def _single(action: str):
    def handler(call: ApiCall):
        body = call.json
        (result,) = ops_alerts.act(call.rows, call.schema, call.settings, action, [call.params["fingerprint"]],
                                   call.actor, call.now, _text(body, "comment"), _text(body, "duration"),
                                   _text(body, "until"))
        if not result["ok"]:
            raise ApiError(404 if result["error"] == "alert_not_found" else 409, result["error"])
        return {"alert": result["alert"]}
    return handler


for _action in ops_alerts.ACTIONS:
    route("POST", f"/alerts/{{fingerprint}}/{_action}", "responder",
          summary=f"{_action} one alert" + (" (duration like 2h, or until)" if _action == "silence" else ""),
          request=ACTION_BODY, response={"type": "object", "required": ["alert"], "properties": {"alert": ALERT}},
          tag="alerts")(_single(_action))


@route("GET", "/silences", "viewer", summary="Silences; active and pending unless state=all or expired",
       query=(qparam("state", "active (default: active and pending) | expired | all",
                     {"type": "string", "enum": ["active", "expired", "all"]}),),
       response={"type": "object", "required": ["silences"], "properties": {"silences": {"type": "array", "items": SILENCE}}})
def list_silences(call: ApiCall):
    state = call.query.get("state", "active") or "active"
    if state not in ("active", "expired", "all"):
        raise ApiError(400, "invalid_state", "active, expired or all")
    found = [silences.silence_json(r, call.now) for r in call.rows.find_all("silences", order=[("startsAt", "desc")])]
    if state == "active":
        found = [s for s in found if s["state"] != "expired"]
    elif state == "expired":
        found = [s for s in found if s["state"] == "expired"]
    return {"silences": found[:500]}


@route("POST", "/silences", "admin", status=201, summary="A matcher silence (maintenance window), mirrored into Alertmanager",
       request={"type": "object", "required": ["matchers"], "properties": {
           "matchers": {"type": "array", "items": {"anyOf": [MATCHER, S]}, "minItems": 1},
           "startsAt": S, "endsAt": S, "duration": S, "comment": S}},
       response={"type": "object", "required": ["silence"], "properties": {"silence": SILENCE}})
def add_silence(call: ApiCall):
    body = call.json
    matchers = silences.parse_matchers(body.get("matchers"))
    starts = call.now
    if body.get("startsAt"):
        try:
            starts = parse_rfc3339(_text(body, "startsAt"))
        except ValueError:
            raise ApiError(400, "invalid_startsAt", "an RFC 3339 time with a zone") from None
    ends = silences.end_of(_text(body, "endsAt"), _text(body, "duration"), max(starts, call.now))
    row = silences.add(call.rows, call.settings.ops, call.actor, matchers, starts, ends, _text(body, "comment"),
                       call.now)
    return ApiResult({"silence": row}, 201)


@route("DELETE", "/silences/{id}", "admin", summary="Expire a silence now (and in Alertmanager)",
       response={"type": "object", "required": ["silence"], "properties": {"silence": SILENCE}})
def expire_silence(call: ApiCall):
    return {"silence": silences.expire(call.rows, call.settings.ops, call.actor, call.params["id"], call.now,
                                       call.settings, call.schema)}


@route("GET", "/audit", "viewer", summary="The audit trail, newest first",
       query=(qparam("fingerprint", "one alert"), qparam("actor", "who"), qparam("since", "at or after (RFC 3339)"),
              qparam("cursor", "id of the last entry of the previous page"),
              qparam("limit", "1 to 100 (default 50)", {"type": "integer", "minimum": 1, "maximum": 100})),
       response={"type": "object", "required": ["audit"], "properties": {"audit": {"type": "array", "items": AUDIT}}})
def list_audit(call: ApiCall):
    q = call.query
    since = q.get("since", "")
    if since:
        try:
            from ..timeutil import format_ms
            since = format_ms(parse_rfc3339(since))
        except ValueError:
            raise ApiError(400, "invalid_since", "an RFC 3339 time with a zone") from None
    limit = _limit(call)
    if not 1 <= limit <= 100:
        raise ApiError(400, "invalid_limit", "from 1 to 100")
    return {"audit": audit.find(call.rows, q.get("fingerprint", ""), q.get("actor", ""), since, limit,
                                q.get("cursor") or None)}


PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Alertwrite</title></head><body style="font-family:sans-serif;max-width:30em;margin:2em auto">{body}</body></html>"""


def _page(html: str, status: int = 200) -> ApiResult:
    return ApiResult(None, status, {"content-type": "text/html; charset=utf-8",
                                    "cache-control": "no-store", "referrer-policy": "no-referrer"}, PAGE.format(body=html))


@route("GET", "/links/{token}", None, summary="A signed action link: shows the alert and a confirm button",
       content_type="text/html", response={"type": "string"})
def link_page(call: ApiCall):
    try:
        doc = links.verify(call.settings.ops.link_secret, call.params["token"], call.now)
    except ApiError:
        raise
    except Exception as exc:
        return _link_error(exc)
    row = call.rows.get("alerts", doc["f"])
    if row is None:
        return _page("<p>This alert no longer exists.</p>", 404)
    alert = ops_alerts.alert_json(row, call.now)
    label = {"ack": "Acknowledge", "resolve": "Resolve", "silence": f"Silence for {links.SILENCE_FOR}"}[doc["a"]]
    return _page(f"<h2>{escape(alert['alertname'])}</h2><p>{escape(alert['instance'])} · {escape(alert['severity'])} · "
                 f"now <b>{escape(alert['state'])}</b></p><p>{escape(alert['summary'])}</p>"
                 f'<form method="post"><button style="font-size:1.4em;padding:.5em 1em">{label}</button></form>')


@route("POST", "/links/{token}", None, summary="Perform a signed action link (once)", content_type="text/html",
       response={"type": "string"})
def link_act(call: ApiCall):
    try:
        doc = links.verify(call.settings.ops.link_secret, call.params["token"], call.now)
        links.claim(call.rows, doc, call.now)
    except Exception as exc:
        return _link_error(exc)
    (result,) = ops_alerts.act(call.rows, call.schema, call.settings, doc["a"], [doc["f"]], links.link_actor(doc),
                               call.now, "from an action link", links.SILENCE_FOR if doc["a"] == "silence" else "")
    if not result["ok"]:
        return _page(f"<p>Nothing done: {escape(result['error'].replace('_', ' '))}.</p>", 409)
    alert = result["alert"]
    return _page(f"<h2>{escape(alert['alertname'])}</h2><p>Done: now <b>{escape(alert['state'])}</b>.</p>")


def _link_error(exc: Exception) -> ApiResult:
    from ..operations.actor import OpError

    if isinstance(exc, OpError):
        return _page(f"<p>{escape(exc.detail or exc.code)}</p>", exc.status)
    raise exc
