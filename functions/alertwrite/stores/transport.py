"""What SDK 22 lacks: a timeout, connection reuse, and quiet version warnings.

`appwrite.client.Client.call` uses the module-level `requests.request` with no timeout (it can
hang for ever) and no Session (a new TCP+TLS handshake per call). It also prints every
`X-Appwrite-Warning` header to stderr, which lands in the function log on each call.
We give the SDK module a stand-in for `requests` with a thread-local Session and a default
timeout, and collect warnings so the caller can log each one once.
"""
from __future__ import annotations

import json
import threading

import requests

# The type we give an error answer that is not Appwrite's {message, code, type}: SDK 22 reads
# `response.json()['message']` and would raise KeyError (a proxy, or `serve`, at --endpoint).
NOT_APPWRITE = "not_appwrite_response"
# Fields a newer server adds that SDK 22's models require; an older one lacks them. The values
# are the newer server's defaults (1.9.6 Utopia/Response/Model/Func.php: providerBranches and
# providerPaths default to []). 1.9.0 has neither (capture fn-create, sdk-functions-get).
MISSING_ON_OLDER_SERVERS = {"Function": {"providerBranches": [], "providerPaths": []}}

_local = threading.local()
_warnings_seen: set[str] = set()
_new_warnings: list[str] = []
_lock = threading.Lock()


class _Requests:
    """Only `request` is used by appwrite.client."""

    def __init__(self, default_timeout: float):
        self.default_timeout = default_timeout

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", getattr(_local, "timeout", self.default_timeout))
        session = getattr(_local, "session", None)
        if session is None:
            session = _local.session = requests.Session()
        response = session.request(method, url, **kwargs)
        _make_parseable(response)
        warning = response.headers.pop("x-appwrite-warning", None)
        if warning:
            with _lock:
                if warning not in _warnings_seen:
                    _warnings_seen.add(warning)
                    _new_warnings.append(warning)
        return response


def _make_parseable(response) -> None:
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/octet-stream"
    if response.status_code < 400 or not response.headers["Content-Type"].startswith("application/json"):
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        text = response.text[:200]
        response._content = json.dumps({"message": f"not an Appwrite answer (HTTP {response.status_code}): {text}",
                                        "code": response.status_code, "type": NOT_APPWRITE}).encode()


def compatible(service_class):
    """`service_class` (an SDK 22 service) that also parses an older 1.8/1.9 server's models,
    by filling in the fields that server does not send with the newer server's defaults."""

    class Compatible(service_class):
        def _parse_response(self, response, model=None):
            defaults = MISSING_ON_OLDER_SERVERS.get(getattr(model, "__name__", ""))
            if defaults and isinstance(response, dict):
                response = {**defaults, **response}
            if model is not None and isinstance(response, dict):
                item = _list_item_model(model)
                if item in MISSING_ON_OLDER_SERVERS:
                    response = {k: [{**MISSING_ON_OLDER_SERVERS[item], **v} if isinstance(v, dict) else v
                                    for v in value] if isinstance(value, list) else value
                                for k, value in response.items()}
            return super()._parse_response(response, model)

    Compatible.__name__ = service_class.__name__
    return Compatible


def _list_item_model(model) -> str:
    name = getattr(model, "__name__", "")
    return name[:-4] if name.endswith("List") else ""


def install(timeout: float) -> None:
    import appwrite.client as sdk_client

    if not isinstance(sdk_client.requests, _Requests):
        sdk_client.requests = _Requests(timeout)
    _local.timeout = timeout


def take_new_warnings() -> list[str]:
    with _lock:
        out = list(_new_warnings)
        _new_warnings.clear()
    return out
