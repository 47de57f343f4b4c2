"""Sending what is due: `run_due`, the one dispatcher.

A run works in short store phases and holds no store transaction while a chat endpoint
answers, so a slow endpoint never blocks intake:
  round   one transaction reads what is due and claims it: each attempt first creates
          `notification_attempts/<id>.<n>`, and only the creator sends; a claimed row is
          not due again until its lease ends, so other rounds and executions read past it;
  send    every claimed channel's sends run in parallel, each channel's one after another;
  record  outcomes are written as they come in, all that finished together in one transaction.
An attempt that never recorded its end (the dispatcher died between the send and its record)
is reclaimed after a lease as attempt n+1: that is the one case that can send twice, and a
`webhook` receiver sees the same `webhook-id` both times.

One run per store per process takes the work: a run that starts while another is sending
hands its work to that one and returns at once (each notification's create event starts
a run, so 100 channels would otherwise be 100 runs, each reading and claiming on its own).
The running one does another round whenever work is handed to it or a channel it skipped
comes free, and stops taking work after ROUND_SECONDS. A channel whose endpoint hangs holds
its own lane only: the other channels' sends and rounds go on around it.

On Appwrite the dispatcher function subscribes to notifications row *create* events only:
it updates notification rows and creates attempt rows, neither of which re-triggers it.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from ..stats import metrics
from ..timeutil import format_ms, parse_rfc3339, utcnow
from . import budget, delivery, render, ssrf, topic
from .model import ATTEMPTS_TABLE, CHANNELS_TABLE, NOTIFICATIONS_TABLE, Channel, Event
from .outbox import channel_of
from .ssrf import Answer, NetworkError, Refused

log = logging.getLogger("alertwrite.channels")
COALESCE_MAX = 50  # notifications folded into one chat message at most
PER_RUN_SINGLE = 20  # webhook/pagerduty notifications sent per channel per round (one request each)
UNCOALESCED = ("webhook", "pagerduty")  # each keeps its own webhook-id / dedup_key
WORKERS = 32  # sends wait on the network, not the CPU; a hanging endpoint holds one
DUE_BATCH = 100  # a find answers at most 100 rows (stores.rows.MAX_LIMIT); a full one means look again
ROUND_SECONDS = 60.0  # then a run finishes what it sent and returns (alert-dispatcher's timeout is 120 s)
MAX_NAMED = 100  # channels named in one query (Appwrite's limit on a query's values)


@dataclass
class Context:
    schema: object
    settings: object
    policy: delivery.Policy
    allow_private: bool
    timeout: float
    open_rows: Callable  # () -> context manager yielding a RowStore
    open_messenger: Callable  # () -> context manager yielding a Messenger
    sleep: Callable[[float], None] = time.sleep
    offset: timedelta = timedelta(0)  # run_due(now=...) runs as if at that time (alertwrite run --at)
    round_seconds: float = ROUND_SECONDS

    def clock(self) -> datetime:
        return utcnow() + self.offset

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout * 2 + 60)


def _context(rows, schema, settings, env: dict | None = None, **overrides) -> Context:
    env = dict(os.environ if env is None else env)

    @contextmanager
    def open_rows():
        if rows is not None:
            yield rows
            return
        from ..stores import open_rows as opener
        with opener(settings, schema) as store:
            yield store

    @contextmanager
    def open_messenger():
        from ..stores import open_backend
        with open_backend(settings, schema) as (_, messenger):
            yield messenger

    timeout = _seconds(env.get("ALERTWRITE_CHANNELS_TIMEOUT"), 10.0)
    ctx = Context(schema, settings, delivery.Policy.from_env(env), env.get("ALERTWRITE_CHANNELS_ALLOW_PRIVATE") == "1",
                  timeout, open_rows, open_messenger)
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


def _seconds(text: str | None, default: float) -> float:
    """A bad setting is logged and the default used, as delivery.Policy does: a typo must not
    stop every notification."""
    try:
        value = float(text or default)
    except ValueError:
        log.error("ALERTWRITE_CHANNELS_TIMEOUT=%r is not a number of seconds; using %g", text, default)
        return default
    return value if value > 0 else default


# ---- one run per store per process ----------------------------------------------------------

class _Run:
    """The run that takes this store's work in this process; others hand theirs to it."""

    def __init__(self):
        self.woken: Future = Future()
        self.wanted: set[str] | None = set()  # channels handed over since the last round; None: all
        self.closing = False

    def hand(self, channels: Iterable[str] | None) -> None:  # under _lock
        if channels is None:
            self.wanted = None
        elif self.wanted is not None:
            self.wanted.update(channels)
        if not self.woken.done():
            self.woken.set_result(True)

    def take(self) -> set[str] | None:  # under _lock: what the next round looks at
        wanted, self.wanted, self.woken = self.wanted, set(), Future()
        return wanted


