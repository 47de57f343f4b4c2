"""Who gets what, and sending it: the one entry point to announce something, and the dispatcher.

`plan_notifications` (pure) turns transitions into one `notifications` row per (channel,
transitions) with a deterministic ID, so a re-delivery or a concurrent duplicate creates
nothing new (RowStore.create skips an existing ID). `record` writes them inside the
delivery's commit; `notify` is the same for every other capability.

`run_due` sends what is due. It works in short store phases (read, claim, record) and holds
no store transaction while a chat endpoint answers, so a slow endpoint never blocks intake.
Claims: each attempt first creates `notification_attempts/<id>.<n>`; only the creator sends.
An attempt that never recorded its end (the dispatcher died between the send and its record)
is reclaimed after a lease as attempt n+1: that is the one case that can send twice, and a
`webhook` receiver sees the same `webhook-id` both times.

On Appwrite the dispatcher function subscribes to notifications row *create* events only:
it updates notification rows and creates attempt rows, neither of which re-triggers it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable, Iterable

from ..lifecycle import Transition
from ..timeutil import format_ms, parse_rfc3339, utcnow
from ..stats import metrics
from . import budget, delivery, render, ssrf, topic
from .model import (ATTEMPTS_TABLE, CHANNELS_TABLE, NOTIFICATIONS_TABLE, Channel, ChannelError, Event, Item,
                    declared_channels)
from .ssrf import Answer, NetworkError, Refused

log = logging.getLogger("alertwrite.channels")
COALESCE_MAX = 50  # notifications folded into one chat message at most
PER_RUN_SINGLE = 20  # webhook/pagerduty notifications sent per channel per run (one request each)
UNCOALESCED = ("webhook", "pagerduty")  # each keeps its own webhook-id / dedup_key
WORKERS = 16  # sends wait on the network, not the CPU
DUE_BATCH = 500
# Items per notification row: keeps its payload (~0.6 KB an item) well inside the column.
MAX_ITEMS = 500


# ---- planning ----------------------------------------------------------------------------

def notification_id(channel: str, keys: Iterable[str]) -> str:
    """32 hex characters, so `<id>.<attempt>` stays within Appwrite's 36-character IDs."""
    joined = "\n".join(sorted(keys))
    return hashlib.sha256(f"{channel}\n{joined}".encode()).hexdigest()[:32]


def item_of(t: Transition) -> Item:
    return Item(kind=t.kind, fingerprint=t.alert.fingerprint, labels=dict(t.alert.labels),
                annotations=dict(t.alert.annotations), starts_at=format_ms(t.record.starts_at) or "",
                ends_at=format_ms(t.record.ends_at) or "", resolved_at=format_ms(t.record.resolved_at) or "",
                generator_url=t.alert.generator_url, key=t.key)


def event_of(transitions: list[Transition], delivery=None) -> Event:
    return Event("alerts", tuple(item_of(t) for t in transitions),
                 external_url=getattr(delivery, "external_url", "") or "",
                 group_key=getattr(delivery, "group_key", "") or "", receiver=getattr(delivery, "receiver", "") or "")


def _row(channel: str, event: Event, now: datetime, shared: dict | None = None) -> dict:
    keys = [i.key or f"{i.fingerprint}:{i.kind}" for i in event.items] or [event.title, event.text, event.kind]
    # Channels that accept the same items carry the same title and payload: render them once.
    # (Items hold dicts, so not hashable; within one plan they are the same objects.)
    same = (event.kind, event.title, event.text, tuple(map(id, event.items)))
    common = shared.get(same) if shared is not None else None
    if common is None:
        common = (render.fit(render.headline(event), 255), json.dumps(sorted(keys)), event.to_json())
        if shared is not None:
            shared[same] = common
    title, transitions, payload = common
    return {"$id": notification_id(channel, keys), "channel": channel, "status": delivery.PENDING,
            "kind": event.kind, "title": title, "transitions": transitions, "payload": payload, "attempts": 0,
            # due at once, even when a job runs "as if at" a later time (alertwrite run --at)
            "nextAttemptAt": format_ms(min(now, utcnow()))}


