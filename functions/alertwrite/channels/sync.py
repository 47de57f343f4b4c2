"""Declarative channels (schemas/channels.yaml) against the `channels` table.

`validate_declared` runs whenever the schema is loaded (so plan, apply and bundle refuse a bad
channel or template). `steps` is what plan shows and apply does: create or update each
declared channel; channels created at runtime are listed as unmanaged and deleted only with
--prune. apply writes only what the YAML owns, so health columns and an operator's
enable/disable of a declared channel survive.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import templates
from .model import CHANNELS_TABLE, TYPES, Channel, ChannelError, declared_channels


@dataclass(frozen=True)
class ChannelStep:
    action: str  # create | update | delete
    name: str
    detail: str = ""


def validate_declared(schema) -> list[Channel]:
    section = schema.section("channels")
    channels = declared_channels(section)
    topics = {t.id for t in schema.topics}
    for c in channels:
        if c.type == "topic" and c.topic not in topics:
            raise ChannelError(f"channels.{c.name}.topic: topic {c.topic!r} is not declared under topics")
        if c.templates:
            try:
                templates.validate(c.templates, f"channels.{c.name}.templates")
            except templates.TemplateProblem as exc:
                raise ChannelError(str(exc)) from None
    per_type = schema.section("templates") or {}
    if not isinstance(per_type, dict):
        raise ChannelError("templates: expected a mapping of channel type -> {title, body}")
    for kind, spec in per_type.items():
        if kind not in TYPES:
            raise ChannelError(f"templates.{kind}: not a channel type ({', '.join(TYPES)})")
        try:
            templates.validate(spec or {}, f"templates.{kind}")
        except templates.TemplateProblem as exc:
            raise ChannelError(str(exc)) from None
    return channels


def steps(schema, rows: list[dict]) -> tuple[list[ChannelStep], list[ChannelStep]]:
    """(changes, unmanaged) for the live rows of the channels table."""
    declared = validate_declared(schema)
    live = {r["$id"]: r for r in rows}
    changes = []
    for c in declared:
        row = live.get(c.name)
        if row is None:
            changes.append(ChannelStep("create", c.name))
            continue
        differs = sorted(k for k, v in c.declared_fields().items() if (row.get(k) or None) != (v or None))
        if differs:
            # never name the url or secret values, only that they differ
            changes.append(ChannelStep("update", c.name, ", ".join(differs)))
    names = {c.name for c in declared}
    unmanaged = [ChannelStep("delete", r["$id"], "created at runtime") for r in rows
                 if r["$id"] not in names and (r.get("source") or "runtime") != "schema"]
    unmanaged += [ChannelStep("delete", r["$id"], "no longer in schemas/") for r in rows
                  if r["$id"] not in names and r.get("source") == "schema"]
    return changes, sorted(unmanaged, key=lambda s: s.name)


def apply_steps(store, schema, chosen: list[ChannelStep], progress=lambda line: None) -> list[str]:
    declared = {c.name: c for c in validate_declared(schema)}
    done = []
    for step in chosen:
        progress(f"{step.action[:-1]}ing channel {step.name}")
        if step.action == "create":
            store.create(CHANNELS_TABLE, [declared[step.name].to_row()])
        elif step.action == "update":
            store.update(CHANNELS_TABLE, step.name, declared[step.name].declared_fields())
        elif step.action == "delete":
            store.delete(CHANNELS_TABLE, step.name)
        done.append(f"{step.action}d channel {step.name}")
    return done
