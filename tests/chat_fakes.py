"""Fake Slack, Discord, Teams, generic-webhook and PagerDuty endpoints on 127.0.0.1.

Each path is one endpoint: `/slack/<name>`, `/discord/<name>`, `/teams/<name>`,
`/webhook/<name>`, `/pagerduty/<name>`. Every request is checked against the platform's
documented limits (the same numbers the renderers cite) and recorded; a payload that breaks
one is answered 400 and listed in `violations`, so a test asserts there are none. An
endpoint answers from its script: "200", "500", "429:<seconds>" (Retry-After, and for
Discord a JSON `retry_after`), "410", "400", "hang:<seconds>", or "hold" (received, then
answers 200 once the test calls `release()`); the last entry repeats.
"""
from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

CARD_SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "adaptive-card-1.2-subset.json").read_text())
SLACK_LINK = re.compile(r"<https?://[^|>\s]+\|[^<>]*>")


@dataclass
class Received:
    kind: str
    name: str
    path: str
    headers: dict
    body: bytes
    at: float

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Endpoint:
    script: list[str] = field(default_factory=lambda: ["200"])
    secret: str = ""  # webhook: the whsec_ secret the receiver verifies with
    calls: int = 0

    def next_answer(self) -> str:
        answer = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        return answer


def check_slack(doc: dict) -> list[str]:
    problems = []
    if not isinstance(doc.get("text"), str) or not doc["text"]:
        problems.append("slack: no fallback text")
    blocks = list(doc.get("blocks") or []) + [b for a in doc.get("attachments") or [] for b in a.get("blocks") or []]
    if len(blocks) > 50:
        problems.append(f"slack: {len(blocks)} blocks > 50")
    total = 0
    texts = [doc.get("text", "")]
    for b in blocks:
        if b.get("type") == "section":
            t = b["text"]["text"]
            if len(t) > 3000:
                problems.append(f"slack: section text {len(t)} > 3000")
            total += len(t)
            texts.append(t)
        for e in b.get("elements") or []:
            texts.append(e.get("text", ""))
    if total > 13000:
        problems.append(f"slack: {total} characters of blocks (msg_blocks_too_long)")
    for t in texts:
        bare = SLACK_LINK.sub("", t)
        if "<" in bare or ">" in bare:
            problems.append(f"slack: unescaped < or > in {t[:80]!r}")
        if re.search(r"&(?!amp;|lt;|gt;)", bare):
            problems.append(f"slack: unescaped & in {t[:80]!r}")
    return problems


def check_discord(doc: dict, query: str) -> list[str]:
    problems = []
    if "wait=true" not in query:
        problems.append("discord: no ?wait=true, errors would be silent")
    if doc.get("allowed_mentions") != {"parse": []}:
        problems.append("discord: allowed_mentions must be {parse: []}")
    if len(doc.get("content") or "") > 2000:
        problems.append("discord: content > 2000")
    embeds = doc.get("embeds") or []
    if len(embeds) > 10:
        problems.append("discord: more than 10 embeds")
    total = 0
    for e in embeds:
        for key, limit in (("title", 256), ("description", 4096)):
            if len(e.get(key, "")) > limit:
                problems.append(f"discord: embed {key} > {limit}")
        fields = e.get("fields") or []
        if len(fields) > 25:
            problems.append("discord: more than 25 fields")
        for f in fields:
            if len(f["name"]) > 256 or len(f["value"]) > 1024 or not f["value"]:
                problems.append("discord: field name > 256 or value > 1024 or empty")
        if len(e.get("footer", {}).get("text", "")) > 2048:
            problems.append("discord: footer > 2048")
        total += len(e.get("title", "")) + len(e.get("description", "")) + \
            sum(len(f["name"]) + len(f["value"]) for f in fields) + len(e.get("footer", {}).get("text", ""))
    if total > 6000:
        problems.append(f"discord: {total} characters in embeds > 6000")
    return problems


def check_teams(body: bytes, doc: dict) -> list[str]:
    problems = []
    if len(body) > 28 * 1024:
        problems.append(f"teams: {len(body)} bytes > 28 KB")
    if doc.get("type") != "message" or len(doc.get("attachments") or []) != 1:
        return problems + ["teams: not a Workflows message envelope with one attachment"]
    att = doc["attachments"][0]
    if att.get("contentType") != "application/vnd.microsoft.card.adaptive":
        problems.append("teams: attachment is not an Adaptive Card")
    try:
        jsonschema.validate(att.get("content"), CARD_SCHEMA)
    except jsonschema.ValidationError as exc:
        problems.append(f"teams: Adaptive Card schema: {exc.message[:200]}")
    return problems


