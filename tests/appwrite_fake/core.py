"""A stateful fake of the Appwrite 1.9 REST API, plugged in at the HTTP layer with `responses`.

Behaviour copied from the server (sources in ../shared/reference/appwrite-platform.md, as
cited per rule): error bodies {message, code, version, type}; a Content-Type on every
response (SDK 22 raises KeyError without one), text/html on an empty 204; asynchronous
column/index status advanced by a "worker" between requests; the batch, query and index limits.
Faults (5xx, 429, HTML 502, timeout, refused connection) can be injected at the N-th call.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from urllib.parse import parse_qs, urlsplit

import requests
import responses

SERVER_VERSION = "1.9.0"  # the default: the server the captures in tests/fixtures/appwrite-1.9.0 came from
VERSIONS = ("1.9.0", "1.9.6")
ID_RULE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")


class ApiError(Exception):
    def __init__(self, code: int, type_: str, message: str):
        super().__init__(message)
        self.code, self.type, self.message = code, type_, message


def now_iso() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00"


def check_id(value, what: str = "ID") -> str:
    if value == "unique()":
        return f"{int(time.time() * 1000):x}{next(_unique):05x}"[:20]
    if not isinstance(value, str) or not ID_RULE.match(value):
        raise ApiError(400, "general_argument_invalid",
                       f"Invalid `{what}` param: Parameter must contain at most 36 chars. Valid chars are "
                       "a-z, A-Z, 0-9, period, hyphen, and underscore. Can't start with a special char")
    return value


_unique = itertools.count()


@dataclass
class Call:
    method: str
    path: str
    status: int


@dataclass
class Request:
    method: str
    path: str
    params: dict
    body: dict
    files: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)


class FakeCore:
    def __init__(self, endpoint: str = "http://appwrite.test/v1", project: str = "alertwrite-test",
                 key: str = "test-api-key", scopes: set[str] | None = None, version: str = SERVER_VERSION):
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self.key = key
        self.scopes = set(scopes) if scopes is not None else None  # None: every scope
        if version not in VERSIONS:
            raise ValueError(f"the fake models {VERSIONS}, not {version}")
        self.version = version
        self.calls: list[Call] = []
        self.latency = 0.0
        # A server older than the SDK's response format adds this header to every answer
        # (appwrite 1.8.1 general.php ~L1051).
        self.warning: str | None = None
        self.worker_steps = 3  # requests until an async job (column, index, message) finishes
        self._faults: dict[int, str] = {}
        self._outage: str | None = None
        self._lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern, object, str]] = []
        self._jobs: list[list] = []  # [countdown, callable]

    # -- test controls -------------------------------------------------------------------
    def fail_at(self, n: int, kind: str = "503") -> None:
        """Make the n-th call from now fail (1 = the next call)."""
        self._faults[len(self.calls) + n] = kind

    def outage(self, kind: str | None = "503") -> None:
        """Fail every call with `kind` until outage(None)."""
        self._outage = kind

    def count(self, method: str | None = None, contains: str = "") -> int:
        return sum(1 for c in self.calls if (method is None or c.method == method) and contains in c.path)

    def writes(self) -> int:
        return sum(1 for c in self.calls if c.method != "GET")

    def reset_calls(self) -> None:
        self.calls.clear()
        self._faults.clear()

    # -- plumbing ------------------------------------------------------------------------
    def route(self, method: str, pattern: str, scope: str):
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def register(handler):
            self._routes.append((method, regex, handler, scope))
            return handler
        return register

    def later(self, job, steps: int | None = None) -> None:
        """Run `job` after this many further requests: the server's async worker."""
        self._jobs.append([self.worker_steps if steps is None else steps, job])

    def run_worker(self) -> None:
        due = []
        for job in self._jobs:
            job[0] -= 1
            if job[0] <= 0:
                due.append(job)
        for job in due:
            self._jobs.remove(job)
            job[1]()

    def drain(self) -> None:
        """Let every pending async job finish."""
        while self._jobs:
            self.run_worker()

    def install(self, mock: responses.RequestsMock) -> None:
        pattern = re.compile(re.escape(self.endpoint) + r"(/.*)?$")
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            mock.add_callback(method, pattern, callback=self._callback)

    def _callback(self, request):
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            status, headers, body = self._handle(request)
        if self.warning:
            headers = {**headers, "X-Appwrite-Warning": self.warning}
        return status, headers, body

    def _handle(self, request):
        url = urlsplit(request.url)
        path = url.path[len(urlsplit(self.endpoint).path):] or "/"
        method = request.method.upper()
        number = len(self.calls) + 1
        fault = self._faults.pop(number, None) or self._outage
        if fault:
            self.calls.append(Call(method, path, 0 if fault in ("timeout", "refused") else int(fault[:3])))
            return self._fault(fault)
        self.run_worker()
        try:
            req = self._parse(request, method, path, url.query)
            handler, match, scope = self._match(method, path)
            self._authorize(request, scope)
            status, payload = handler(req, **match.groupdict())
        except ApiError as err:
            self.calls.append(Call(method, path, err.code))
            return err.code, {"Content-Type": "application/json"}, json.dumps(
                {"message": err.message, "code": err.code, "version": self.version, "type": err.type})
        self.calls.append(Call(method, path, status))
        if status == 204:
            return 204, {"Content-Type": "text/html; charset=UTF-8"}, ""
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    def at_least(self, version: str) -> bool:
        return tuple(map(int, self.version.split("."))) >= tuple(map(int, version.split(".")))

    def _fault(self, kind: str):
        if kind == "timeout":
            raise requests.exceptions.ReadTimeout("fake: read timed out")
        if kind == "refused":
            raise requests.exceptions.ConnectionError("fake: connection refused")
        if kind == "502-html":
            return 502, {"Content-Type": "text/html"}, "<html><body>502 Bad Gateway</body></html>"
        code = int(kind)
        kinds = {429: "general_rate_limit_exceeded", 503: "general_service_disabled"}
        return code, {"Content-Type": "application/json"}, json.dumps(
            {"message": "fake fault", "code": code, "version": self.version,
             "type": kinds.get(code, "general_server_error")})

    def _match(self, method: str, path: str):
        for route_method, regex, handler, scope in self._routes:
            if route_method == method:
                match = regex.match(path)
                if match:
                    return handler, match, scope
        raise ApiError(404, "general_route_not_found", "The requested route was not found.")

    def _authorize(self, request, scope: str) -> None:
        if scope == "public":
            # /health/version: 200 without key and project, but an API key's role has no
            # `public` scope (captures health-version, health-version-with-headers).
            if request.headers.get("x-appwrite-key"):
                raise ApiError(401, "general_unauthorized_scope", f"app.{self.project}@service.appwrite.test "
                               '(role: applications) missing scopes (["public"])')
            return
        if request.headers.get("X-Appwrite-Project") != self.project:
            raise ApiError(404, "project_not_found", "Project with the requested ID could not be found.")
        if not scope:
            return
        if request.headers.get("x-appwrite-key") != self.key:
            # An unknown key leaves the request a guest, which then lacks the route's scope.
            raise ApiError(401, "general_unauthorized_scope", f"User (role: guests) missing scopes ({json.dumps([scope])})")
        # The rows routes take the legacy documents.* scope too, and the message lists every
        # scope that would do (captures scope-readme-rows-list, scope-readme-row-create).
        accepted = [scope] + ([scope.replace("rows.", "documents.")] if scope.startswith("rows.") else [])
        if self.scopes is not None and not self.scopes & set(accepted):
            raise ApiError(401, "general_unauthorized_scope",
                           f"app.{self.project}@service.appwrite.test (role: applications) missing scopes "
                           f"({json.dumps(accepted, separators=(',', ':'))})")

    @staticmethod
    def _parse(request, method: str, path: str, query: str) -> Request:
        params = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        body: dict = {}
        files: dict = {}
        content_type = request.headers.get("Content-Type", "") or ""
        raw = request.body or b""
        if isinstance(raw, str):
            raw = raw.encode()
        if content_type.startswith("multipart/form-data"):
            message = BytesParser().parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            for part in message.get_payload():
                name = part.get_param("name", header="content-disposition")
                if part.get_filename():
                    files[name] = part.get_payload(decode=True)
                else:
                    body[name] = part.get_payload(decode=True).decode()
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:  # a truncated body is an empty one (capture invalid-json-body)
                body = {}
            if not isinstance(body, dict):
                body = {}
        return Request(method, path, params, body, files, {k.lower(): v for k, v in request.headers.items()})


def queries_param(req: Request) -> list[dict]:
    """GET flattens `queries[0]=...`; the server parses each JSON query and enforces caps."""
    raw = [v for k, v in sorted(req.params.items(), key=lambda kv: _index(kv[0])) if k.startswith("queries[")]
    if len(raw) > 100:  # APP_LIMIT_ARRAY_PARAMS_SIZE
        raise ApiError(400, "general_argument_invalid", "Invalid `queries` param: Value must a valid array no longer than 100 items")
    parsed = []
    for text in raw:
        if len(text) > 4096:  # APP_LIMIT_ARRAY_ELEMENT_SIZE
            raise ApiError(400, "general_argument_invalid",
                           "Invalid `queries` param: Value must a valid array no longer than 100 items and each element no longer than 4096 chars")
        try:
            parsed.append(json.loads(text))
        except ValueError:
            raise ApiError(400, "general_query_invalid", "Invalid query: Syntax error") from None
    return parsed


def _index(key: str) -> int:
    m = re.search(r"\[(\d+)\]", key)
    return int(m.group(1)) if m else 0


def page(items: list, total_key: str, req: Request) -> dict:
    return {"total": len(items), total_key: items}