def plan_notifications(event: Event, channels: list[Channel], now: datetime,
                       only: Iterable[str] | None = None) -> list[dict]:
    """One row per channel that accepts something; pagerduty gets one row per item.
    `only` names channels to address directly (a test, an escalation step): no filter."""
    chosen = set(only) if only is not None else None
    rows, shared = [], {}
    for channel in channels:
        if not channel.enabled or (chosen is not None and channel.name not in chosen):
            continue
        if chosen is not None or not event.items:
            items = event.items
        else:
            items = tuple(i for i in event.items if channel.filter.accepts(i.kind, i.labels))
            if not items:
                continue
        part = Event(event.kind, items, event.title, event.text, event.external_url, event.group_key,
                     event.receiver)
        size = 1 if channel.type == "pagerduty" else MAX_ITEMS
        for start in range(0, max(len(items), 1), size):
            rows.append(_row(channel.name, replace(part, items=items[start:start + size]), now, shared))
    return rows


def seed(rows, schema, found: list[dict] | None = None) -> list[dict]:
    """A channels table that was never filled gets the declared channels first, so a fresh
    SQLite file, or an Appwrite project before `apply`, routes as schemas/ says. Every
    channel operation calls it, so adding a channel first does not hide the declared ones."""
    found = list(rows.find_all(CHANNELS_TABLE)) if found is None else found
    if not found:
        declared = declared_channels(schema.section("channels"))
        if declared:
            rows.create(CHANNELS_TABLE, [c.to_row() for c in declared])
            found = list(rows.find_all(CHANNELS_TABLE))
    return found


def load_channels(rows, schema) -> list[Channel]:
    """Every channel row, parsed; a row that does not parse is logged and skipped."""
    found = seed(rows, schema)
    # The rows are read every time (a runtime edit counts on the next delivery), but parsing
    # them cost more than the rest of a single-alert delivery: parse each content once.
    key = repr(found)
    parsed = _parsed.get(key)
    if parsed is not None:
        return list(parsed)
    out, ok = [], True
    for row in found:
        try:
            out.append(Channel.from_row(row))
        except ChannelError as exc:
            ok = False  # not kept: the error is logged on every delivery until the row is fixed
            log.error("skipping channel row %s: %s", row.get("$id"), exc)
    if ok:
        if len(_parsed) >= 16:
            _parsed.clear()
        _parsed[key] = tuple(out)
    return out


_parsed: dict[str, tuple[Channel, ...]] = {}  # repr of the channel rows -> the parsed channels


def record(rows, schema, transitions: list[Transition], delivery_, now: datetime) -> list[str]:
    """The processor's one call, inside the delivery's commit: the notification rows."""
    if not transitions:
        return []
    event = event_of(transitions, delivery_)
    planned = plan_notifications(event, load_channels(rows, schema), now)
    return rows.create(NOTIFICATIONS_TABLE, planned) if planned else []


def notify(rows, schema, what, now: datetime | None = None, channels: Iterable[str] | None = None,
           delivery_=None) -> list[str]:
    """THE entry point to announce something: transitions (list[Transition]) or an Event.
    Channels are chosen by their filters, or named in `channels`. Returns the IDs created;
    the dispatcher sends them."""
    now = now or utcnow()
    event = what if isinstance(what, Event) else event_of(list(what), delivery_)
    planned = plan_notifications(event, load_channels(rows, schema), now, only=channels)
    return rows.create(NOTIFICATIONS_TABLE, planned) if planned else []


# ---- sending -------------------------------------------------------------------------------

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

    timeout = float(env.get("ALERTWRITE_CHANNELS_TIMEOUT") or 10)
    ctx = Context(schema, settings, delivery.Policy.from_env(env), env.get("ALERTWRITE_CHANNELS_ALLOW_PRIVATE") == "1",
                  timeout, open_rows, open_messenger)
    for key, value in overrides.items():
        setattr(ctx, key, value)
    return ctx


