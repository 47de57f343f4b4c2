"""alert-processor: Alertmanager webhook (payload v4) -> alerts table -> Messaging topics.

Answers follow Alertmanager's retry rules: 2xx only once stored; 400 bad payload and 401 bad
token (not retried); 503 for a transient store fault and 500 for a misconfiguration (both
retried, so nothing is lost while an operator fixes it). Never 429, never a catch-all 200.
"""
import json

from .alertwrite.auth import check_bearer
from .alertwrite.channels.worker import announce
from .alertwrite.entry import guarded, log_appwrite_warnings, settings
from .alertwrite.errors import StoreMisconfigured, StoreUnavailable, store_failure_answer
from .alertwrite.processor import process
from .alertwrite.stats import metrics
from .alertwrite.schema import load_bundled
from .alertwrite.stores import open_backend
from .alertwrite.timeutil import utcnow
from .alertwrite.webhook import PayloadError, parse_delivery


def main(context):
    return guarded(context, _handle, metrics.observe_delivery)


def _handle(context):
    req = context.req
    config = settings(context, need_tokens=True, refusing="refusing deliveries until configured")
    if not check_bearer(req.headers, config.tokens):
        context.log("rejected delivery: missing or wrong bearer token")
        return context.res.json({"error": "unauthorized"}, statusCode=401)
    try:
        delivery = parse_delivery(req.body_binary, config.max_body_bytes)
    except PayloadError as exc:
        context.log(f"rejected delivery: {exc}")
        return context.res.json({"error": exc.code}, statusCode=400)
    try:
        schema = load_bundled()
        with open_backend(config, schema) as (store, messenger):
            summary = process(delivery, store, messenger, schema, utcnow())
    except (StoreUnavailable, StoreMisconfigured) as exc:
        return store_failure_answer(context, exc, "delivery")
    finally:
        log_appwrite_warnings(context)
    if summary.notifications:
        announce()  # committed: wake serve's dispatcher thread (no listener on Appwrite)
        context.log(f"queued {summary.notifications} notifications for the alert-dispatcher")
    if delivery.truncated_alerts:
        context.log(f"delivery {delivery.group_key!r} was truncated by max_alerts: "
                    f"{delivery.truncated_alerts} alerts not received")
    answer = summary.to_dict()
    context.log("stored delivery: " + json.dumps(answer))
    return context.res.json(answer)
