"""GET /stats (the document `alertwrite stats --json` prints) and GET /metrics (Prometheus text).

GET /metrics needs a viewer token unless ALERTWRITE_METRICS_PUBLIC=1: a Prometheus scrape job
sends one with `authorization: {credentials: ...}`; some setups scrape only on a private network.
"""
from __future__ import annotations

from ..stats import metrics
from ..stats.query import stats
from ..stats.statistics import StatsInputError
from .auth import authenticate
from .router import ApiCall, ApiError, ApiResult, qparam, route

STATS = {"type": "object", "required": ["window", "overall", "groups", "noisy", "flapping", "neverAcked", "series"]}


@route("GET", "/stats", "viewer", summary="MTTA/MTTR (mean, median, p90), noisy, flapping and never-acked alerts",
       query=(qparam("since", "window back from until or now: 30m, 12h, 7d"),
              qparam("from", "window start: 2026-11-01 or RFC 3339"), qparam("until", "window end (default now)"),
              qparam("by", "alertname|severity|tenant|receiver|instance|label:NAME"),
              qparam("top", "rows per top list (1-1000)", {"type": "integer", "minimum": 1, "maximum": 1000}),
              qparam("tz", "IANA time zone for day buckets"), qparam("bucket", "day|hour", {"enum": ["day", "hour"]})),
       response=STATS)
def get_stats(call: ApiCall):
    q = call.query
    try:
        top = int(q["top"]) if q.get("top") else None
    except ValueError:
        raise ApiError(400, "invalid_query", "top must be a whole number") from None
    if top is not None and not 1 <= top <= 1000:
        raise ApiError(400, "invalid_query", "top must be between 1 and 1000")
    if q.get("bucket") and q["bucket"] not in ("day", "hour"):
        raise ApiError(400, "invalid_query", "bucket must be day or hour")
    try:
        return stats(call.rows, call.now, since=q.get("since") or None, from_=q.get("from") or None,
                     until=q.get("until") or None, by=q.get("by") or None, top=top, tz=q.get("tz") or None,
                     bucket=q.get("bucket") or None, env=call.settings.env)
    except StatsInputError as exc:
        raise ApiError(400, "invalid_query", str(exc)) from None


@route("GET", "/metrics", None, summary="Prometheus metrics (viewer token unless ALERTWRITE_METRICS_PUBLIC=1)",
       response={"type": "string"}, content_type=metrics.CONTENT_TYPE)
def get_metrics(call: ApiCall):
    if call.settings.env.get("ALERTWRITE_METRICS_PUBLIC") != "1":
        actor = authenticate(call.headers, call.settings.store, call.settings.ops)
        if not actor.allows("viewer"):
            raise ApiError(403, "forbidden", "needs role viewer")
    body, content_type = metrics.render(call.rows, call.schema, call.settings, now=call.now)
    return ApiResult(text=body.decode("utf-8"), headers={"content-type": content_type})
