"""What SDK 22 lacks: a timeout, connection reuse, and quiet version warnings.

`appwrite.client.Client.call` uses the module-level `requests.request` with no timeout (it can
hang for ever) and no Session (a new TCP+TLS handshake per call). It also prints every
`X-Appwrite-Warning` header to stderr, which lands in the function log on each call.
We give the SDK module a stand-in for `requests` with a thread-local Session and a default
timeout, and collect warnings so the caller can log each one once.
"""
from __future__ import annotations

import threading

import requests

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
        warning = response.headers.pop("x-appwrite-warning", None)
        if warning:
            with _lock:
                if warning not in _warnings_seen:
                    _warnings_seen.add(warning)
                    _new_warnings.append(warning)
        return response


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
