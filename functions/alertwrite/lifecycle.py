"""Pure lifecycle: a delivery plus the stored rows gives the writes and the transitions.

The latest word from Alertmanager wins unless it is provably older.

Episode identity. An episode is `<fingerprint>.<occurrence>`: the alert row holds the current
episode (its occurrence number, startsAt, status, resolvedAt and lastSeenAt) and each new
episode takes the next number. startsAt alone cannot name an episode: Alertmanager re-posts one
episode with a coarser startsAt (10:05:30Z for 10:05:30.817Z, captures 0001/0004), two
unclustered Alertmanagers stamp one alert a second apart, a client with a skewed clock stamps a
day ahead, and a real re-fire can start within the same second as the last resolve. So an
incoming alert (start s, end e) is matched to the current episode (start S, resolved at R, last
heard of at L, our own clock) like this:

- no row: a new episode 1 (`firing`; stored `resolved` without a message if first seen so).
- current episode firing, alert firing:
  s = S, or a coarse copy of S (one of them whole seconds, same second): a repeat.
  s > S but s <= L: the same episode as stamped by another Alertmanager (we already heard it
  firing at L, after s): a repeat, so one page and `occurrences` stays.
  s > L: it started after the last time we heard it firing, so its resolve was lost (cut by
  max_alerts): the current episode is `superseded` and a new one is `refiring`.
  s < S: an older episode's late copy: nothing changes.
- current episode firing, alert resolved: it closes the current episode, whatever its startsAt
  (another Alertmanager's stamp, or startsAt = endsAt when a resolve is posted without a start),
  unless it is provably about an older episode: it ended (e) before S began, and S is not in the
  future (a future S is a skewed clock and proves nothing). Even a resolve whose start is later
  than L closes the current episode: the alert is resolved now, and one RESOLVED answers the
  page that was sent.
- current episode resolved: R_eff = min(R, L) (a resolve stamped in the future proves nothing
  after the moment we heard it). A firing with s > R_eff and s != S is a re-fire (`refiring`,
  even 0.5 s after R); a resolved one is a newer episode stored without a message. Anything else
  is a late copy: nothing changes. An episode the janitor closed reopens (`firing`, same
  occurrence) when Alertmanager still sends it firing. An episode a person resolved while
  Alertmanager still sends it firing (same start) becomes a new episode, announced as FIRING
  AGAIN: only Alertmanager's resolve is final, so a still-firing problem cannot disappear
  silently (PagerDuty: a trigger after a resolve opens a new incident).
- a repeat writes only what changed, normally `lastSeenAt` alone.

Each announced transition has a claim `<fingerprint>.<occurrence>.<kind>` (records.row_id), so
of several executions deciding the same transition concurrently exactly one announces it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .records import AlertRecord, EpisodeRecord, row_id
from .webhook import Alert, Delivery

FIRING = "firing"
REFIRING = "refiring"
RESOLVED = "resolved"
NOTIFYING = (FIRING, REFIRING, RESOLVED)
ALERTMANAGER = "alertmanager"
JANITOR = "janitor"


@dataclass(frozen=True)
class Transition:
    kind: str  # firing | refiring | resolved
    alert: Alert
    record: AlertRecord
    reopen_of: datetime | None = None  # the janitor's resolvedAt for a reopened episode

    @property
    def key(self) -> str:
        """The claim's row ID: stable across re-deliveries, retries and replicas."""
        code = self.kind if self.reopen_of is None else f"reopen{int(self.reopen_of.timestamp())}"
        return row_id(self.alert.fingerprint, self.record.occurrences, code)


@dataclass(frozen=True)
class AlertChange:
    old: AlertRecord | None  # None: a new row
    new: AlertRecord


@dataclass(frozen=True)
class EpisodeWrite:
    record: EpisodeRecord
    opens: bool  # a new episode (create) or the end of a known one (update)


@dataclass
class Reconciliation:
    alerts: list[AlertChange] = field(default_factory=list)
    episodes: list[EpisodeWrite] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    kinds: list[tuple[str, str]] = field(default_factory=list)  # (fingerprint, kind) per alert

    def count(self, what: str, fingerprint: str = "") -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        self.kinds.append((fingerprint, what))


def same_start(a: datetime, b: datetime) -> bool:
    """Equal, or one is the other cut to the whole second (Alertmanager re-posts)."""
    if a == b:
        return True
    return (a.microsecond == 0 or b.microsecond == 0) and a.replace(microsecond=0) == b.replace(microsecond=0)


