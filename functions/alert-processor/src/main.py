"""alert-processor: Alertmanager webhook (payload v4) -> alerts table -> Messaging topics.

Answers follow Alertmanager's retry rules: 2xx only once stored; 400 bad payload and 401 bad
token (not retried); 503 for a transient store fault and 500 for a misconfiguration (both
retried, so nothing is lost while an operator fixes it). Never 429, never a catch-all 200.
"""
import json
import os
import time
import traceback

from .alertwrite.auth import check_bearer
from .alertwrite.channels.worker import announce
from .alertwrite.errors import StoreMisconfigured, StoreUnavailable, store_failure_answer
from .alertwrite.processor import process
from .alertwrite.stats import metrics
from .alertwrite.schema import load_bundled
from .alertwrite.settings import MissingSettings, load_settings
from .alertwrite.stores import open_backend
from .alertwrite.stores.transport import take_new_warnings
from .alertwrite.timeutil import utcnow
from .alertwrite.webhook import PayloadError, parse_delivery


def main(context):
    started = time.perf_counter()
    try:
        answer = _handle(context)
    except Exception:  # an uncaught exception would become an HTML error page
        context.error("internal error: " + traceback.format_exc(limit=8))
        answer = context.res.json({"error": "internal_error"}, statusCode=500)
    metrics.observe_delivery(answer.get("statusCode", 200), time.perf_counter() - started)
    return answer


def _handle(context):
    req = context.req
    try:
        settings = load_settings(dict(os.environ), req.headers)
    except MissingSettings as exc:
        context.error(f"refusing deliveries until configured: {exc}")
        return context.res.json({"error": "not_configured"}, statusCode=500)
    if not check_bearer(req.headers, settings.tokens):
        context.log("rejected delivery: missing or wrong bearer token")
        return context.res.json({"error": "unauthorized"}, statusCode=401)
    try:
        delivery = parse_delivery(req.body_binary, settings.max_body_bytes)
    except PayloadError as exc:
        context.log(f"rejected delivery: {exc}")
        return context.res.json({"error": exc.code}, statusCode=400)
    try:
        schema = load_bundled()
        with open_backend(settings, schema) as (store, messenger):
            summary = process(delivery, store, messenger, schema, utcnow())
    except (StoreUnavailable, StoreMisconfigured) as exc:
        return store_failure_answer(context, exc, "delivery")
    finally:
        for warning in take_new_warnings():
            context.log(f"Appwrite warning (shown once): {warning}")
    if summary.notifications:
        announce()  # committed: wake serve's dispatcher thread (no listener on Appwrite)
        context.log(f"queued {summary.notifications} notifications for the alert-dispatcher")
    if delivery.truncated_alerts:
        context.log(f"delivery {delivery.group_key!r} was truncated by max_alerts: "
                    f"{delivery.truncated_alerts} alerts not received")
    answer = summary.to_dict()
    context.log("stored delivery: " + json.dumps(answer))
    return context.res.json(answer)