def check_pagerduty(doc: dict) -> list[str]:
    problems = []
    if len(doc.get("routing_key") or "") != 32:
        problems.append("pagerduty: routing_key must be 32 characters")
    action = doc.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append(f"pagerduty: event_action {action!r}")
    if action != "trigger" and not doc.get("dedup_key"):
        problems.append("pagerduty: dedup_key required")
    if len(doc.get("dedup_key") or "") > 255:
        problems.append("pagerduty: dedup_key > 255")
    if action == "trigger":
        p = doc.get("payload") or {}
        if not p.get("summary") or len(p["summary"]) > 1024:
            problems.append("pagerduty: payload.summary missing or > 1024")
        if p.get("severity") not in ("critical", "warning", "error", "info"):
            problems.append("pagerduty: payload.severity")
        if not p.get("source"):
            problems.append("pagerduty: payload.source")
    return problems


class ChatFakes:
    def __init__(self):
        self.endpoints: dict[str, Endpoint] = {}
        self.received: list[Received] = []
        self.by_endpoint: dict[tuple[str, str], list[Received]] = {}
        self.violations: list[str] = []
        self.lock = threading.Condition()
        self._stop = threading.Event()
        self._released = threading.Event()
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY a reused (keep-alive)
            # connection waits ~40 ms for the client's delayed ACK, as no real chat server does.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path, _, query = self.path.partition("?")
                parts = path.strip("/").split("/")
                kind, name = (parts + ["", ""])[:2]
                status, headers, answer = fakes._handle(kind, name, path, query, dict(self.headers), body)
                if status is None:
                    return  # hung up
                data = answer.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 drops SYNs when 100 channels send at once, and the
            # client's retransmit adds a whole second.
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, kind: str, name: str, script: list[str] | None = None, secret: str = "") -> str:
        self.endpoints[f"{kind}/{name}"] = Endpoint(list(script or ["200"]), secret)
        return f"{self.base}/{kind}/{name}"

    def script(self, kind: str, name: str, script: list[str]) -> None:
        ep = self.endpoints[f"{kind}/{name}"]
        ep.script, ep.calls = list(script), 0

    def release(self) -> None:
        """Let every "hold" answer go (now and later)."""
        self._released.set()

    def got(self, kind: str | None = None, name: str | None = None) -> list[Received]:
        with self.lock:
            if kind is not None and name is not None:
                return list(self.by_endpoint.get((kind, name), []))
            return [r for r in self.received if (kind is None or r.kind == kind) and (name is None or r.name == name)]

    def wait_for(self, count: int, kind: str | None = None, name: str | None = None, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.got(kind, name)) < count and time.monotonic() < deadline:
                self.lock.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        return self.got(kind, name)

    def _handle(self, kind, name, path, query, headers, body):
        ep = self.endpoints.get(f"{kind}/{name}")
        if ep is None:
            return 404, {}, "no such webhook"
        with self.lock:
            answer = ep.next_answer()
        if answer.startswith("hang"):
            seconds = float(answer.partition(":")[2] or 30)
            self._stop.wait(seconds)
            return None, {}, ""
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        problems = ["not JSON"] if doc is None else self._check(kind, doc, body, query, headers, ep)
        if problems:
            with self.lock:
                self.violations += problems
            return 400, {"Content-Type": "text/plain"}, "; ".join(problems)
        with self.lock:
            got = Received(kind, name, path, headers, body, time.monotonic())
            self.received.append(got)
            self.by_endpoint.setdefault((kind, name), []).append(got)
            self.lock.notify_all()
        if answer == "hold":
            while not (self._released.wait(0.05) or self._stop.is_set()):
                pass
            answer = "200"
        code = int(answer.split(":")[0])
        if code == 429:
            wait = answer.partition(":")[2] or "1"
            if kind == "discord":
                return 429, {"Content-Type": "application/json", "Retry-After": wait, "X-RateLimit-Scope": "user"}, \
                    json.dumps({"message": "You are being rate limited.", "retry_after": float(wait), "global": False})
            return 429, {"Retry-After": wait, "Content-Type": "text/plain"}, "rate_limited"
        if code >= 300:
            return code, {"Content-Type": "text/plain"}, {400: "invalid_payload", 410: "channel_is_archived"}.get(
                code, "server_error")
        if kind == "slack":
            return 200, {"Content-Type": "text/plain"}, "ok"
        if kind == "discord":
            return 200, {"Content-Type": "application/json", "X-RateLimit-Limit": "5",
                         "X-RateLimit-Remaining": "4", "X-RateLimit-Reset-After": "0.4"}, json.dumps({"id": "1"})
        if kind == "pagerduty":
            return 202, {"Content-Type": "application/json"}, json.dumps(
                {"status": "success", "message": "Event processed", "dedup_key": doc.get("dedup_key")})
        return 200, {"Content-Type": "text/plain"}, "1"

    def _check(self, kind, doc, body, query, headers, ep) -> list[str]:
        if kind == "slack":
            return check_slack(doc)
        if kind == "discord":
            return check_discord(doc, query)
        if kind == "teams":
            return check_teams(body, doc)
        if kind == "pagerduty":
            return check_pagerduty(doc)
        if kind == "webhook":
            if not ep.secret:
                return []
            try:
                # the reference library, an implementation independent of ours
                Webhook(ep.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                return [f"webhook: signature: {exc}"]
            return []
        return [f"unknown kind {kind}"]