def reconcile(delivery: Delivery, stored: dict[str, AlertRecord], now: datetime) -> Reconciliation:
    state = dict(stored)
    changes: dict[str, AlertChange] = {}
    episodes: dict[str, EpisodeWrite] = {}
    out = Reconciliation()
    for alert in delivery.alerts:
        current = state.get(alert.fingerprint)
        record, eps, kind, reopen = _step(current, alert, delivery, now)
        for ep in eps:
            if ep.record.row_id in episodes and episodes[ep.record.row_id].opens:
                ep = EpisodeWrite(ep.record, True)  # opened and closed within one delivery
            episodes[ep.record.row_id] = ep
        out.count(kind, alert.fingerprint)
        if record is None:
            continue
        first = changes.get(alert.fingerprint)
        changes[alert.fingerprint] = AlertChange(first.old if first else stored.get(alert.fingerprint), record)
        state[alert.fingerprint] = record
        if kind in NOTIFYING:
            out.transitions.append(Transition(kind, alert, record, reopen))
    out.alerts = list(changes.values())
    out.episodes = list(episodes.values())
    return out


def _step(cur: AlertRecord | None, a: Alert, d: Delivery, now: datetime):
    firing = a.status == "firing"
    s = a.starts_at
    if cur is None:
        rec = _fresh(a, d, now, occurrences=1)
        return rec, [_opened(a, rec)], FIRING if firing else "resolved_unannounced", None
    S, L = cur.starts_at, cur.last_seen_at or cur.starts_at
    if cur.status == "firing":
        if firing:
            if same_start(s, S) or S < s <= L:
                return _touch(cur, a, d, now), [], "unchanged", None
            if s < S:
                return None, [], "late", None
            return _new_episode(cur, a, d, now, closes=True)
        ends = a.ends_at or now
        older = s < S and not same_start(s, S) and ends <= S and S <= now
        if older:
            return None, [], "late", None
        rec = _touch(cur, a, d, now).evolve(status="resolved", ends_at=a.ends_at, resolved_at=ends,
                                             resolved_by=ALERTMANAGER)
        return rec, [_closed(cur, rec, "resolved")], RESOLVED, None
    resolved_at = cur.resolved_at or cur.ends_at or L
    r_eff = min(resolved_at, L)
    if firing and cur.resolved_by == JANITOR and same_start(s, S):
        # We closed it for silence, but Alertmanager still has it firing: reopen.
        rec = _touch(cur, a, d, now).evolve(status="firing", ends_at=None, resolved_at=None, resolved_by="")
        return rec, [EpisodeWrite(_episode(a, rec), True)], FIRING, resolved_at
    if firing and cur.resolved_by not in (ALERTMANAGER, JANITOR, "") and same_start(s, S):
        return _new_episode(cur, a, d, now, closes=False)
    if s > r_eff and not same_start(s, S):
        return _new_episode(cur, a, d, now, closes=False)
    return None, [], "late" if firing else "unchanged", None


def _new_episode(cur: AlertRecord, a: Alert, d: Delivery, now: datetime, closes: bool):
    rec = _fresh(a, d, now, occurrences=cur.occurrences + 1)
    eps = [_opened(a, rec)]
    if closes:
        # Its resolve never reached us (e.g. cut by max_alerts): the new start closes it.
        ended = cur.evolve(status="superseded", ends_at=a.starts_at, resolved_at=a.starts_at)
        eps.append(_closed(cur, ended, "superseded"))
    if a.status == "firing":
        return rec, eps, REFIRING, None
    return rec, eps, RESOLVED if closes else "resolved_unannounced", None


def _fresh(a: Alert, d: Delivery, now: datetime, occurrences: int) -> AlertRecord:
    resolved = a.status == "resolved"
    return AlertRecord(
        fingerprint=a.fingerprint, status=a.status, starts_at=a.starts_at,
        labels=a.labels, annotations=a.annotations,
        ends_at=a.ends_at if resolved else None, last_seen_at=now,
        resolved_at=(a.ends_at or now) if resolved else None,
        resolved_by=ALERTMANAGER if resolved else "",
        generator_url=a.generator_url, group_key=d.group_key, receiver=d.receiver,
        occurrences=occurrences, truncated_alerts=d.truncated_alerts, clear_ack=occurrences > 1,
    )


def _touch(cur: AlertRecord, a: Alert, d: Delivery, now: datetime) -> AlertRecord:
    # Annotations are templated ({{ $value }}) and may change within an episode.
    return cur.evolve(labels=a.labels, annotations=a.annotations, last_seen_at=now,
                      generator_url=a.generator_url, group_key=d.group_key, receiver=d.receiver,
                      truncated_alerts=d.truncated_alerts, clear_ack=False)


def _episode(a: Alert, rec: AlertRecord, status: str | None = None) -> EpisodeRecord:
    return EpisodeRecord(rec.fingerprint, rec.occurrences, rec.starts_at, status or rec.status,
                         labels=rec.labels, annotations=rec.annotations, ends_at=rec.ends_at,
                         resolved_at=rec.resolved_at)


def _opened(a: Alert, rec: AlertRecord) -> EpisodeWrite:
    return EpisodeWrite(_episode(a, rec), True)


def _closed(cur: AlertRecord, rec: AlertRecord, status: str) -> EpisodeWrite:
    return EpisodeWrite(EpisodeRecord(cur.fingerprint, cur.occurrences, cur.starts_at, status,
                                      labels=rec.labels, annotations=rec.annotations,
                                      ends_at=rec.ends_at, resolved_at=rec.resolved_at), False)