def run_due(rows, schema, settings, now: datetime | None = None, *, channel: str | None = None,
            ids: Iterable[str] | None = None, env: dict | None = None, **overrides) -> dict:
    """Send every due notification (or only `channel`'s, or only `ids`). Pass rows=None to let
    each phase open its own short store (what the dispatcher function and serve do).

    Three phases: one store transaction reads what is due and claims it; the sends run in
    parallel with no store held; each channel's outcome is recorded as soon as it is known."""
    ctx = _context(rows, schema, settings, env, **overrides)
    now = now or utcnow()
    ctx.offset = now - utcnow()
    # deferred: over a rate budget; busy: another run of this process is sending to that channel
    summary = {"due": 0, "sent": 0, "retrying": 0, "dead": 0, "coalesced": 0, "deferred": 0, "busy": 0}
    with ctx.open_rows() as store:
        if ids is not None:
            due = [r for r in (store.get(NOTIFICATIONS_TABLE, i) for i in ids)
                   if r and r.get("status") in delivery.OPEN]
        else:
            where = [("status", "in", list(delivery.OPEN)), ("nextAttemptAt", "<=", format_ms(now))]
            if channel:
                where.append(("channel", "=", channel))
            due = store.find(NOTIFICATIONS_TABLE, where, order=[("nextAttemptAt", "asc")], limit=DUE_BATCH)
        summary["due"] = len(due)
        if not due:
            return summary
        channels = {c.name: c for c in load_channels(store, schema)}
        groups: dict[str, list[dict]] = {}
        for row in due:
            groups.setdefault(row["channel"], []).append(row)
        jobs = []
        for name, items in groups.items():
            job = _prepare(ctx, store, channels.get(name), name, items, summary)
            if job:
                jobs.append(job)
        jobs = _claim_all(ctx, store, jobs)
    pending = {job.channel.name for job in jobs}
    try:
        if len(jobs) == 1:
            _finish(ctx, jobs[0], _send_job(ctx, jobs[0]), summary)
            pending.clear()
        elif jobs:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(jobs))) as pool:
                futures = {pool.submit(_send_job, ctx, job): job for job in jobs}
                for future in as_completed(futures):
                    job = futures[future]
                    try:
                        _finish(ctx, job, future.result(), summary)
                    finally:
                        with _in_flight_lock:
                            _in_flight.discard(job.channel.name)
                        pending.discard(job.channel.name)
    finally:
        with _in_flight_lock:
            _in_flight.difference_update(pending)
            if len(jobs) == 1:
                _in_flight.discard(jobs[0].channel.name)
    return summary


# Channels with a send under way in this process: a second run (serve starts one per
# delivery) leaves them to the first, so one hanging endpoint ties up one run, not all.
_in_flight: set[str] = set()
_in_flight_lock = threading.Lock()


@dataclass
class Job:
    channel: Channel
    batches: list[list[dict]]  # claimed rows; a batch goes out as one message
    wait: float


@dataclass
class Sent:
    batch: list[dict]
    outcome: delivery.Outcome
    answer: Answer | None
    finished: datetime
    elapsed_ms: int


def _prepare(ctx: Context, store, channel: Channel | None, name: str, items: list[dict], summary: dict) -> Job | None:
    if channel is None or not channel.enabled:
        reason = f"channel {name} was removed" if channel is None else f"channel {name} is disabled"
        for row in items:
            store.update(NOTIFICATIONS_TABLE, row["$id"], {"status": delivery.DEAD, "lastError": reason,
                                                           "nextAttemptAt": None})
        summary["dead"] += len(items)
        return None
    wait = _budget_wait(channel, ctx.clock())
    with _in_flight_lock:
        busy = name in _in_flight
        if not busy and wait <= budget.MAX_WAIT_SECONDS:
            _in_flight.add(name)
    if busy or wait > budget.MAX_WAIT_SECONDS:
        summary["busy" if busy else "deferred"] += len(items)
        return None
    batches = [[row] for row in items[:PER_RUN_SINGLE]] if channel.type in UNCOALESCED else [items[:COALESCE_MAX]]
    return Job(channel, batches, wait)


