"""What the Appwrite project holds now, read into plain records for the pure diff.

Three reads: the database, its tables (columns and indexes come inline in the table model),
and the messaging topics. SDK 22 parses columns as an undiscriminated Union (a string column
may come back as ColumnEnum), so fields are read from the dumped dict, never by class.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from appwrite.exception import AppwriteException
from appwrite.query import Query

from alertwrite.errors import Fault, classify

PAGE = 100


@dataclass(frozen=True)
class LiveColumn:
    key: str
    type: str
    required: bool
    size: int | None = None
    default: object = None
    array: bool = False
    min: float | None = None
    max: float | None = None
    status: str = "available"
    error: str = ""


@dataclass(frozen=True)
class LiveIndex:
    key: str
    type: str
    columns: tuple[str, ...]
    orders: tuple[str, ...] = ()
    status: str = "available"
    error: str = ""


@dataclass
class LiveTable:
    id: str
    name: str
    enabled: bool
    row_security: bool
    permissions: tuple[str, ...]
    columns: dict[str, LiveColumn] = field(default_factory=dict)
    indexes: dict[str, LiveIndex] = field(default_factory=dict)


@dataclass(frozen=True)
class LiveTopic:
    id: str
    name: str
    subscribe: tuple[str, ...]
    totals: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass
class Live:
    database_name: str | None  # None: the database does not exist
    tables: dict[str, LiveTable] = field(default_factory=dict)
    topics: dict[str, LiveTopic] = field(default_factory=dict)


def _value(model, key: str, default=None):
    data = model.to_dict() if hasattr(model, "to_dict") else dict(model)
    value = data.get(key, default)
    return value.value if hasattr(value, "value") else value


def column_from(model) -> LiveColumn:
    size = _value(model, "size")
    ctype = _value(model, "type")
    return LiveColumn(key=_value(model, "key"), type=ctype, required=bool(_value(model, "required")),
                      size=int(size) if size is not None and ctype == "string" else None,
                      default=_value(model, "default"), array=bool(_value(model, "array", False)),
                      min=_value(model, "min"), max=_value(model, "max"),
                      status=str(_value(model, "status", "available")), error=_value(model, "error", "") or "")


def index_from(model) -> LiveIndex:
    return LiveIndex(key=_value(model, "key"), type=str(_value(model, "type")),
                     columns=tuple(_value(model, "columns") or ()), orders=tuple(_value(model, "orders") or ()),
                     status=str(_value(model, "status", "available")), error=_value(model, "error", "") or "")


def fetch(tables_db, messaging, database_id: str) -> Live:
    try:
        database = tables_db.get(database_id)
    except AppwriteException as exc:
        if classify(exc) is not Fault.NOT_FOUND:
            raise
        return Live(None, topics=fetch_topics(messaging))
    live = Live(database.name, topics=fetch_topics(messaging))
    for table in _pages(lambda q: tables_db.list_tables(database_id, queries=q), "tables"):
        live.tables[table.id] = LiveTable(
            id=table.id, name=table.name, enabled=bool(table.enabled), row_security=bool(table.rowsecurity),
            permissions=tuple(table.permissions or ()),
            columns={c.key: c for c in (column_from(m) for m in table.columns or [])},
            indexes={i.key: i for i in (index_from(m) for m in table.indexes or [])})
    return live


def fetch_topics(messaging) -> dict[str, LiveTopic]:
    topics = {}
    for topic in _pages(lambda q: messaging.list_topics(queries=q), "topics"):
        topics[topic.id] = LiveTopic(topic.id, topic.name, tuple(topic.subscribe or ()),
                                     {"email": int(topic.emailtotal), "sms": int(topic.smstotal),
                                      "push": int(topic.pushtotal)})
    return topics


def _pages(call, attribute: str):
    offset = 0
    while True:
        page = call([Query.limit(PAGE), Query.offset(offset)])
        items = getattr(page, attribute)
        yield from items
        if len(items) < PAGE:
            return
        offset += PAGE
