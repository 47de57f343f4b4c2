"""The notification state machine, pure: an attempt's outcome -> the row's next state.

    pending ──send ok──▶ sent
       │ retryable (network error, timeout, 5xx, 429)
       ▼
    retrying ──(exponential back-off with jitter, capped; Retry-After / retry_after win)──▶ …
       │ attempts or age exhausted, or a non-retryable answer (other 4xx, refused URL)
       ▼
     dead        (410 Gone also disables the channel [SW:spec "410 Gone ⇒ disable endpoint"])

Alertmanager retries 5xx only, never reads Retry-After and gives up at the group interval
[AM:notify/util.go, retry_stage.go]; this keeps going until the bounds below.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from .ssrf import Answer

PENDING, RETRYING, SENT, DEAD = "pending", "retrying", "sent", "dead"
OPEN = (PENDING, RETRYING)
STATES = (PENDING, RETRYING, SENT, DEAD)


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 12
    max_age: timedelta = timedelta(hours=24)
    base_seconds: float = 5.0
    cap_seconds: float = 1800.0
    jitter: float = 0.2  # ± fraction, so many channels retrying at once spread out

    @classmethod
    def from_env(cls, env: dict) -> "Policy":
        def number(name: str, default: float) -> float:
            try:
                value = float(env.get(name) or default)
            except ValueError:
                return default
            return value if value > 0 else default

        return cls(max_attempts=int(number("ALERTWRITE_CHANNELS_MAX_ATTEMPTS", 12)),
                   max_age=timedelta(hours=number("ALERTWRITE_CHANNELS_MAX_AGE_HOURS", 24)),
                   base_seconds=number("ALERTWRITE_CHANNELS_RETRY_BASE_SECONDS", 5.0),
                   cap_seconds=number("ALERTWRITE_CHANNELS_RETRY_CAP_SECONDS", 1800.0))

    def backoff(self, attempt: int, rand: random.Random | None = None) -> float:
        """Seconds before attempt `attempt + 1`, after `attempt` failures (1-based)."""
        raw = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        r = (rand or random).uniform(-self.jitter, self.jitter)
        return min(self.cap_seconds, raw * (1 + r))


@dataclass(frozen=True)
class Outcome:
    verdict: str  # ok | retry | dead | gone
    status: int | None = None
    error: str = ""
    retry_after: float | None = None


def retry_after(answer: Answer, now: datetime) -> float | None:
    """Retry-After (seconds or an HTTP date) or Discord's JSON `retry_after` (float seconds)
    [DD:topics/rate-limits.mdx]."""
    value = answer.header("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
            except (TypeError, ValueError):
                pass
    if answer.header("content-type").startswith("application/json"):
        try:
            doc = json.loads(answer.body)
        except ValueError:
            return None
        if isinstance(doc, dict) and isinstance(doc.get("retry_after"), (int, float)):
            return max(0.0, float(doc["retry_after"]))
    return None


def classify(answer: Answer, now: datetime) -> Outcome:
    code = answer.status
    excerpt = " ".join(answer.body.split())[:500]
    if 200 <= code < 300:
        return Outcome("ok", code)
    if code == 429:
        return Outcome("retry", code, f"429 rate limited: {excerpt}", retry_after(answer, now))
    if code >= 500:
        return Outcome("retry", code, f"{code}: {excerpt}", retry_after(answer, now))
    if code == 410:
        return Outcome("gone", code, f"410 Gone: {excerpt}")
    if 300 <= code < 400:
        return Outcome("dead", code, f"{code} redirect refused (redirects are never followed)")
    return Outcome("dead", code, f"{code}: {excerpt}")


def network_failure(error: str) -> Outcome:
    return Outcome("retry", None, error)


def refused(error: str) -> Outcome:
    return Outcome("dead", None, f"refused: {error}")


def next_state(outcome: Outcome, attempts: int, created: datetime, now: datetime, policy: Policy,
               rand: random.Random | None = None) -> dict:
    """Column changes for a notification after its `attempts`-th attempt ended with `outcome`."""
    base = {"attempts": attempts, "lastStatus": outcome.status, "lastError": outcome.error or None}
    if outcome.verdict == "ok":
        return {**base, "status": SENT, "sentAt": now, "nextAttemptAt": None, "lastError": None}
    if outcome.verdict in ("dead", "gone"):
        return {**base, "status": DEAD, "nextAttemptAt": None}
    delay = policy.backoff(attempts, rand)
    if outcome.retry_after is not None:
        delay = min(max(outcome.retry_after, 0.5), policy.cap_seconds)
    due = now + timedelta(seconds=delay)
    if attempts >= policy.max_attempts:
        return {**base, "status": DEAD, "nextAttemptAt": None,
                "lastError": f"gave up after {attempts} attempts; last: {outcome.error}"[:2000]}
    if due - created > policy.max_age:
        return {**base, "status": DEAD, "nextAttemptAt": None,
                "lastError": f"gave up after {policy.max_age} of retries; last: {outcome.error}"[:2000]}
    return {**base, "status": RETRYING, "nextAttemptAt": due}
