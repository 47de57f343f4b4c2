"""Build a `Schema` from its document form, checking Appwrite's limits on the way.

Every error is a SchemaError naming the dotted key, e.g. tables.alerts.columns.summary.size;
the CLI adds the file that declares it.
"""
from __future__ import annotations

import re

from .schema import Column, FunctionSpec, Index, Schema, SchemaError, Table, Topic

# utopia-php/database Validator/Key.php + UID.php: [A-Za-z0-9._-], 1..36, no leading special.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,35}$")
COLUMN_TYPES = ("string", "integer", "double", "boolean", "datetime")
INDEX_TYPES = ("key", "unique", "fulltext")
FORMATS = ("email", "url", "ip", "enum")
MAX_INDEX_LENGTH = 768  # Validator/Index.php: sum of lengths, fulltext exempt
MAX_ROW_BYTES = 65535  # MariaDB row limit (Adapter/SQL.php)
SYSTEM_ROW_BYTES = 1067  # what $id, $sequence, $permissions ... take of it
MAX_STRING_SIZE = 1_073_741_824
MAX_COLUMNS = 1010
MAX_INDEXES = 58
MIN_ENCRYPTED_SIZE = 150  # appwrite app/init/constants.php APP_DATABASE_ENCRYPT_SIZE_MIN


def parse_schema(doc: dict) -> Schema:
    return _Parser().schema(doc)


