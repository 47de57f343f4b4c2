"""alert-dispatcher: sends due notifications to their channels.

Triggered by the notifications row *create* event and every minute by its schedule (retries,
deferred budgets); either way it sends everything due. An execution that finds another one
of this process sending hands its work over and returns (dispatch.py). It
updates notification rows and creates attempt rows, and subscribes to neither, so it never
re-triggers itself (appwrite/appwrite#3025).
"""
import json

from .alertwrite.channels.dispatch import run_due
from .alertwrite.entry import guarded, settings
from .alertwrite.errors import StoreMisconfigured, StoreUnavailable, store_failure_answer
from .alertwrite.schema import load_bundled
from .alertwrite.stats import metrics
from .alertwrite.timeutil import utcnow


def main(context):
    return guarded(context, _handle, lambda status, _: metrics.observe_scheduled_run("alert-dispatcher", status < 300))


def _handle(context):
    req = context.req
    config = settings(context)
    channel, title = None, ""
    if req.headers.get("x-appwrite-trigger") == "event":
        try:
            row = json.loads(req.body_text or "{}")
            channel, title = row.get("channel") or None, str(row.get("title") or "")
        except (ValueError, AttributeError):
            channel = None
    try:
        # Everything due, not only this row's channel: the rows of one delivery are committed
        # together, so the first execution sends them all and the others find them claimed.
        summary = run_due(None, load_bundled(), config, utcnow())
    except (StoreUnavailable, StoreMisconfigured) as exc:
        return store_failure_answer(context, exc, "dispatch")
    if title:
        context.log(f"notification for {channel}: {title}")
    if summary["due"]:
        context.log("dispatched: " + json.dumps(summary, sort_keys=True))
    return context.res.json(summary)
