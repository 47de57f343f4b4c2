"""Who is calling: an API token, or an Appwrite user verified through the JWT Appwrite passes.

Appwrite user executions. `createExecution` signs a JWT {userId, sessionId} with the server's
_APP_OPENSSL_KEY_V1 (expiry: function timeout + 60 s) and sets `x-appwrite-user-id` and
`x-appwrite-user-jwt` (appwrite/appwrite src/Appwrite/Platform/Modules/Functions/Http/Executions/
Create.php). A caller of the public function domain can send any header, so `x-appwrite-user-id`
alone proves nothing: we call Account.get with the JWT (`GET /v1/account`, `X-Appwrite-JWT`), which
only the server can answer for a valid, unexpired session, and take the user ID from its answer.
Roles come from confirmed memberships of two teams (IDs configurable), read with the function's
own key (`teams.read`): admin team -> admin, on-call team -> responder, neither -> no role (403).
"""
from __future__ import annotations

import hashlib
import threading
import time

from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.account import Account
from appwrite.services.teams import Teams

from ..api_tokens import match_token
from ..errors import Fault, classify, to_store_error
from ..operations.config import OpsConfig
from ..settings import Settings
from ..stores import transport
from .router import Actor, ApiError

CACHE_SECONDS = 60  # a role removed in the console takes effect within a minute
_cache: dict[str, tuple[float, Actor]] = {}
_cache_lock = threading.Lock()


def header(headers: dict[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""


def authenticate(headers: dict[str, str], settings: Settings, ops: OpsConfig) -> Actor:
    """An Actor, or ApiError 401 when no identity can be established."""
    authorization = header(headers, "authorization")
    if authorization:
        scheme, _, presented = authorization.partition(" ")
        token = match_token(presented.strip(), ops.api_tokens) if scheme.lower() == "bearer" and presented.strip() else None
        if token is None:
            raise ApiError(401, "unauthorized", "unknown or malformed bearer token")
        return Actor(token.name, token.role, "token")
    jwt = header(headers, "x-appwrite-user-jwt").strip()
    if jwt:
        return verify_user(jwt, settings, ops)
    raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>, or execute as a signed-in Appwrite user")


def verify_user(jwt: str, settings: Settings, ops: OpsConfig) -> Actor:
    if settings.backend != "appwrite" or not settings.endpoint:
        raise ApiError(401, "unauthorized", "Appwrite users can sign in only when the store is Appwrite")
    key = hashlib.sha256(jwt.encode()).hexdigest()
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > now:
            return hit[1]
    transport.install(settings.http_timeout)
    user_client = Client().set_endpoint(settings.endpoint).set_project(settings.project_id).set_jwt(jwt)
    try:
        user = Account(user_client).get()
    except AppwriteException as exc:
        if classify(exc) in (Fault.AUTH, Fault.NOT_FOUND, Fault.INVALID):
            raise ApiError(401, "unauthorized", "the Appwrite user JWT is invalid or expired") from None
        raise to_store_error(exc) from None
    if not user.status:
        raise ApiError(401, "unauthorized", "the Appwrite user is blocked")
    role = _role(user.id, settings, ops)
    actor = Actor(user.email or user.name or user.id, role, "user")
    with _cache_lock:
        _cache[key] = (now + CACHE_SECONDS, actor)
    return actor


def _role(user_id: str, settings: Settings, ops: OpsConfig) -> str | None:
    key_client = Client().set_endpoint(settings.endpoint).set_project(settings.project_id).set_key(settings.api_key)
    teams = Teams(key_client)
    for team_id, role in ((ops.admin_team, "admin"), (ops.oncall_team, "responder")):
        try:
            found = teams.list_memberships(team_id, queries=[Query.equal("userId", [user_id]), Query.limit(5)])
        except AppwriteException as exc:
            if classify(exc) is Fault.NOT_FOUND:
                continue  # that team does not exist: nobody holds its role
            raise to_store_error(exc) from None
        # An invited member who has not accepted (confirm false) holds no role yet.
        if any(m.userid == user_id and m.confirm for m in found.memberships):
            return role
    return None


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
