"""The typed schema: database, tables, topics and functions (and the capabilities' sections).

`schemas/*.yaml` is the one source of truth. The CLI reads the YAML; function bundles carry
the same document compiled to JSON (`schema.json`), parsed by the same `Schema.from_dict`.
Validation (schema_parse.py) mirrors Appwrite's own limits, each cited where it is enforced.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path



class SchemaError(ValueError):
    """`path` is the dotted key inside the schema, e.g. tables.alerts.columns.summary.size."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Column:
    key: str
    type: str
    required: bool = False
    size: int | None = None
    default: object = None
    array: bool = False
    min: float | None = None
    max: float | None = None
    # Appwrite's string formats: email, url, ip, or enum (one of `elements`).
    format: str = ""
    elements: tuple[str, ...] = ()
    # Appwrite encrypts the value at rest; such a column cannot be queried or indexed.
    encrypt: bool = False

    def row_bytes(self) -> int:
        """Bytes this column takes of the 65535-byte row (utopia Adapter/SQL.php getSQLType)."""
        if self.array:
            return 20
        if self.type == "string":
            size = self.size or 0
            if size <= 255:
                return 4 * size + 1
            return 4 * size + 2 if size <= 16381 else 20
        return 1 if self.type == "boolean" else 8

    def index_length(self) -> int:
        if self.array:
            return 255
        if self.type == "string":
            return self.size or 0
        return 2 if self.type == "double" else 1

    def to_dict(self) -> dict:
        out: dict = {"type": self.type, "required": self.required}
        if self.size is not None:
            out["size"] = self.size
        if self.default is not None:
            out["default"] = self.default
        if self.array:
            out["array"] = True
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.format:
            out["format"] = self.format
        if self.elements:
            out["elements"] = list(self.elements)
        if self.encrypt:
            out["encrypt"] = True
        return out


@dataclass(frozen=True)
class Index:
    key: str
    type: str
    columns: tuple[str, ...]
    orders: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out: dict = {"type": self.type, "columns": list(self.columns)}
        if self.orders:
            out["orders"] = list(self.orders)
        return out


@dataclass(frozen=True)
class Table:
    id: str
    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    row_security: bool = False
    permissions: tuple[str, ...] = ()
    enabled: bool = True

    @functools.cached_property
    def string_sizes(self) -> dict[str, int]:
        return {c.key: c.size for c in self.columns if c.type == "string" and c.size}

    @functools.cached_property
    def columns_by_key(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns}

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "rowSecurity": self.row_security,
            "permissions": list(self.permissions),
            "columns": {c.key: c.to_dict() for c in self.columns},
            "indexes": {i.key: i.to_dict() for i in self.indexes},
        }


@dataclass(frozen=True)
class Topic:
    id: str
    name: str
    subscribe: tuple[str, ...] = ("users",)


@dataclass(frozen=True)
class FunctionSpec:
    id: str
    name: str
    runtime: str
    entrypoint: str
    execute: tuple[str, ...]
    scopes: tuple[str, ...]
    timeout: int
    schedule: str = ""
    commands: str = "pip install -r requirements.txt"
    secret_variables: tuple[str, ...] = ()
    variables: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # Appwrite events that trigger the function


@dataclass(frozen=True)
class Schema:
    EXTENSION_SECTIONS = ("channels", "templates", "policies", "schedules", "heartbeats", "people")

    database_id: str
    database_name: str
    tables: tuple[Table, ...]
    topics: tuple[Topic, ...]
    functions: tuple[FunctionSpec, ...] = ()
    # Declarative sections owned by a capability (channels, templates, policies, schedules,
    # heartbeats, people): kept as plain data here and parsed by that capability's module.
    extensions: dict = field(default_factory=dict, hash=False, compare=False)

    def section(self, name: str):
        return self.extensions.get(name) or {}

    def table(self, table_id: str) -> Table:
        for table in self.tables:
            if table.id == table_id:
                return table
        raise KeyError(table_id)

    @classmethod
    def from_dict(cls, doc: dict) -> "Schema":
        from .schema_parse import parse_schema

        return parse_schema(doc)

    def to_dict(self) -> dict:
        """The compiled form carried by function bundles; from_dict(to_dict()) round-trips."""
        return {
            "database": {"id": self.database_id, "name": self.database_name},
            "tables": {t.id: t.to_dict() for t in self.tables},
            "topics": {t.id: {"name": t.name, "subscribe": list(t.subscribe)} for t in self.topics},
            "functions": {f.id: _function_dict(f) for f in self.functions},
            **{k: v for k, v in self.extensions.items() if v},
        }


@functools.lru_cache(maxsize=1)
def load_bundled() -> Schema:
    """The schema compiled into a function bundle next to this package (bundle content,
    not configuration, so caching it for the life of a warm container is safe)."""
    path = Path(__file__).with_name("schema.json")
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build the bundle with `alertwrite bundle`")
    return Schema.from_dict(json.loads(path.read_text("utf-8")))


def _function_dict(fn: FunctionSpec) -> dict:
    out = {
        "name": fn.name, "runtime": fn.runtime, "entrypoint": fn.entrypoint,
        "execute": list(fn.execute), "scopes": list(fn.scopes), "timeout": fn.timeout,
        "commands": fn.commands,
    }
    if fn.schedule:
        out["schedule"] = fn.schedule
    if fn.secret_variables:
        out["secret_variables"] = list(fn.secret_variables)
    if fn.variables:
        out["variables"] = list(fn.variables)
    if fn.events:
        out["events"] = list(fn.events)
    return out
