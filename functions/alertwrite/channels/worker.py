"""The dispatcher as a background thread, for `serve` (one process, no Appwrite events).

Intake calls `announce()` after its commit; the worker wakes and runs `run_due` at once. A
run that waits on a hanging endpoint must not hold up the next delivery, so each wake starts
its own run, up to `parallel` at a time (claims keep overlapping runs from sending twice).
Between wakes it polls every `idle` seconds, which picks up retries as they fall due.
On Appwrite, announce() has no listener and the alert-dispatcher function does this job.
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
    def __init__(self, settings, schema, env: dict | None = None, idle: float = 1.0, parallel: int = 4):
        self.settings, self.schema, self.env = settings, schema, env
        self.idle, self.parallel = idle, parallel
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._slots = threading.Semaphore(parallel)
        self._waiting = False
        self._missed = False
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
            if self._stop.is_set():
                return
            # Every run busy: wait for one to end. Wakes meanwhile fold into the run started
            # then, which sees everything committed before it.
            while not self._slots.acquire(timeout=0.5):
                if self._stop.is_set():
                    return
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        from ..errors import StoreUnavailable
        from .dispatch import run_due

        try:
            summary = run_due(None, self.schema, self.settings, env=self.env)
            if summary.get("busy"):
                # another run holds those channels and is about to finish: look again soon,
                # not at the next poll
                self._stop.wait(0.02)
                self.wake()
            if self._waiting:
                self._waiting = False
                log.warning("dispatcher: the store is back")
        except StoreUnavailable:
            if not self._waiting:  # once per outage, not once per poll
                self._waiting = True
                log.warning("dispatcher: the store is unavailable; notifications wait, nothing is lost")
        except Exception as exc:  # noqa: BLE001 - the next wake or poll tries again
            log.error("dispatcher run failed: %s: %s", type(exc).__name__, str(exc)[:300])
        finally:
            self._slots.release()
