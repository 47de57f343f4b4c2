"""The pure diff between `schemas/` and the live project. No I/O: testable without a server.

Only what the YAML owns is compared. A change Appwrite cannot make in place (a column's
type, size or array flag; an index's definition) is a recreate, and a column recreate loses
that column's data. Things the YAML does not declare are listed as unmanaged and only
deleted with --prune.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from alertwrite.schema import Column, Index, Schema, Table

from .live import Live, LiveColumn, LiveIndex, LiveTable

ORDER = {"database": 0, "table": 1, "column": 2, "index": 3, "topic": 4, "channel": 5}
BROKEN = ("failed", "stuck")
# A column or index in `deleting` is on its way out (the server's worker drops it within ~1 s:
# captures col-get-just-after-delete, idx-get-just-after-delete): it is not there, so it must be
# created again once gone, never counted as present.
DELETING = "it is being deleted"


@dataclass(frozen=True)
class Step:
    action: str  # create | update | recreate | delete
    kind: str  # database | table | column | index | topic
    target: str  # "monitoring", "alerts", "alerts.severity", "critical-alerts"
    detail: str = ""
    data_loss: bool = False

    def line(self, prefix: str = "would") -> str:
        text = f"{prefix} {self.action} {self.kind} {self.target}"
        if self.detail:
            text += f" ({self.detail})"
        if self.data_loss:
            text += " [DELETES DATA]"
        return text

    @property
    def table(self) -> str:
        return self.target.split(".")[0]

    @property
    def name(self) -> str:
        return self.target.split(".")[-1]


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    unmanaged: list[Step] = field(default_factory=list)  # deletes, applied only with --prune

    @property
    def empty(self) -> bool:
        return not self.steps

    def lines(self, prune: bool = False) -> list[str]:
        chosen = self.steps + (self.unmanaged if prune else [])
        return sorted(s.line() for s in chosen)

    def destructive(self, prune: bool) -> list[Step]:
        return [s for s in self.steps if s.action == "recreate"] + (self.unmanaged if prune else [])


def diff(schema: Schema, live: Live) -> Plan:
    plan = Plan()
    if live.database_name is None:
        plan.steps.append(Step("create", "database", schema.database_id))
    elif live.database_name != schema.database_name:
        plan.steps.append(Step("update", "database", schema.database_id,
                               f"name {live.database_name!r} -> {schema.database_name!r}"))
    declared = {t.id for t in schema.tables}
    for table in schema.tables:
        _diff_table(plan, table, live.tables.get(table.id))
    for table_id in sorted(set(live.tables) - declared):
        plan.unmanaged.append(Step("delete", "table", table_id, "not in schemas/", data_loss=True))
    for topic in schema.topics:
        current = live.topics.get(topic.id)
        if current is None:
            plan.steps.append(Step("create", "topic", topic.id))
        elif (current.name, tuple(current.subscribe)) != (topic.name, tuple(topic.subscribe)):
            plan.steps.append(Step("update", "topic", topic.id, "name or subscribe roles"))
    for topic_id in sorted(set(live.topics) - {t.id for t in schema.topics}):
        plan.unmanaged.append(Step("delete", "topic", topic_id, "not in schemas/"))
    plan.steps.sort(key=lambda s: (ORDER[s.kind], s.target))
    return plan


def _diff_table(plan: Plan, table: Table, live: LiveTable | None) -> None:
    if live is None:
        plan.steps.append(Step("create", "table", table.id))
        plan.steps += [Step("create", "column", f"{table.id}.{c.key}") for c in table.columns]
        plan.steps += [Step("create", "index", f"{table.id}.{i.key}") for i in table.indexes]
        return
    changes = [name for name, want, have in (
        ("name", table.name, live.name), ("enabled", table.enabled, live.enabled),
        ("rowSecurity", table.row_security, live.row_security),
        ("permissions", sorted(table.permissions), sorted(live.permissions))) if want != have]
    if changes:
        plan.steps.append(Step("update", "table", table.id, ", ".join(changes)))
    recreated_columns = set()
    for col in table.columns:
        step = _diff_column(table.id, col, live.columns.get(col.key))
        if step:
            plan.steps.append(step)
            if step.action == "recreate":
                recreated_columns.add(col.key)
    for index in table.indexes:
        step = _diff_index(table.id, index, live.indexes.get(index.key), recreated_columns)
        if step:
            plan.steps.append(step)
    for key in sorted(set(live.columns) - {c.key for c in table.columns}):
        plan.unmanaged.append(Step("delete", "column", f"{table.id}.{key}", "not in schemas/", data_loss=True))
    for key in sorted(set(live.indexes) - {i.key for i in table.indexes}):
        plan.unmanaged.append(Step("delete", "index", f"{table.id}.{key}", "not in schemas/"))


def _diff_column(table_id: str, want: Column, have: LiveColumn | None) -> Step | None:
    target = f"{table_id}.{want.key}"
    if have is None:
        return Step("create", "column", target)
    if have.status == "deleting":
        return Step("recreate", "column", target, DELETING)
    if have.status in BROKEN:
        return Step("recreate", "column", target, f"it is {have.status}", data_loss=True)
    # A format column (email, url, ip, enum) has no size on the server; ours only bounds fitting.
    want_size = None if want.format else want.size
    have_size = None if want.format else have.size
    if (have.type, have_size, have.array) != (want.type, want_size, want.array):
        what = [f"{n} {h!r} -> {w!r}" for n, w, h in (("type", want.type, have.type), ("size", want_size, have_size),
                                                     ("array", want.array, have.array)) if w != h]
        return Step("recreate", "column", target, "; ".join(what), data_loss=True)
    changed = [n for n, w, h in (("required", want.required, have.required), ("default", want.default, have.default),
                                 ("min", want.min, have.min), ("max", want.max, have.max))
               if w != h and not (n in ("min", "max") and w is None)]
    if changed:
        return Step("update", "column", target, ", ".join(changed))
    return None


def _diff_index(table_id: str, want: Index, have: LiveIndex | None, recreated: set[str]) -> Step | None:
    target = f"{table_id}.{want.key}"
    if have is None:
        return Step("create", "index", target)
    if have.status == "deleting":
        return Step("recreate", "index", target, DELETING)
    if have.status in BROKEN:
        return Step("recreate", "index", target, f"it is {have.status}")
    orders = tuple(want.orders) or tuple(have.orders)
    if (have.type, tuple(have.columns), tuple(have.orders) or orders) != (want.type, tuple(want.columns), orders):
        return Step("recreate", "index", target, "definition changed")
    if recreated & set(want.columns):
        return Step("recreate", "index", target, "its column is recreated")
    return None


def add_channel_steps(plan: Plan, schema: Schema, channel_rows: list[dict]) -> Plan:
    """Declared channels (schemas/channels.yaml) against the live `channels` rows; a runtime
    channel is unmanaged, so only apply --prune deletes it."""
    from alertwrite.channels.sync import steps

    changes, unmanaged = steps(schema, channel_rows)
    plan.steps += [Step(c.action, "channel", c.name, c.detail) for c in changes]
    plan.unmanaged += [Step("delete", "channel", c.name, c.detail) for c in unmanaged]
    return plan
