"""Pure lifecycle: a delivery plus the stored rows gives the rows to write and the transitions.

Rules (Alertmanager re-sends whole groups, retries, repeats, and HA peers duplicate):
- a new fingerprint is `firing` (or stored `resolved` if we first see it resolved);
- the same episode (same startsAt, to the second) going resolved is a resolve;
- a newer startsAt is a new episode: it reopens and counts an occurrence;
- an older startsAt, or a firing copy of an episode we already saw resolve, is late:
  it never reopens or overwrites newer state (an older episode's resolve only updates
  that episode's history row);
- an episode the janitor or an operator closed reopens when Alertmanager still sends it firing
  (only Alertmanager's own resolve is final);
- anything else changes nothing but `lastSeenAt`, so it sends nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .records import AlertRecord, EpisodeRecord, episode_start
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

    @property
    def key(self) -> str:
        """What a notification about this transition is about: stable across re-deliveries."""
        return f"{self.alert.fingerprint}@{episode_start(self.record.starts_at).isoformat()}:{self.kind}"


@dataclass
class Reconciliation:
    alerts: list[AlertRecord] = field(default_factory=list)
    episodes: list[EpisodeRecord] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


def reconcile(delivery: Delivery, stored: dict[str, AlertRecord], now: datetime) -> Reconciliation:
    state = dict(stored)
    changed: dict[str, AlertRecord] = {}
    episodes: dict[str, EpisodeRecord] = {}
    out = Reconciliation()
    for alert in delivery.alerts:
        current = state.get(alert.fingerprint)
        record, eps, kind = _step(current, alert, delivery, now)
        for ep in eps:
            episodes[ep.row_id] = ep
        out.count(kind)
        if record is None:
            continue
        state[alert.fingerprint] = changed[alert.fingerprint] = record
        if kind in NOTIFYING:
            out.transitions.append(Transition(kind, alert, record))
    out.alerts = list(changed.values())
    out.episodes = list(episodes.values())
    return out


def _step(cur: AlertRecord | None, a: Alert, d: Delivery, now: datetime):
    firing = a.status == "firing"
    if cur is None:
        rec = _fresh(a, d, now, occurrences=1)
        return rec, [_episode(a, rec, 1)], FIRING if firing else "resolved_unannounced"
    started, known = episode_start(a.starts_at), episode_start(cur.starts_at)
    if started > known:
        rec = _fresh(a, d, now, occurrences=cur.occurrences + 1)
        eps = [_episode(a, rec, rec.occurrences)]
        if cur.status == "firing":
            # Its resolve never reached us (e.g. cut by max_alerts): the new start closes it.
            eps.append(EpisodeRecord(cur.fingerprint, cur.starts_at, "superseded",
                                     ends_at=a.starts_at, resolved_at=a.starts_at))
        if firing:
            return rec, eps, REFIRING
        return rec, eps, RESOLVED if cur.status == "firing" else "resolved_unannounced"
    if started < known:
        if firing:
            return None, [], "late"
        return None, [EpisodeRecord(a.fingerprint, a.starts_at, "resolved", ends_at=a.ends_at,
                                    resolved_at=a.ends_at or now)], "late"
    if cur.status == "resolved" and firing:
        if cur.resolved_by not in (ALERTMANAGER, ""):
            # We (the janitor) or a person closed it, but Alertmanager still has it firing: reopen
            # and announce it, so a still-firing problem cannot disappear silently.
            rec = _touch(cur, a, d, now).evolve(status="firing", ends_at=None, resolved_at=None, resolved_by="",
                                                clear_ack=True)
            # A person's resolve was announced, so the reopen is news: FIRING AGAIN, a new
            # message ID. The janitor's resolve was silent, so its reopen is the old firing.
            return rec, [_episode(a, rec, cur.occurrences)], FIRING if cur.resolved_by == JANITOR else REFIRING
        return None, [], "late"
    if cur.status == "firing" and not firing:
        rec = _touch(cur, a, d, now).evolve(status="resolved", ends_at=a.ends_at,
                                             resolved_at=a.ends_at or now, resolved_by=ALERTMANAGER)
        return rec, [_episode(a, rec, cur.occurrences)], RESOLVED
    return _touch(cur, a, d, now), [], "unchanged"


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


def _episode(a: Alert, rec: AlertRecord, occurrence: int) -> EpisodeRecord:
    return EpisodeRecord(a.fingerprint, rec.starts_at, rec.status, labels=a.labels,
                         annotations=a.annotations, ends_at=rec.ends_at,
                         resolved_at=rec.resolved_at, occurrence=occurrence)
