"""Appwrite's Python runtime contract (open-runtimes v5), reproduced for local runs and tests.

What it copies (open-runtimes runtimes/python/versions/latest/src/server.py, function_types.py):
- the entrypoint is imported as `function.<entrypoint path>` with the bundle folder as the
  package `function`, so `src/main.py` reaches its siblings by relative import;
- request headers are lowercased; `body_json` raises on invalid JSON; `body` parses JSON only
  for an application/json content type; `query` is split on & and = without URL-decoding;
- `res.json(obj, statusCode=...)`, `res.text`, `res.binary`, `res.empty()` (204), `res.redirect`;
- an uncaught exception, or no return value, becomes an empty 500 with the traceback in the
  error log; a response without a content type is text/plain; charset=utf-8 is appended.
Each function gets its own package name so two bundles can be loaded side by side.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
import time
import traceback
import types
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class Request:
    def __init__(self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes,
                 host: str = "localhost", port: int = 80, scheme: str = "http"):
        self.method = method
        self.path = path
        self.query_string = query_string
        self.query = {}
        for param in query_string.split("&"):
            key, _, value = param.partition("=")
            if key:
                self.query[key] = value
        self.headers = {k.lower(): v for k, v in headers.items() if not k.lower().startswith("x-open-runtimes-")}
        self.body_binary = body
        self.scheme, self.host, self.port = scheme, host, port
        default_port = 443 if scheme == "https" else 80
        self.url = f"{scheme}://{host}" + (f":{port}" if port != default_port else "") + path
        if query_string:
            self.url += "?" + query_string

    @property
    def body_text(self) -> str:
        return self.body_binary.decode("utf-8")

    @property
    def body_raw(self) -> str:
        return self.body_text

    @property
    def body_json(self):
        return json.loads(self.body_text)

    @property
    def body(self):
        if self.headers.get("content-type", "text/plain").lower().startswith("application/json"):
            return self.body_json if self.body_binary else {}
        return self.body_text


class Response:
    def binary(self, data: bytes, statusCode: int = 200, headers: dict | None = None) -> dict:
        return {"body": data, "statusCode": statusCode, "headers": dict(headers or {})}

    def text(self, body: str, statusCode: int = 200, headers: dict | None = None) -> dict:
        return self.binary(body.encode("utf-8"), statusCode, headers)

    def send(self, body, statusCode: int = 200, headers: dict | None = None) -> dict:
        return {"body": body, "statusCode": statusCode, "headers": dict(headers or {})}

    def json(self, obj, statusCode: int = 200, headers: dict | None = None) -> dict:
        headers = {**(headers or {}), "content-type": "application/json"}
        return self.text(json.dumps(obj, separators=(",", ":")), statusCode, headers)

    def empty(self) -> dict:
        return self.text("", 204, {})

    def redirect(self, url: str, statusCode: int = 301, headers: dict | None = None) -> dict:
        return self.text("", statusCode, {**(headers or {}), "location": url})


class Context:
    def __init__(self, req: Request, sink: Callable[[str, str], None] | None = None):
        self.req = req
        self.res = Response()
        self.logs: list[str] = []
        self.errors: list[str] = []
        self._sink = sink

    def log(self, *messages) -> None:
        line = " ".join(_text(m) for m in messages)
        self.logs.append(line)
        if self._sink:
            self._sink("log", line)

    def error(self, *messages) -> None:
        line = " ".join(_text(m) for m in messages)
        self.errors.append(line)
        if self._sink:
            self._sink("error", line)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: bytes
    logs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def json(self):
        return json.loads(self.body)


def execution_headers(trigger: str = "http", key: str = "", event: str = "", client_ip: str = "127.0.0.1") -> dict:
    """The x-appwrite-* headers every execution carries (appwrite general.php, Functions worker)."""
    return {
        "x-appwrite-trigger": trigger,
        "x-appwrite-event": event,
        "x-appwrite-key": key,
        "x-appwrite-user-id": "",
        "x-appwrite-user-jwt": "",
        "x-appwrite-execution-id": uuid.uuid4().hex[:20],
        "x-appwrite-client-ip": client_ip,
        "x-appwrite-country-code": "",
        "x-appwrite-continent-code": "",
        "x-appwrite-continent-eu": "false",
    }


def load_entrypoint(bundle_dir: Path, entrypoint: str = "src/main.py", package: str | None = None):
    """Import the entrypoint the way the runtime does, under a package of its own.

    The package name is unique per bundle folder: two bundles (or two builds of one) loaded in
    one process never share modules, as they never would in Appwrite's separate containers."""
    digest = hashlib.sha256(str(bundle_dir.resolve()).encode()).hexdigest()[:8]
    package = package or "function_" + re.sub(r"\W", "_", bundle_dir.name) + "_" + digest
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    root = types.ModuleType(package)
    root.__path__ = [str(bundle_dir)]
    sys.modules[package] = root
    importlib.invalidate_caches()
    module_path = entrypoint[:-3] if entrypoint.endswith(".py") else entrypoint
    return importlib.import_module(package + "." + module_path.replace("/", "."))


def invoke(module, req: Request, sink: Callable[[str, str], None] | None = None) -> Result:
    context = Context(req, sink)
    started = time.perf_counter()
    try:
        output = module.main(context)
    except Exception as exc:
        context.error("".join(traceback.TracebackException.from_exception(exc).format()))
        output = context.res.text("", 500, {})
    if output is None:
        context.error("Return statement missing. return context.res.empty() if no response is expected.")
        output = context.res.text("", 500, {})
    body = output.get("body", b"")
    body = body.encode("utf-8") if isinstance(body, str) else body
    headers = {k.lower(): v for k, v in output.get("headers", {}).items()}
    content_type = headers.get("content-type", "text/plain").lower()
    if not content_type.startswith("multipart/") and "charset=" not in content_type:
        content_type += "; charset=utf-8"
    headers["content-type"] = content_type
    return Result(output.get("statusCode", 200), headers, body, context.logs, context.errors,
                  (time.perf_counter() - started) * 1000)
