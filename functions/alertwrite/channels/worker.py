"""The dispatcher as a background thread, for `serve --backend appwrite` (serve's own SQLite
store fires row events instead, as Appwrite does).

Intake calls `announce()` after its commit; the worker wakes and starts `run_due` at once,
in its own thread: a run already sending takes the work over (dispatch.py), so a wake never
waits for a hanging endpoint. Between wakes it polls every `idle` seconds, which picks up
retries as they fall due. On Appwrite, announce() has no listener and the alert-dispatcher
function does this job.
"""
from __future__ import annotations

import logging
import sys
import threading
from typing import Callable

# Anchored on `sys`, not on this module: serve loads each function bundle with its own copy of
# the alertwrite package, and the processor's copy must reach the worker that serve started.
_listeners: list[Callable[[], None]] = sys.__dict__.setdefault("_alertwrite_notification_listeners", [])
log = logging.getLogger("alertwrite.channels")


def announce() -> None:
    """New notifications were committed."""
    for listener in list(_listeners):
        listener()


class Worker:
    def __init__(self, settings, schema, env: dict | None = None, idle: float = 1.0):
        self.settings, self.schema, self.env = settings, schema, env
        self.idle = idle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._waiting = False
        self._thread = threading.Thread(target=self._loop, name="alertwrite-dispatcher", daemon=True)

    def start(self) -> "Worker":
        _listeners.append(self.wake)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.wake in _listeners:
            _listeners.remove(self.wake)
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.idle)
            self._wake.clear()
            if not self._stop.is_set():
                threading.Thread(target=self._run, name="alertwrite-dispatch-run", daemon=True).start()

    def _run(self) -> None:
        from ..errors import StoreUnavailable
        from .dispatch import run_due

        try:
            run_due(None, self.schema, self.settings, env=self.env)
            if self._waiting:
                self._waiting = False
                log.warning("dispatcher: the store is back")
        except StoreUnavailable:
            if not self._waiting:  # once per outage, not once per poll
                self._waiting = True
                log.warning("dispatcher: the store is unavailable; notifications wait, nothing is lost")
        except Exception as exc:  # noqa: BLE001 - the next wake or poll tries again
            log.error("dispatcher run failed: %s: %s", type(exc).__name__, str(exc)[:300])
