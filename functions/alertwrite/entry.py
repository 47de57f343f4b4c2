"""What every function's `main(context)` shares, so each main is only its own steps.

`guarded` runs a handler: an uncaught exception becomes a logged traceback and a JSON 500
(Appwrite would replace an empty error body with its HTML error page), and an `Answered`
raised by a step is that step's answer. `settings` reads the run's settings or answers 500
naming what is missing.
"""
from __future__ import annotations

import os
import time
import traceback
from typing import Callable

from .settings import MissingSettings, Settings, load_settings
from .stores.transport import take_new_warnings


class Answered(Exception):
    """A step has answered the execution (a refusal); `guarded` returns the answer."""

    def __init__(self, answer):
        super().__init__("answered")
        self.answer = answer


def guarded(context, handle: Callable, observe: Callable[[int, float], None] | None = None):
    """`observe(status, seconds)` sees every answer, the 500 of a crash included."""
    started = time.perf_counter()
    try:
        answer = handle(context)
    except Answered as done:
        answer = done.answer
    except Exception:  # noqa: BLE001 - the one place an uncaught exception is turned into an answer
        context.error("internal error: " + traceback.format_exc(limit=8))
        answer = context.res.json({"error": "internal_error"}, statusCode=500)
    if observe is not None:
        observe(answer.get("statusCode", 200) if isinstance(answer, dict) else 200, time.perf_counter() - started)
    return answer


def settings(context, need_tokens: bool = False, refusing: str = "not configured") -> Settings:
    try:
        return load_settings(os.environ, context.req.headers, need_tokens=need_tokens)
    except MissingSettings as exc:
        context.error(f"{refusing}: {exc}")
        raise Answered(context.res.json({"error": "not_configured"}, statusCode=500)) from None


def log_appwrite_warnings(context) -> None:
    for warning in take_new_warnings():
        context.log(f"Appwrite warning (shown once): {warning}")