_lock = threading.Lock()
_runs: dict[tuple, _Run] = {}
# (store, channel) with a send under way in this process, and those a round skipped for it.
_in_flight: set[tuple] = set()
_skipped: set[tuple] = set()


def _store_key(settings) -> tuple:
    return (settings.backend, settings.sqlite_path or f"{settings.endpoint}#{settings.project_id}")


def _new_summary() -> dict:
    # deferred: over a rate budget; busy: another send to that channel is under way
    return {"due": 0, "sent": 0, "retrying": 0, "dead": 0, "coalesced": 0, "deferred": 0, "busy": 0, "rounds": 0}


def run_due(rows, schema, settings, now: datetime | None = None, *, channel: str | None = None,
            ids: Iterable[str] | None = None, env: dict | None = None, **overrides) -> dict:
    """Send every due notification (or only `channel`'s, or only `ids`). Pass rows=None to let
    each phase open its own short store (what the dispatcher function and serve do); then a
    run that finds another one sending hands its work over and returns `{"handedOver": 1}`."""
    key = _store_key(settings)
    summary = _new_summary()
    scope = None if channel is None else {channel}
    ids = list(ids) if ids is not None else None
    offset = (now - utcnow()) if now else timedelta(0)
    run = None
    if rows is None and ids is None and abs(offset) < timedelta(seconds=1):
        with _lock:
            active = _runs.get(key)
            if active is not None and not active.closing:
                active.hand(scope)
                return {**summary, "handedOver": 1}
            run = _runs[key] = _Run()
    try:
        ctx = _context(rows, schema, settings, env, **overrides)
        ctx.offset = offset
        _drive(ctx, key, run, scope, ids, summary)
    finally:
        if run is not None:
            with _lock:
                run.closing = True
                if _runs.get(key) is run:
                    del _runs[key]
    return summary


def _drive(ctx: Context, key: tuple, run: _Run | None, scope: set[str] | None, ids: list[str] | None,
           summary: dict) -> None:
    deadline = time.monotonic() + ctx.round_seconds
    outstanding: dict[Future, Job] = {}
    look: tuple | None = (scope, ids)  # the next round's (channels, ids), or None: no round
    pool = _senders()
    try:
        while True:
            if look is not None:
                for job in _round(ctx, key, *look, summary):
                    outstanding[pool.submit(_send_job, ctx, job)] = job
                look = None
            if not outstanding:
                if run is None:
                    return
                with _lock:
                    if not run.woken.done() or time.monotonic() > deadline:
                        run.closing = True  # from here on, a new run starts for new work
                        return
                    look = (run.take(), None)
                continue
            waiting = set(outstanding) | ({run.woken} if run and not run.closing else set())
            done, _ = wait(waiting, return_when=FIRST_COMPLETED)
            finished = [(outstanding[f], f.result()) for f in done if f in outstanding]
            again: set[str] = set()
            if finished:
                try:
                    _record(ctx, finished, summary)
                finally:
                    for f in done:
                        outstanding.pop(f, None)
                    again = _release(key, [job.channel.name for job, _ in finished], run)
                again |= {job.channel.name for job, _ in finished if job.more}
            if run is not None:
                with _lock:
                    if time.monotonic() > deadline:
                        run.closing = True
                    elif run.woken.done():
                        wanted = run.take()
                        look = (None if wanted is None else wanted | again, None)
            if look is None and again and (run is None or not run.closing):
                look = (again if scope is None else again & scope, ids)
    finally:
        if outstanding:  # an error above: the sends under way finish, and are recorded if the store lets us
            rest = [(job, f.result()) for f, job in outstanding.items()]
            try:
                _record(ctx, rest, summary)
            except Exception as exc:  # noqa: BLE001 - the error above is the one to raise
                log.error("could not record %d sends: %s", len(rest), exc)
            _release(key, [job.channel.name for job, _ in rest], run)


_pool: ThreadPoolExecutor | None = None


