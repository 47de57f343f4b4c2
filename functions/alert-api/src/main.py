"""alert-api: the operator API (alerts, ack/resolve/silence, silences, audit, action links).

Auth is per request (execute: any): an API token, or a signed-in Appwrite user verified through
the JWT Appwrite passes. See alertwrite/api/ for the routes and alertwrite/operations/ for the
operations they call.
"""
import os

from .alertwrite import api  # noqa: F401  (registers the routes)
from .alertwrite.api.app import handle, handle_event
from .alertwrite.entry import guarded, log_appwrite_warnings
from .alertwrite.schema import load_bundled


def main(context):
    return guarded(context, _handle)


def _handle(context):
    req = context.req
    try:
        if req.headers.get("x-appwrite-trigger") == "event":
            answer = handle_event(req.headers.get("x-appwrite-event", ""), req.body_binary, req.headers,
                                  dict(os.environ), load_bundled(), log=context.error)
        else:
            answer = handle(req.method, req.path, req.query_string, req.headers, req.body_binary,
                            dict(os.environ), load_bundled(), log=context.error)
    finally:
        log_appwrite_warnings(context)
    if answer.text is not None:
        headers = {"content-type": "text/plain; charset=utf-8", **answer.headers}
        return context.res.text(answer.text, answer.status, headers)
    if answer.status == 204:
        return context.res.empty()
    return context.res.json(answer.body, statusCode=answer.status, headers=answer.headers)
