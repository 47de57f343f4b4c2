"""Channel and notification endpoints, thin over alertwrite.channels.admin.

Writes need the admin role. URLs and secrets are never returned in full; a webhook secret
Alertwrite generates is returned once, in the answer that created it.
"""
from __future__ import annotations

from ..channels import admin, outbox
from ..channels.filters import Filter, FilterError
from ..channels.model import TYPES, Channel, ChannelError
from ..channels.webhook import new_secret
from .router import ApiCall, ApiError, ApiResult, qparam, route

S, N = {"type": "string"}, {"type": ["string", "null"]}
FILTER = {"type": "object", "properties": {
    **{k: {"type": "array", "items": S} for k in ("severities", "alertnames", "categories", "tenants")},
    "tenant_label": S, "match": {"type": "object"}, "match_re": {"type": "object"},
    "send_resolved": {"type": "boolean"}}}
CHANNEL = {"type": "object", "required": ["name", "type", "enabled", "source"], "properties": {
    "name": S, "type": {"type": "string", "enum": list(TYPES)}, "url": N, "secret": N, "topic": N,
    "media": {"type": "array", "items": S}, "filter": FILTER, "enabled": {"type": "boolean"}, "source": S,
    "templates": {"type": "object"}, "description": N, "disabledReason": N, "lastSuccessAt": N, "lastErrorAt": N,
    "lastError": N, "counts": {"type": "object"}, "successes": {"type": "integer"},
    "failures": {"type": "integer"}, "dead": {"type": "integer"}}}
CHANNEL_BODY = {"type": "object", "properties": {
    "name": S, "type": {"type": "string", "enum": list(TYPES)}, "url": S, "secret": S, "topic": S,
    "media": {"type": "array", "items": {"type": "string", "enum": ["email", "sms", "push"]}}, "filter": FILTER,
    "enabled": {"type": "boolean"}, "templates": {"type": "object"}, "description": S}}
NOTIFICATION = {"type": "object", "required": ["$id", "channel", "status"], "properties": {
    "$id": S, "$createdAt": S, "channel": S, "status": {"type": "string", "enum": ["pending", "retrying", "sent", "dead"]},
    "kind": N, "title": N, "attempts": {"type": ["integer", "null"]}, "nextAttemptAt": N,
    "lastStatus": {"type": ["integer", "null"]}, "lastError": N, "sentAt": N, "coalescedInto": N}}


def _fail(exc: Exception):
    message = str(exc)
    if message.startswith("no channel") or message.startswith("no notification"):
        raise ApiError(404, "not_found", message) from None
    if "exists already" in message:
        raise ApiError(409, "channel_exists", message) from None
    raise ApiError(400, "invalid_channel", message) from None


@route("GET", "/channels", "viewer", summary="Channels with their health (URLs and secrets redacted)",
       response={"type": "object", "required": ["channels"], "properties": {"channels": {"type": "array", "items": CHANNEL}}})
def list_channels(call: ApiCall):
    outbox.seed(call.rows, call.schema)
    return {"channels": [admin.health(call.rows, c) for c in admin.list_channels(call.rows)]}


@route("POST", "/channels", "admin", status=201, summary="Add a channel; the next delivery uses it",
       request=CHANNEL_BODY, response={"type": "object", "required": ["channel"], "properties": {
           "channel": CHANNEL, "secret": {"type": "string", "description": "a generated webhook secret, shown once"}}})
def add_channel(call: ApiCall):
    body = call.json
    generated = None
    secret = body.get("secret") or ""
    if body.get("type") == "webhook" and not secret:
        secret = generated = new_secret()
    try:
        channel = Channel(name=str(body.get("name") or ""), type=str(body.get("type") or ""),
                          url=str(body.get("url") or ""), secret=str(secret), topic=str(body.get("topic") or ""),
                          media=tuple(body.get("media") or ()), filter=Filter.from_dict(body.get("filter") or {}),
                          enabled=bool(body.get("enabled", True)), templates=dict(body.get("templates") or {}),
                          description=str(body.get("description") or ""))
        admin.add(call.rows, channel, call.schema)
    except (ChannelError, FilterError, TypeError) as exc:
        _fail(exc)
    answer = {"channel": channel.redacted()}
    if generated:
        answer["secret"] = generated
    return ApiResult(answer, 201)