def _senders() -> ThreadPoolExecutor:
    """The process's sending threads, kept between runs so their connections are too (ssrf.py)."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="alertwrite-send")
        return _pool


def _release(key: tuple, names: list[str], run: _Run | None) -> set[str]:
    """The channels are free again; those a round skipped meanwhile get another round
    (returned, and handed to this store's running run if that is another one)."""
    with _lock:
        pairs = {(key, n) for n in names}
        _in_flight.difference_update(pairs)
        freed = {n for _, n in pairs & _skipped}
        _skipped.difference_update(pairs)
        active = _runs.get(key)
        if freed and active is not None and active is not run and not active.closing:
            active.hand(freed)
    return freed


@dataclass
class Job:
    channel: Channel
    batches: list[list[dict]]  # claimed rows; a batch goes out as one message
    wait: float
    more: bool = False  # due rows were left for the next round (per-round caps)


@dataclass
class Sent:
    batch: list[dict]
    outcome: delivery.Outcome
    answer: Answer | None
    finished: datetime
    elapsed_ms: int


def _round(ctx: Context, key: tuple, channels: set[str] | None, ids: list[str] | None, summary: dict) -> list[Job]:
    """Read what is due (of `channels`, or of `ids`) and claim it."""
    if channels is not None and not channels:
        return []
    if channels is not None and len(channels) > MAX_NAMED:
        channels = None
    now = ctx.clock()
    with ctx.open_rows() as store:
        if ids is not None:
            due = [r for r in (store.get(NOTIFICATIONS_TABLE, i) for i in ids)
                   if r and r.get("status") in delivery.OPEN]
        else:
            where = [("status", "in", list(delivery.OPEN)), ("nextAttemptAt", "<=", format_ms(now))]
            if channels is not None:
                where.append(("channel", "in", sorted(channels)))
            due = store.find(NOTIFICATIONS_TABLE, where, order=[("nextAttemptAt", "asc")], limit=DUE_BATCH)
            if len(due) == DUE_BATCH and channels is None:
                due += _others_due(store, key, where, due)
        summary["due"] += len(due)
        summary["rounds"] += 1
        if not due:
            return []
        groups: dict[str, list[dict]] = {}
        for row in due:
            groups.setdefault(row["channel"], []).append(row)
        known = _channels(store, list(groups))
        jobs: list[Job] = []
        try:
            for name, items in groups.items():
                if job := _prepare(ctx, key, store, known.get(name), name, items, summary):
                    job.more = job.more or len(due) == DUE_BATCH
                    jobs.append(job)
            return _claim_all(ctx, key, store, jobs)
        except BaseException:
            _release(key, [job.channel.name for job in jobs], None)
            raise


def _others_due(store, key: tuple, where: list, page: list[dict]) -> list[dict]:
    """A full page can be one channel's backlog (a hanging endpoint's, or one over its budget):
    the other channels' due rows are read too, so they never wait behind it."""
    seen = {row["channel"] for row in page}
    with _lock:
        busy = {name for k, name in _in_flight if k == key}
    others = sorted({row["$id"] for row in store.find_all(CHANNELS_TABLE)} - seen - busy)
    out = []
    for start in range(0, len(others), MAX_NAMED):
        out += store.find(NOTIFICATIONS_TABLE, [*where, ("channel", "in", others[start:start + MAX_NAMED])],
                          order=[("nextAttemptAt", "asc")], limit=DUE_BATCH)
    return out


def _channels(store, names: list[str]) -> dict[str, Channel]:
    """The named channels' rows, read now: an edit counts on the next round."""
    rows = []
    for start in range(0, len(names), MAX_NAMED):
        part = names[start:start + MAX_NAMED]
        rows += store.find(CHANNELS_TABLE, [("$id", "in", part)], limit=len(part))
    return {c.name: c for c in map(channel_of, rows) if c is not None}


def _prepare(ctx: Context, key: tuple, store, channel: Channel | None, name: str, items: list[dict],
             summary: dict) -> Job | None:
    if channel is None or not channel.enabled:
        reason = f"channel {name} was removed" if channel is None else f"channel {name} is disabled"
        for row in items:
            store.update(NOTIFICATIONS_TABLE, row["$id"], {"status": delivery.DEAD, "lastError": reason,
                                                           "nextAttemptAt": None})
        summary["dead"] += len(items)
        return None
    wait_s = _budget_wait(channel, ctx.clock())
    with _lock:
        busy = (key, name) in _in_flight
        if busy:
            _skipped.add((key, name))
        elif wait_s <= budget.MAX_WAIT_SECONDS:
            _in_flight.add((key, name))
    if busy or wait_s > budget.MAX_WAIT_SECONDS:
        summary["busy" if busy else "deferred"] += len(items)
        return None
    cap = PER_RUN_SINGLE if channel.type in UNCOALESCED else COALESCE_MAX
    batches = [[row] for row in items[:cap]] if channel.type in UNCOALESCED else [items[:cap]]
    return Job(channel, batches, wait_s, more=len(items) > cap)


def _claim_all(ctx: Context, key: tuple, store, jobs: list[Job]) -> list[Job]:
    """One bulk create claims every attempt of the round; the few it did not get are looked
    at one by one (held by another run, or lost in a crash)."""
    started = ctx.clock()
    wanted = [row for job in jobs for b in job.batches for row in b]
    created = set(store.create(ATTEMPTS_TABLE, [_attempt(r, _next(r), started) for r in wanted])) if wanted else set()
    kept = []
    for job in jobs:
        batches = []
        for batch in job.batches:
            mine = [dict(r, attempts=_next(r)) for r in batch if f"{r['$id']}.{_next(r)}" in created]
            others = [r for r in batch if f"{r['$id']}.{_next(r)}" not in created]
            mine += _claim(ctx, store, others, started) if others else []
            if mine:
                batches.append(mine)
        if batches:
            kept.append(Job(job.channel, batches, job.wait, job.more))
        else:
            with _lock:
                _in_flight.discard((key, job.channel.name))
    # Claimed rows are not due again until the lease ends (their record sets the real next
    # attempt): the next round, here or in another execution, reads past them.
    claimed = [row["$id"] for job in kept for b in job.batches for row in b]
    if claimed:
        store.update_many(NOTIFICATIONS_TABLE, claimed, {"nextAttemptAt": format_ms(started + ctx.lease)})
    return kept


def _next(row: dict) -> int:
    """The number of the row's next attempt."""
    return int(row.get("attempts") or 0) + 1


def _attempt(row: dict, n: int, started: datetime) -> dict:
    """Attempt n of a notification: creating this row is the claim to send it."""
    return {"$id": f"{row['$id']}.{n}", "notification": row["$id"], "channel": row["channel"], "attempt": n,
            "startedAt": format_ms(started)}


def _claim(ctx: Context, store, rows: list[dict], started: datetime) -> list[dict]:
    claimed = []
    for row in rows:
        n = _next(row)
        for _ in range(2):  # attempt n, or n+1 when n was lost
            attempt_id = f"{row['$id']}.{n}"
            created = store.create(ATTEMPTS_TABLE, [_attempt(row, n, started)])
            if created:
                claimed.append(dict(row, attempts=n))
                break
            # Someone holds attempt n. If it never finished within the lease, its dispatcher died.
            held = store.get(ATTEMPTS_TABLE, attempt_id)
            if not (held and not held.get("finishedAt") and held.get("startedAt")
                    and parse_rfc3339(held["startedAt"]) + ctx.lease < started):
                break
            store.update(ATTEMPTS_TABLE, attempt_id, {"outcome": "lost", "finishedAt": format_ms(started),
                                                      "error": "the dispatcher stopped before recording"})
            n += 1
    return claimed


def _budget_wait(channel: Channel, now: datetime) -> float:
    if not channel.next_send_at:
        return 0.0
    return max(0.0, (parse_rfc3339(channel.next_send_at) - now).total_seconds())


# ---- sending and recording -------------------------------------------------------------------

def _send_job(ctx: Context, job: Job) -> list[Sent]:
    out = []
    channel = job.channel
    for n, batch in enumerate(job.batches):
        wait_s = job.wait if n == 0 else budget.MIN_INTERVAL.get(channel.type, 0.0)
        if wait_s > 0:
            ctx.sleep(wait_s)
        sent = _send(ctx, channel, batch)
        out.append(sent)
        if sent.outcome.verdict in ("gone", "retry") and sent.outcome.status in (410, 429):
            break  # the rest waits for the next round: disabled, or the budget is spent
    return out


def _scrub(text: str, channel: Channel) -> str:
    for secret in [channel.url, *channel.secrets, channel.secret]:
        if secret and len(secret) > 8:
            text = text.replace(secret, "…")
    if channel.url:
        from urllib.parse import urlsplit
        path = urlsplit(channel.url).path
        if len(path) > 1:
            text = text.replace(path, "/…")
    return text


def _send(ctx: Context, channel: Channel, batch: list[dict]) -> Sent:
    started = ctx.clock()
    events = [Event.from_json(r.get("payload") or "{}") for r in batch]
    primary = batch[0]
    event = events[0].merged(events[1:]) if len(events) > 1 else events[0]
    answer: Answer | None = None
    clock = time.monotonic()
    try:
        if channel.type == "topic":
            outcome = _send_topic(ctx, channel, event, primary["$id"])
        else:
            out = render.build(channel, event, primary["$id"], started, ctx.schema.section("templates"),
                               count=len(batch))
            answer = ssrf.post(out.url, out.body, out.headers, ctx.timeout, ctx.allow_private)
            outcome = delivery.classify(answer, started)
    except Refused as exc:
        outcome = delivery.refused(str(exc))
    except NetworkError as exc:
        outcome = delivery.network_failure(str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug in rendering must show up on the row, not vanish
        outcome = delivery.Outcome("retry", None, f"internal error: {type(exc).__name__}: {str(exc)[:200]}")
    outcome = delivery.Outcome(outcome.verdict, outcome.status, _scrub(outcome.error, channel), outcome.retry_after)
    return Sent(batch, outcome, answer, ctx.clock(), int((time.monotonic() - clock) * 1000))


def _record(ctx: Context, finished: list[tuple[Job, list[Sent]]], summary: dict) -> None:
    """Every finished channel's outcomes in one transaction: each notification, each attempt,
    the channel's health."""
    notes: dict[str, dict] = {}
    attempts: dict[str, dict] = {}
    health: dict[str, dict] = {}
    for job, results in finished:
        health[job.channel.name] = _outcomes(ctx, job.channel, results, summary, notes, attempts)
    with ctx.open_rows() as store:
        store.update_each(NOTIFICATIONS_TABLE, notes)
        store.update_each(ATTEMPTS_TABLE, attempts)
        store.update_each(CHANNELS_TABLE, health)


def _outcomes(ctx: Context, channel: Channel, results: list[Sent], summary: dict, notes: dict,
              attempts: dict) -> dict:
    """The rows' changes for one channel's sends (into notes and attempts); returns the
    channel's own."""
    changes_for_channel: dict = {}
    for sent in results:
        outcome = sent.outcome
        for row in sent.batch:
            created = parse_rfc3339(row.get("retriedAt") or row.get("$createdAt") or format_ms(sent.finished))
            changes = delivery.next_state(outcome, row["attempts"] - int(row.get("attemptsBase") or 0), created,
                                          sent.finished, ctx.policy)
            changes["attempts"] = row["attempts"]
            changes = {k: format_ms(v) if isinstance(v, datetime) else v for k, v in changes.items()}
            if row is not sent.batch[0] and outcome.verdict == "ok":
                changes["coalescedInto"] = sent.batch[0]["$id"]
            notes[row["$id"]] = changes
            attempts[f"{row['$id']}.{row['attempts']}"] = {
                "finishedAt": format_ms(sent.finished), "httpStatus": outcome.status, "outcome": outcome.verdict,
                "error": (outcome.error or None) and outcome.error[:1000], "durationMs": sent.elapsed_ms}
            state = changes["status"]
            word = "sent" if state == delivery.SENT else "dead" if state == delivery.DEAD else "retrying"
            summary[word] += 1
            metrics.observe_notification(channel.type, word,
                                         (sent.finished - created).total_seconds() if word == "sent" else None)
        if len(sent.batch) > 1 and outcome.verdict == "ok":
            summary["coalesced"] += len(sent.batch) - 1
        changes_for_channel["nextSendAt"] = format_ms(budget.next_send_at(channel.type, sent.finished, sent.answer,
                                                                          outcome.retry_after))
        if outcome.verdict == "ok":
            changes_for_channel["lastSuccessAt"] = format_ms(sent.finished)
        else:
            changes_for_channel.update(lastErrorAt=format_ms(sent.finished), lastError=outcome.error[:1000])
        if outcome.verdict == "gone":
            changes_for_channel.update(enabled=False,
                                       disabledReason=f"disabled after 410 Gone at {format_ms(sent.finished)}")
        log.info("channel %s: %s %s (%d notification%s, %d ms)%s", channel.name, outcome.verdict,
                 outcome.status or "-", len(sent.batch), "" if len(sent.batch) == 1 else "s", sent.elapsed_ms,
                 f": {outcome.error[:200]}" if outcome.error else "")
    return changes_for_channel


def _send_topic(ctx: Context, channel: Channel, event: Event, notification_id: str) -> delivery.Outcome:
    from ..errors import StoreMisconfigured, StoreUnavailable

    try:
        with ctx.open_messenger() as messenger:
            for message in topic.render(channel, event, notification_id, render.headline(event)):
                messenger.send(message)  # "sent" or "duplicate" (an earlier attempt sent it)
    except StoreUnavailable as exc:
        return delivery.network_failure(f"Messaging unavailable: {exc}")
    except StoreMisconfigured as exc:
        return delivery.Outcome("dead", None, f"Messaging refused: {exc}")
    return delivery.Outcome("ok", None)
