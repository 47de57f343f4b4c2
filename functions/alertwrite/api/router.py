"""The operator API's routing: routes register next to their handlers, with their OpenAPI parts.

`route(method, pattern, role, ...)` registers `handler(call: ApiCall) -> ApiResult | dict`.
Roles are ordered viewer < responder < admin; role None means no authentication (only /health,
/openapi.json and the signed action links, which carry their own proof).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from urllib.parse import parse_qsl

from ..operations.actor import ANONYMOUS, ROLES, Actor, OpError  # noqa: F401

MAX_BODY_BYTES = 1024 * 1024


class ApiError(OpError):
    """Raised by handlers; the answer is {"error": code, "detail": ...} with `status`."""


@dataclass
class ApiResult:
    body: object = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a non-JSON answer (text/html, text/plain)


@dataclass
class ApiCall:
    method: str
    path: str
    params: dict[str, str]
    query_pairs: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str]
    actor: Actor
    rows: object  # RowStore
    schema: object  # Schema
    settings: object  # ApiSettings
    now: datetime

    @property
    def query(self) -> dict[str, str]:
        return dict(self.query_pairs)

    def query_list(self, name: str) -> list[str]:
        return [v for k, v in self.query_pairs if k == name]

    @property
    def json(self) -> dict:
        if not self.body.strip():
            return {}
        try:
            doc = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "invalid_json", "the body is not JSON") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "invalid_body", "the body must be a JSON object")
        return doc


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    role: str | None
    handler: Callable
    summary: str
    query: tuple[dict, ...] = ()  # OpenAPI parameter objects (in: query)
    request: dict | None = None  # JSON schema of the body
    response: dict | None = None  # JSON schema of the 2xx answer
    status: int = 200
    content_type: str = "application/json"
    tag: str = ""

    @functools.cached_property
    def regex(self) -> re.Pattern:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.pattern) + "/?$")

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.pattern)


ROUTES: list[Route] = []


def route(method: str, pattern: str, role: str | None, *, summary: str, query: tuple[dict, ...] = (),
          request: dict | None = None, response: dict | None = None, status: int = 200,
          content_type: str = "application/json", tag: str = ""):
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def register(handler: Callable) -> Callable:
        ROUTES.append(Route(method.upper(), pattern, role, handler, summary, query, request, response, status,
                            content_type, tag or pattern.strip("/").split("/")[0]))
        return handler
    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for (method, path): 404 when no pattern matches, 405 for another method."""
    methods = []
    for r in ROUTES:
        m = r.regex.match(path)
        if m:
            if r.method == method.upper():
                return r, m.groupdict()
            methods.append(r.method)
    if methods:
        raise ApiError(405, "method_not_allowed", f"use {', '.join(sorted(set(methods)))}")
    raise ApiError(404, "not_found", "no such endpoint")


def parse_query(query_string: str) -> list[tuple[str, str]]:
    # The runtime hands `query` over without URL-decoding (open-runtimes server.py), so the
    # raw query string is decoded here, keeping repeated keys (label=a=b&label=c=d).
    return parse_qsl(query_string or "", keep_blank_values=True)


def qparam(name: str, description: str, schema: dict | None = None, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}