def _claim_all(ctx: Context, store, jobs: list[Job]) -> list[Job]:
    """One bulk create claims every attempt of the run; the few it did not get are looked at
    one by one (held by another run, or lost in a crash)."""
    started = ctx.clock()
    wanted = [dict(row, attempts=int(row.get("attempts") or 0) + 1) for job in jobs for b in job.batches for row in b]
    created = set(store.create(ATTEMPTS_TABLE, [
        {"$id": f"{r['$id']}.{r['attempts']}", "notification": r["$id"], "channel": r["channel"],
         "attempt": r["attempts"], "startedAt": format_ms(started)} for r in wanted])) if wanted else set()
    kept = []
    for job in jobs:
        batches = []
        for batch in job.batches:
            mine = [dict(r, attempts=int(r.get("attempts") or 0) + 1) for r in batch
                    if f"{r['$id']}.{int(r.get('attempts') or 0) + 1}" in created]
            others = [r for r in batch if f"{r['$id']}.{int(r.get('attempts') or 0) + 1}" not in created]
            mine += _claim(ctx, store, others, started) if others else []
            if mine:
                batches.append(mine)
        if batches:
            kept.append(Job(job.channel, batches, job.wait))
        else:
            with _in_flight_lock:
                _in_flight.discard(job.channel.name)
    return kept


def _send_job(ctx: Context, job: Job) -> list[Sent]:
    out = []
    channel = job.channel
    for n, batch in enumerate(job.batches):
        wait = job.wait if n == 0 else budget.MIN_INTERVAL.get(channel.type, 0.0)
        if wait > 0:
            ctx.sleep(wait)
        sent = _send(ctx, channel, batch)
        out.append(sent)
        if sent.outcome.verdict in ("gone", "retry") and sent.outcome.status in (410, 429):
            break  # the rest waits for the next run: disabled, or the budget is spent
    return out


def _budget_wait(channel: Channel, now: datetime) -> float:
    if not channel.next_send_at:
        return 0.0
    return max(0.0, (parse_rfc3339(channel.next_send_at) - now).total_seconds())


def _claim(ctx: Context, store, rows: list[dict], started: datetime) -> list[dict]:
    claimed = []
    for row in rows:
        n = int(row.get("attempts") or 0) + 1
        for _ in range(2):  # attempt n, or n+1 when n was lost
            attempt_id = f"{row['$id']}.{n}"
            created = store.create(ATTEMPTS_TABLE, [{"$id": attempt_id, "notification": row["$id"],
                                                     "channel": row["channel"], "attempt": n,
                                                     "startedAt": format_ms(started)}])
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


def _finish(ctx: Context, job: Job, results: list[Sent], summary: dict) -> None:
    """Record one channel's outcomes: each notification, each attempt, the channel's health."""
    channel = job.channel
    changes_for_channel: dict = {}
    with ctx.open_rows() as store:
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
                store.update(NOTIFICATIONS_TABLE, row["$id"], changes)
                store.update(ATTEMPTS_TABLE, f"{row['$id']}.{row['attempts']}", {
                    "finishedAt": format_ms(sent.finished), "httpStatus": outcome.status, "outcome": outcome.verdict,
                    "error": (outcome.error or None) and outcome.error[:1000], "durationMs": sent.elapsed_ms})
                state = changes["status"]
                word = "sent" if state == delivery.SENT else "dead" if state == delivery.DEAD else "retrying"
                summary[word] += 1
                metrics.observe_notification(channel.type if channel else "unknown", word,
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
        store.update(CHANNELS_TABLE, channel.name, changes_for_channel)


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
