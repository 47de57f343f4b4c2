"""Per-channel rate budgets: the earliest moment a channel may be sent to again.

Kept on the channel row (`nextSendAt`) so every dispatcher execution shares it. Over budget,
the dispatcher coalesces the channel's due notifications into one message instead of
dropping or hammering. Discord bans an IP after 10,000 invalid (401/403/429) requests in
10 minutes [DD:topics/rate-limits.mdx]: reading its headers keeps 429s rare, and a 429 always
waits at least its retry_after.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from . import slack, teams
from .ssrf import Answer

MIN_INTERVAL = {
    "slack": 1 / slack.RATE_PER_SECOND,  # ~1 message/s per incoming webhook
    "teams": 1 / teams.RATE_PER_SECOND,  # ≤ 4 requests/s
    "pagerduty": 0.5,  # ~120 events/min per integration key [community.pagerduty.com …/3318]
}
# How long one dispatcher run waits for a budget before leaving the work to the next run.
MAX_WAIT_SECONDS = 2.0


def next_send_at(channel_type: str, sent_at: datetime, answer: Answer | None,
                 retry_after: float | None = None) -> datetime:
    wait = MIN_INTERVAL.get(channel_type, 0.0)
    if answer is not None and channel_type == "discord":
        # X-RateLimit-Remaining 0 means the bucket is empty until Reset-After seconds pass.
        remaining, reset_after = answer.header("x-ratelimit-remaining"), answer.header("x-ratelimit-reset-after")
        try:
            if remaining and int(float(remaining)) <= 0 and reset_after:
                wait = max(wait, float(reset_after))
        except ValueError:
            pass
    if retry_after is not None:
        wait = max(wait, retry_after)
    return sent_at + timedelta(seconds=wait)
