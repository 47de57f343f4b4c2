"""The one place that decides what an Appwrite failure means.

Shared by the function (which turns it into 503 vs 500) and the CLI (which turns it into
"exists, compare" / "gone, fine" / a one-line error). Facts: AppwriteException carries the
HTTP status in `.code` (0 for a transport failure) and the error type in `.type`; the server
answers 500 for any status it does not list (general.php), and 429 for its rate limit.
"""
from __future__ import annotations

import enum
import json
import re

from appwrite.exception import AppwriteException


class Fault(enum.Enum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # 409: exists / already sent
    TRANSIENT = "transient"  # retry later: 5xx, 408, 429, network, timeout
    AUTH = "auth"  # bad key or a missing scope
    INVALID = "invalid"  # the request or our schema is wrong; retrying will not help


class StoreUnavailable(Exception):
    """Transient: the caller should answer 503 so Alertmanager retries."""


class StoreMisconfigured(Exception):
    """Permanent on our side (missing table, missing scope): 500, and an operator must act."""


def classify(exc: BaseException) -> Fault:
    if not isinstance(exc, AppwriteException):
        return Fault.TRANSIENT if isinstance(exc, (TimeoutError, ConnectionError, OSError)) else Fault.INVALID
    code = exc.code if isinstance(exc.code, int) else 0
    if unparseable(exc):
        return Fault.INVALID
    if code == 0 or code >= 500 or code in (408, 429):
        return Fault.TRANSIENT
    if code == 404:
        return Fault.NOT_FOUND
    if code == 409:
        return Fault.CONFLICT
    if code in (401, 403):
        return Fault.AUTH
    return Fault.INVALID


def unparseable(exc: AppwriteException) -> bool:
    """The server answered, but not as an Appwrite server of a version the SDK knows: a JSON
    body the SDK's models refuse, or an error body without Appwrite's shape."""
    from .stores.transport import NOT_APPWRITE

    message = str(exc.message or "")
    return getattr(exc, "type", None) == NOT_APPWRITE or (
        not exc.code and message.startswith(("Unable to parse response", "Unable to match response")))


def missing_scopes(exc: BaseException) -> list[str]:
    """The scopes a 401 general_unauthorized_scope names: any one of them would do
    ('… missing scopes (["rows.read","documents.read"])', capture scope-readme-rows-list)."""
    if not isinstance(exc, AppwriteException) or getattr(exc, "type", None) != "general_unauthorized_scope":
        return []
    match = re.search(r"missing scopes? \((\[.*?\])\)", str(exc.message))
    try:
        return [str(s) for s in json.loads(match.group(1))] if match else []
    except ValueError:
        return []


def scope_line(exc: BaseException) -> str:
    """One line naming the scope an API key lacks, or "" if that is not the fault."""
    scopes = missing_scopes(exc)
    if not scopes or "role: guests" in str(exc.message):
        return ""
    alternatives = f" (or {', '.join(scopes[1:])})" if len(scopes) > 1 else ""
    return f"the API key lacks the scope {scopes[0]}{alternatives}: add it to the key in the Appwrite console"


def describe(exc: BaseException) -> str:
    """A short, secret-free description for logs and CLI errors."""
    if isinstance(exc, AppwriteException):
        kind = f" {exc.type}" if getattr(exc, "type", None) else ""
        message = str(exc.message)
        if message.lstrip().startswith("<"):  # an HTML error page from a proxy
            message = "non-JSON error page"
        if scope_line(exc):
            return scope_line(exc)
        if unparseable(exc):
            return f"the server answered, but not as an Appwrite 1.8/1.9 server does: {message[:300]}"
        return f"Appwrite {exc.code or 'network error'}{kind}: {message[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def store_failure_answer(context, exc: Exception, what: str):
    """The answer for a store failure: 503 transient (the caller retries), 500 otherwise
    (an operator must act; Alertmanager keeps retrying meanwhile, so nothing is lost)."""
    if isinstance(exc, StoreUnavailable):
        context.error(f"store unavailable, the {what} will be retried: {exc}")
        return context.res.json({"error": "store_unavailable"}, statusCode=503)
    context.error(f"store rejected the {what} (check the schema and the key's scopes): {exc}")
    return context.res.json({"error": "store_error"}, statusCode=500)


def to_store_error(exc: BaseException) -> Exception:
    fault = classify(exc)
    if fault is Fault.TRANSIENT:
        return StoreUnavailable(describe(exc))
    return StoreMisconfigured(describe(exc))
