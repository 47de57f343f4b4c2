"""alert-scheduler: every minute; escalation steps, ack timeouts, heartbeats, janitor, retention.

`ALERTWRITE_SCHEDULER_AT` (set by `alertwrite run alert-scheduler --at ISO`) runs the jobs as if
it were that instant: local SQLite store only, refused on Appwrite, where time travel would page
real people at the wrong time.
"""
import json
import os

from .alertwrite.entry import guarded, settings
from .alertwrite.errors import StoreMisconfigured, StoreUnavailable, store_failure_answer
from .alertwrite.schema import load_bundled
from .alertwrite.stats import metrics
from .alertwrite.scheduling.scheduler import JobsFailed, run
from .alertwrite.stores import open_rows
from .alertwrite.timeutil import parse_rfc3339, utcnow


def main(context):
    return guarded(context, _handle, lambda status, _: metrics.observe_scheduled_run("alert-scheduler", status < 300))


def _handle(context):
    config = settings(context)
    now = utcnow()
    at = os.environ.get("ALERTWRITE_SCHEDULER_AT", "")
    if at:
        if config.backend != "sqlite":
            context.error("ALERTWRITE_SCHEDULER_AT works on the local SQLite store only")
            return context.res.json({"error": "time_travel_refused"}, statusCode=500)
        try:
            now = parse_rfc3339(at)
        except ValueError as exc:
            context.error(str(exc))
            return context.res.json({"error": "bad_time"}, statusCode=500)
    try:
        schema = load_bundled()
        with open_rows(config, schema) as rows:
            summary = run(rows, schema, config, now)
    except JobsFailed as exc:
        context.error(f"scheduler jobs failed: {exc}")
        return context.res.json({"error": "jobs_failed", "summary": exc.summary},
                                statusCode=503 if exc.transient else 500)
    except (StoreUnavailable, StoreMisconfigured) as exc:
        return store_failure_answer(context, exc, "scheduler run")
    for name, result in summary.items():
        if isinstance(result, dict) and result.get("error"):
            context.error(f"{name}: {result['error']}")
    context.log("scheduler run: " + json.dumps(summary, sort_keys=True))
    return context.res.json({"at": now.isoformat(timespec="seconds"), **summary})
