"""One API request, start to finish: route, settings, identity, role, store, handler, answer.

Status codes: 2xx only once stored; 400 bad input; 401 no identity; 403 role too low; 404/405
unknown endpoint; 503 transient store fault; 500 misconfiguration. Every error is
{"error": code, "detail": ...}; a traceback never is an answer.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..api_tokens import BadTokenSetting
from ..errors import StoreMisconfigured, StoreUnavailable
from ..operations.config import BadOpsSetting, OpsConfig, load_ops_config
from ..schema import Schema
from ..settings import MissingSettings, Settings, load_settings
from ..stores.rows import RowQueryError, open_rows
from ..timeutil import utcnow
from .auth import authenticate
from ..operations.actor import OpError
from .router import ANONYMOUS, MAX_BODY_BYTES, ApiCall, ApiError, ApiResult, match, parse_query


@dataclass
class ApiSettings:
    """What handlers see as `call.settings`: the store settings plus the operator settings."""
    store: Settings
    ops: OpsConfig
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Answer:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None


def handle(method: str, path: str, query_string: str, headers: dict[str, str], body: bytes, env: dict[str, str],
           schema: Schema, log: Callable[[str], None] = lambda line: None,
           now: datetime | None = None) -> Answer:
    try:
        return _handle(method, path or "/", query_string, headers, body, env, schema, log, now or utcnow())
    except OpError as exc:
        return _error(exc)
    except RowQueryError as exc:
        return _error(ApiError(400, exc.code, exc.detail))
    except StoreUnavailable as exc:
        log(f"store unavailable: {exc}")
        return _error(ApiError(503, "store_unavailable", "try again shortly"))
    except StoreMisconfigured as exc:
        log(f"store rejected the request (check the schema and the key's scopes): {exc}")
        return _error(ApiError(500, "store_error", "the store refused the request; see the function log"))
    except Exception:
        log("internal error: " + traceback.format_exc(limit=8))
        return _error(ApiError(500, "internal_error", "see the function log"))


def _handle(method, path, query_string, headers, body, env, schema, log, now) -> Answer:
    route, params = match(method, path)
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(400, "body_too_large", f"at most {MAX_BODY_BYTES} bytes")
    try:
        store = load_settings(env, headers, need_tokens=False)
        ops = load_ops_config(env)
    except (MissingSettings, BadOpsSetting, BadTokenSetting) as exc:
        log(f"not configured: {exc}")
        raise ApiError(500, "not_configured", "see the function log") from None
    settings = ApiSettings(store, ops, env)
    actor = ANONYMOUS
    if route.role is not None:
        actor = authenticate(headers, store, ops)
        if not actor.allows(route.role):
            raise ApiError(403, "forbidden", f"needs role {route.role}")
    with open_rows(store, schema) as rows:
        call = ApiCall(method.upper(), path, params, parse_query(query_string), body, headers, actor, rows,
                       schema, settings, now)
        result = route.handler(call)
    if not isinstance(result, ApiResult):
        result = ApiResult(result, route.status)
    return Answer(result.status, result.body, result.headers, result.text)


def handle_event(event: str, body: bytes, headers: dict[str, str], env: dict[str, str], schema: Schema,
                 log: Callable[[str], None] = lambda line: None, now: datetime | None = None) -> Answer:
    """A row event (x-appwrite-trigger: event). Only `alerts` row updates are handled: the
    Appwrite-console ack path. The body is not trusted; the stored row is read again."""
    import json

    from ..operations.manual import on_alert_update

    if ".tables.alerts.rows." not in event or not event.endswith(".update"):
        return Answer(200, {"event": "ignored"})
    try:
        store = load_settings(env, headers, need_tokens=False)
        row = json.loads(body or b"{}")
        with open_rows(store, schema) as rows:
            outcome = on_alert_update(rows, row, now or utcnow())
    except (MissingSettings, ValueError) as exc:
        log(f"event not handled: {exc}")
        return _error(ApiError(500 if isinstance(exc, MissingSettings) else 400, "event_not_handled"))
    except StoreUnavailable:
        return _error(ApiError(503, "store_unavailable", "try again shortly"))
    except StoreMisconfigured as exc:
        log(f"store rejected the event: {exc}")
        return _error(ApiError(500, "store_error"))
    return Answer(200, {"event": outcome})


def _error(exc: OpError) -> Answer:
    body = {"error": exc.code}
    if exc.detail:
        body["detail"] = exc.detail
    return Answer(exc.status, body)
