"""`alertwrite apply` copies the declared policies, schedules and people into their tables.

Between applies, runtime edits (CLI, API, console) win by name; apply makes the declaration
true again. Each section is parsed first, so a broken declaration fails apply, not a page.
"""
from __future__ import annotations

import json

from .oncall import parse_schedule
from .policies import PEOPLE_TABLE, POLICIES_TABLE, parse_person, parse_policy

SECTIONS = (("policies", POLICIES_TABLE, "policy"), ("schedules", "schedules", "schedule"),
            ("people", PEOPLE_TABLE, "person"))


def declared(schema) -> list[tuple[str, str, dict]]:
    """(table, kind, row) for every declared entry, validated."""
    out = []
    for section, table, kind in SECTIONS:
        for i, (name, spec) in enumerate((schema.section(section) or {}).items()):
            {"policy": lambda: parse_policy(name, spec, i), "schedule": lambda: parse_schedule(name, spec),
             "person": lambda: parse_person(name, spec)}[kind]()
            row = {"$id": name, "name": name, "spec": json.dumps(spec, sort_keys=True, default=str)}
            if kind == "policy":
                row["position"] = i
            out.append((table, kind, row))
    return out


def changes(rows, schema) -> list[tuple[str, str, dict, str]]:
    """(table, kind, row, action) where the table differs from the declaration; rows=None: all create."""
    out = []
    for table, kind, row in declared(schema):
        have = rows.get(table, row["$id"]) if rows is not None else None
        if have is None:
            out.append((table, kind, row, "create"))
        elif any(have.get(k) != v for k, v in row.items() if k != "$id"):
            out.append((table, kind, row, "update"))
    return out


def apply(rows, schema) -> list[str]:
    done = []
    for table, kind, row, action in changes(rows, schema):
        if action == "create" and rows.create(table, [row]):
            done.append(f"created {kind} {row['name']}")
        else:
            rows.update(table, row["$id"], {k: v for k, v in row.items() if k != "$id"})
            done.append(f"updated {kind} {row['name']}")
    return done
