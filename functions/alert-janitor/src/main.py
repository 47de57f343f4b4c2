"""alert-janitor: scheduled; resolves firing alerts that Alertmanager stopped re-sending."""
import os
import traceback
from datetime import timedelta

from .alertwrite.errors import StoreMisconfigured, StoreUnavailable, store_failure_answer
from .alertwrite.janitor import DEFAULT_STALE_AFTER_MINUTES, sweep
from .alertwrite.schema import load_bundled
from .alertwrite.settings import MissingSettings, load_settings
from .alertwrite.stores import open_backend
from .alertwrite.timeutil import utcnow


def main(context):
    try:
        return _handle(context)
    except Exception:
        context.error("internal error: " + traceback.format_exc(limit=8))
        return context.res.json({"error": "internal_error"}, statusCode=500)


def _handle(context):
    try:
        settings = load_settings(dict(os.environ), context.req.headers, need_tokens=False)
        minutes = float(os.environ.get("ALERTWRITE_STALE_AFTER_MINUTES") or DEFAULT_STALE_AFTER_MINUTES)
    except MissingSettings as exc:
        context.error(f"not configured: {exc}")
        return context.res.json({"error": "not_configured"}, statusCode=500)
    except ValueError:
        context.error("ALERTWRITE_STALE_AFTER_MINUTES must be a number of minutes (0 turns the janitor off)")
        return context.res.json({"error": "not_configured"}, statusCode=500)
    if minutes <= 0:
        context.log("janitor is off (ALERTWRITE_STALE_AFTER_MINUTES=0)")
        return context.res.json({"resolved": 0, "moreLeft": False})
    try:
        schema = load_bundled()
        with open_backend(settings, schema) as (store, _):
            result = sweep(store, schema, utcnow(), timedelta(minutes=minutes))
    except (StoreUnavailable, StoreMisconfigured) as exc:
        return store_failure_answer(context, exc, "sweep")
    context.log(f"resolved {result.resolved} alerts not seen for {minutes:g} minutes"
                + (" (more left for the next run)" if result.more_left else ""))
    return context.res.json(result.to_dict())