class _Parser:
    def schema(self, doc: dict) -> Schema:
        db = self._mapping(doc.get("database"), "database")
        db_id = self._id(db.get("id"), "database.id")
        tables = tuple(self.table(tid, spec) for tid, spec in self._mapping(doc.get("tables"), "tables").items())
        if not tables:
            raise SchemaError("tables", "declare at least one table")
        topics = tuple(
            Topic(self._id(tid, f"topics.{tid}"),
                  str(self._mapping(spec, f"topics.{tid}").get("name") or tid),
                  tuple(self._strings((spec or {}).get("subscribe", ["users"]), f"topics.{tid}.subscribe")))
            for tid, spec in self._mapping(doc.get("topics") or {}, "topics").items()
        )
        if doc.get("rules"):
            raise SchemaError("rules", "routing rules became channels: declare each as a topic channel in "
                                       "channels.yaml (type: topic, topic, media, and severities or match), "
                                       "then delete routing.yaml")
        functions = tuple(self.function(fid, spec)
                          for fid, spec in self._mapping(doc.get("functions") or {}, "functions").items())
        extensions = {name: doc[name] for name in Schema.EXTENSION_SECTIONS if doc.get(name)}
        return Schema(db_id, str(db.get("name") or db_id), tables, topics, functions, extensions)

    def table(self, table_id: str, spec: object) -> Table:
        where = f"tables.{table_id}"
        self._id(table_id, where)
        spec = self._mapping(spec, where)
        columns = tuple(self.column(key, c, f"{where}.columns.{key}")
                        for key, c in self._mapping(spec.get("columns"), f"{where}.columns").items())
        if len(columns) > MAX_COLUMNS:
            raise SchemaError(f"{where}.columns", f"{len(columns)} columns; Appwrite allows {MAX_COLUMNS}")
        by_key = {c.key: c for c in columns}
        indexes = tuple(self.index(key, i, by_key, f"{where}.indexes.{key}")
                        for key, i in self._mapping(spec.get("indexes") or {}, f"{where}.indexes").items())
        if len(indexes) > MAX_INDEXES:
            raise SchemaError(f"{where}.indexes", f"{len(indexes)} indexes; Appwrite allows {MAX_INDEXES}")
        row = SYSTEM_ROW_BYTES + sum(c.row_bytes() for c in columns)
        if row > MAX_ROW_BYTES:
            raise SchemaError(f"{where}.columns",
                              f"row needs {row} bytes, over Appwrite's {MAX_ROW_BYTES}; shrink string sizes")
        return Table(
            id=table_id, name=str(spec.get("name") or table_id), columns=columns, indexes=indexes,
            row_security=bool(spec.get("rowSecurity", False)),
            permissions=tuple(self._strings(spec.get("permissions") or [], f"{where}.permissions")),
            enabled=bool(spec.get("enabled", True)),
        )

    def column(self, key: str, spec: object, where: str) -> Column:
        self._id(key, where)
        spec = self._mapping(spec, where)
        ctype = spec.get("type")
        if ctype not in COLUMN_TYPES:
            raise SchemaError(f"{where}.type", f"{ctype!r} is not one of {', '.join(COLUMN_TYPES)}")
        size = spec.get("size")
        if ctype == "string":
            if not isinstance(size, int) or not 1 <= size <= MAX_STRING_SIZE:
                raise SchemaError(f"{where}.size", f"string columns need a size from 1 to {MAX_STRING_SIZE}")
        elif size is not None:
            raise SchemaError(f"{where}.size", f"only string columns take a size, not {ctype}")
        required = bool(spec.get("required", False))
        array = bool(spec.get("array", False))
        default = spec.get("default")
        if default is not None and (required or array):
            # Appwrite answers column_default_unsupported for these.
            raise SchemaError(f"{where}.default", "a required or array column cannot have a default")
        low, high = spec.get("min"), spec.get("max")
        for name, bound in (("min", low), ("max", high)):
            if bound is not None and (ctype not in ("integer", "double") or isinstance(bound, bool)
                                      or not isinstance(bound, (int, float))):
                raise SchemaError(f"{where}.{name}", "only integer and double columns take a numeric min/max")
        if low is not None and high is not None and low > high:
            raise SchemaError(f"{where}.min", f"min {low} is above max {high}")
        fmt = spec.get("format") or ""
        elements = tuple(self._strings(spec.get("elements") or [], f"{where}.elements"))
        if fmt and (ctype != "string" or fmt not in FORMATS):
            raise SchemaError(f"{where}.format", f"string columns take a format of {', '.join(FORMATS)}")
        if (fmt == "enum") != bool(elements):
            raise SchemaError(f"{where}.elements", "an enum column lists its elements (and only an enum does)")
        if fmt == "enum" and default is not None and default not in elements:
            raise SchemaError(f"{where}.default", f"{default!r} is not one of the elements")
        encrypt = bool(spec.get("encrypt", False))
        if encrypt and (ctype != "string" or size < MIN_ENCRYPTED_SIZE):
            # String/Create.php: "Encrypted strings require a minimum size of 150 characters."
            raise SchemaError(f"{where}.encrypt", f"only string columns of size >= {MIN_ENCRYPTED_SIZE} can be encrypted")
        return Column(key, ctype, required, size, default, array, low, high, fmt, elements, encrypt)

    def index(self, key: str, spec: object, columns: dict[str, Column], where: str) -> Index:
        self._id(key, where)
        spec = self._mapping(spec, where)
        itype = spec.get("type")
        if itype not in INDEX_TYPES:
            raise SchemaError(f"{where}.type", f"{itype!r} is not one of {', '.join(INDEX_TYPES)}")
        cols = tuple(self._strings(spec.get("columns"), f"{where}.columns"))
        if not cols:
            raise SchemaError(f"{where}.columns", "an index needs at least one column")
        system = {"$id", "$createdAt", "$updatedAt"}
        for col in cols:
            if col not in columns and col not in system:
                raise SchemaError(f"{where}.columns", f"unknown column {col!r}")
            if col in columns and columns[col].encrypt:
                raise SchemaError(f"{where}.columns", f"column {col!r} is encrypted and cannot be indexed")
        length = sum(columns[c].index_length() if c in columns else 36 for c in cols)
        if itype != "fulltext" and length > MAX_INDEX_LENGTH:
            raise SchemaError(f"{where}.columns",
                              f"index length {length} is over Appwrite's maximum of {MAX_INDEX_LENGTH}")
        orders = tuple(self._strings(spec.get("orders") or [], f"{where}.orders"))
        if orders and (len(orders) != len(cols) or set(orders) - {"asc", "desc"}):
            raise SchemaError(f"{where}.orders", "give asc or desc for each column")
        return Index(key, itype, cols, orders)

    def function(self, fid: str, spec: object) -> FunctionSpec:
        where = f"functions.{fid}"
        self._id(fid, where)
        spec = self._mapping(spec, where)
        timeout = spec.get("timeout", 15)
        if not isinstance(timeout, int) or not 1 <= timeout <= 900:
            raise SchemaError(f"{where}.timeout", "seconds from 1 to 900")
        for key in ("runtime", "entrypoint"):
            if not isinstance(spec.get(key), str):
                raise SchemaError(f"{where}.{key}", "required")
        return FunctionSpec(
            id=fid, name=str(spec.get("name") or fid), runtime=spec["runtime"],
            entrypoint=spec["entrypoint"],
            execute=tuple(self._strings(spec.get("execute") or [], f"{where}.execute")),
            scopes=tuple(self._strings(spec.get("scopes") or [], f"{where}.scopes")),
            timeout=timeout, schedule=str(spec.get("schedule") or ""),
            commands=str(spec.get("commands") or "pip install -r requirements.txt"),
            secret_variables=tuple(self._strings(spec.get("secret_variables") or [], f"{where}.secret_variables")),
            variables=tuple(self._strings(spec.get("variables") or [], f"{where}.variables")),
            events=tuple(self._strings(spec.get("events") or [], f"{where}.events")),
        )

    @staticmethod
    def _id(value: object, where: str) -> str:
        if not isinstance(value, str) or not _ID.match(value):
            raise SchemaError(where, f"{value!r} is not a valid Appwrite ID "
                                     "(1-36 of a-z A-Z 0-9 . _ -, not starting with . _ -)")
        return value

    @staticmethod
    def _mapping(value: object, where: str) -> dict:
        if not isinstance(value, dict):
            raise SchemaError(where, "expected a mapping")
        return value

    @staticmethod
    def _strings(value: object, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise SchemaError(where, "expected a list of strings")
        return [str(v) for v in value]