@route("GET", "/channels/{name}", "viewer", summary="One channel, its health and its latest notifications",
       response={"type": "object", "required": ["channel", "notifications"], "properties": {
           "channel": CHANNEL, "notifications": {"type": "array", "items": NOTIFICATION}}})
def show_channel(call: ApiCall):
    try:
        channel = admin.get(call.rows, call.params["name"])
    except ChannelError as exc:
        _fail(exc)
    return {"channel": admin.health(call.rows, channel),
            "notifications": admin.notifications(call.rows, channel=channel.name, limit=20)}


@route("PATCH", "/channels/{name}", "admin", summary="Change a channel (filter keys merge into its filter)",
       request=CHANNEL_BODY, response={"type": "object", "required": ["channel"], "properties": {"channel": CHANNEL}})
def update_channel(call: ApiCall):
    body = dict(call.json)
    changes = dict(body.pop("filter", None) or {})
    for key in ("url", "secret", "topic", "enabled", "templates", "description"):
        if key in body:
            changes[key] = body[key]
    if "media" in body:
        changes["media"] = tuple(body["media"] or ())
    if "name" in body or "type" in body:
        raise ApiError(400, "immutable", "name and type cannot change: add a new channel")
    try:
        return {"channel": admin.update(call.rows, call.params["name"], changes).redacted()}
    except (ChannelError, FilterError, TypeError) as exc:
        _fail(exc)


@route("DELETE", "/channels/{name}", "admin", summary="Delete a channel (its notification log stays)",
       response={"type": "object", "required": ["deleted"], "properties": {"deleted": S}})
def delete_channel(call: ApiCall):
    try:
        admin.remove(call.rows, call.params["name"])
    except ChannelError as exc:
        _fail(exc)
    return {"deleted": call.params["name"]}


@route("POST", "/channels/{name}/test", "admin", status=202,
       summary="Queue a clearly marked test message; follow it in GET /notifications?channel=",
       response={"type": "object", "required": ["notification"], "properties": {"notification": S}})
def test_channel(call: ApiCall):
    try:
        channel = admin.get(call.rows, call.params["name"])
    except ChannelError as exc:
        _fail(exc)
    if not channel.enabled:
        raise ApiError(400, "channel_disabled", f"channel {channel.name} is disabled: enable it first")
    (nid,) = outbox.notify(call.rows, call.schema, admin.test_event(channel.name, call.now), call.now,
                             channels=[channel.name])
    return ApiResult({"notification": nid}, 202)


@route("GET", "/notifications", "viewer", summary="The delivery log, newest first",
       query=(qparam("status", "pending | retrying | sent | dead",
                     {"type": "string", "enum": ["pending", "retrying", "sent", "dead"]}),
              qparam("channel", "a channel name"), qparam("limit", "1 to 100", {"type": "integer"})),
       response={"type": "object", "required": ["notifications"], "properties": {
           "notifications": {"type": "array", "items": NOTIFICATION}}})
def list_notifications(call: ApiCall):
    try:
        limit = max(1, min(100, int(call.query.get("limit") or 50)))
    except ValueError:
        raise ApiError(400, "invalid_limit", "from 1 to 100") from None
    try:
        found = admin.notifications(call.rows, call.query.get("status") or None, call.query.get("channel") or None,
                                    limit)
    except ChannelError as exc:
        raise ApiError(400, "invalid_status", str(exc)) from None
    return {"notifications": found}


@route("POST", "/notifications/{id}/retry", "admin", summary="Queue a dead or retrying notification again",
       response={"type": "object", "required": ["retried"], "properties": {"retried": {"type": "array", "items": S}}})
def retry_notification(call: ApiCall):
    try:
        return {"retried": admin.retry(call.rows, [call.params["id"]], now=call.now)}
    except ChannelError as exc:
        if "sent already" in str(exc):
            raise ApiError(409, "already_sent", str(exc)) from None
        _fail(exc)
