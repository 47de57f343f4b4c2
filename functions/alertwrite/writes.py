"""Turning decided changes into the fewest safe store calls, the same on every backend.

- A new row is a create; a create that finds the row already there (409) is reported back, so
  the caller decides again from what is stored now instead of overwriting it.
- A known row gets a partial update carrying only the columns that changed (records.diff).
  A full-row upsert is never used for that: on the real server it must carry every required
  column (capture bulk-upsert-no-required), so it would write back stale values of columns a
  concurrent execution just changed.
- Rows whose changes are identical (a repeat touches `lastSeenAt` alone) share one bulk update.
- Claims: one bulk create of the transitions' claim rows; only on a conflict per-row creates,
  then one read of the rows that were there to see which delivery owns them.
"""
from __future__ import annotations

from .lifecycle import AlertChange, EpisodeWrite, Transition
from .records import ALERTS_TABLE, EPISODES_TABLE, TRANSITIONS_TABLE, diff, fit_row
from .schema import Schema


def claim(store, schema: Schema, transitions: list[Transition], owner: str) -> set[str]:
    """The keys of `transitions` this delivery may announce: claims it created now, and claims
    an earlier try of the same delivery created (a retry must still send what it decided)."""
    if not transitions:
        return set()
    table = schema.table(TRANSITIONS_TABLE)
    rows = {t.key: fit_row({"$id": t.key, "fingerprint": t.alert.fingerprint, "occurrence": t.record.occurrences,
                            "kind": t.kind, "startsAt": t.record.starts_at, "owner": owner}, table)
            for t in transitions}
    taken = set(store.create(TRANSITIONS_TABLE, list(rows.values())))
    if not taken:
        return set(rows)
    existing = store.rows(TRANSITIONS_TABLE, sorted(taken))
    mine = {key for key, row in existing.items() if row.get("owner") == owner}
    return (set(rows) - taken) | mine


def write_episodes(store, schema: Schema, episodes: list[EpisodeWrite]) -> None:
    table = schema.table(EPISODES_TABLE)
    opened = {e.record.row_id: e.record.to_row(table) for e in episodes if e.opens}
    closed = {e.record.row_id: e.record.to_row(table) for e in episodes if not e.opens}
    # An episode row is written only by the execution that decided its transition, so a row
    # that is already there (an earlier try) gets the same values again.
    again = store.create(EPISODES_TABLE, [{"$id": rid, **row} for rid, row in opened.items()])
    ends = {rid: {k: row[k] for k in ("status", "endsAt", "resolvedAt", "durationSeconds")}
            for rid, row in closed.items()}
    missing = store.update(EPISODES_TABLE, {**ends, **{rid: opened[rid] for rid in again}})
    # An episode from before episodes were numbered has no row under its number: create it.
    store.create(EPISODES_TABLE, [{"$id": rid, **(closed.get(rid) or opened[rid])} for rid in missing])


def write_alerts(store, schema: Schema, changes: list[AlertChange]) -> list[str]:
    """Returns the fingerprints whose write found the row changed under it (a concurrent
    create, or a row that vanished): decide those again from what is stored now."""
    table = schema.table(ALERTS_TABLE)
    creates = [{"$id": c.new.fingerprint, **c.new.to_row(table)} for c in changes if c.old is None]
    updates = {}
    for c in changes:
        if c.old is not None:
            new = c.new.to_row(table)
            changed = diff(c.old.to_row(table), new)
            if c.new.clear_ack:
                changed.update(acknowledgedAt=None, acknowledgedBy=None)
            if changed:
                updates[c.new.fingerprint] = changed
    conflicts = store.create(ALERTS_TABLE, creates)
    conflicts += store.update(ALERTS_TABLE, updates)
    return conflicts
