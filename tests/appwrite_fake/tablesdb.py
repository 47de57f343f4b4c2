"""TablesDB routes of the fake (appwrite 1.8.1/1.9.6 TablesDB + utopia-php/database rules)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from .core import ApiError, FakeCore, Request, check_id, now_iso, queries_param

COLUMN_ROUTES = {"string": "string", "integer": "integer", "float": "double", "boolean": "boolean",
                 "datetime": "datetime", "email": "string", "url": "string", "ip": "string", "enum": "string",
                 "varchar": "varchar", "text": "text", "mediumtext": "mediumtext", "longtext": "longtext",
                 "point": "point"}
# 1.9 text types: only varchar takes a size; the others hold MariaDB's TEXT, MEDIUMTEXT, LONGTEXT.
TEXT_SIZES = {"text": 16383, "mediumtext": 4194303, "longtext": 1073741823}
FORMATS = ("email", "url", "ip", "enum")
MAX_BATCH = 100  # APP_LIMIT_DATABASE_BATCH
MAX_VALUES = 500  # APP_DATABASE_QUERY_MAX_VALUES
MAX_INDEX_LENGTH = 768
MAX_COLUMNS, MAX_INDEXES = 1010, 58
ROW_LIMIT, SYSTEM_BYTES = 65535, 1067
SYSTEM_FIELDS = ("$id", "$sequence", "$tableId", "$databaseId", "$createdAt", "$updatedAt", "$permissions")


def column_bytes(col: dict) -> int:
    if col.get("array"):
        return 20
    if col["type"] in ("text", "mediumtext", "longtext"):
        return 20
    if col["type"] in ("string", "varchar"):
        size = col.get("size") or 255  # formats (email, url, ip, enum) are varchar(255)-ish
        return 4 * size + 1 if size <= 255 else (4 * size + 2 if size <= 16381 else 20)
    return 1 if col["type"] == "boolean" else 8


def index_length(col: dict) -> int:
    if col.get("array"):
        return 255
    if col["type"] in ("string", "varchar", "text", "mediumtext", "longtext"):
        return col.get("size") or 255
    return 2 if col["type"] == "double" else 1


def parse_datetime(value: str) -> datetime:
    """What the server's DatetimeValidator takes (captures dt-*): an offset or none (UTC), a
    space for T, a date alone, fractions cut to milliseconds."""
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$", value)
    if not m:
        raise ValueError(value)
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    millis = int(((frac or ".0")[1:] + "000")[:3])
    base = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0), millis * 1000, tzinfo=timezone.utc)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        base -= timedelta(minutes=sign * (int(tz[1:3]) * 60 + int(tz[4:6])))
    return base


def normalize_datetime(value: str) -> str:
    parsed = parse_datetime(value)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}+00:00"


class TablesDB:
    def __init__(self, core: FakeCore):
        self.core = core
        self.databases: dict[str, dict] = {}
        self.tables: dict[tuple[str, str], dict] = {}
        self.rows: dict[tuple[str, str], dict[str, dict]] = {}
        self.sequence = 0
        self.orphans: set[tuple[str, str, str]] = set()
        self.seq: dict = {}  # database -> its sequence, (database, table) -> the table's
        self._seq_counter = 0  # unique indexes that do not enforce
        self.column_outcome: dict[str, str] = {}  # column key -> "failed" | "stuck" (tests)
        # (db, table, index key) -> {values: row id}, built on demand: a scan per write is O(n²).
        self._unique: dict[tuple[str, str, str], dict[tuple, str]] = {}
        r = core.route
        r("GET", "/tablesdb", "databases.read")(self.list_databases)
        r("POST", "/tablesdb", "databases.write")(self.create_database)
        r("GET", "/tablesdb/{db}", "databases.read")(self.get_database)
        r("PUT", "/tablesdb/{db}", "databases.write")(self.update_database)
        r("DELETE", "/tablesdb/{db}", "databases.write")(self.delete_database)
        r("GET", "/tablesdb/{db}/tables", "tables.read")(self.list_tables)
        r("POST", "/tablesdb/{db}/tables", "tables.write")(self.create_table)
        r("GET", "/tablesdb/{db}/tables/{table}", "tables.read")(self.get_table)
        r("PUT", "/tablesdb/{db}/tables/{table}", "tables.write")(self.update_table)
        r("DELETE", "/tablesdb/{db}/tables/{table}", "tables.write")(self.delete_table)
        r("GET", "/tablesdb/{db}/tables/{table}/columns", "tables.read")(self.list_columns)
        r("POST", "/tablesdb/{db}/tables/{table}/columns/{ctype}", "tables.write")(self.create_column)
        r("GET", "/tablesdb/{db}/tables/{table}/columns/{key}", "tables.read")(self.get_column)
        r("DELETE", "/tablesdb/{db}/tables/{table}/columns/{key}", "tables.write")(self.delete_column)
        r("GET", "/tablesdb/{db}/tables/{table}/indexes", "tables.read")(self.list_indexes)
        r("POST", "/tablesdb/{db}/tables/{table}/indexes", "tables.write")(self.create_index)
        r("GET", "/tablesdb/{db}/tables/{table}/indexes/{key}", "tables.read")(self.get_index)
        r("DELETE", "/tablesdb/{db}/tables/{table}/indexes/{key}", "tables.write")(self.delete_index)
        r("GET", "/tablesdb/{db}/tables/{table}/rows", "rows.read")(self.list_rows)
        r("POST", "/tablesdb/{db}/tables/{table}/rows", "rows.write")(self.create_rows)
        r("PUT", "/tablesdb/{db}/tables/{table}/rows", "rows.write")(self.upsert_rows)
        r("PATCH", "/tablesdb/{db}/tables/{table}/rows", "rows.write")(self.update_rows)
        r("DELETE", "/tablesdb/{db}/tables/{table}/rows", "rows.write")(self.delete_rows)
        r("PATCH", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.write")(self.update_row)
        r("GET", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.read")(self.get_row)
        r("PUT", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.write")(self.upsert_row)
        r("DELETE", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.write")(self.delete_row)

    # -- databases ---------------------------------------------------------------------
    def _db(self, db: str) -> dict:
        if db not in self.databases:
            raise ApiError(404, "database_not_found", "Database not found")
        return self.databases[db]

    def list_databases(self, req: Request):
        items = list(self.databases.values())
        return 200, {"total": len(items), "databases": items}

    def create_database(self, req: Request):
        db = check_id(req.body.get("databaseId"), "databaseId")
        if db in self.databases:
            raise ApiError(409, "database_already_exists", "Database already exists")
        t = now_iso()
        self._seq_counter += 1
        self.seq[db] = self._seq_counter
        self.databases[db] = {"$id": db, "name": req.body.get("name", db), "$createdAt": t, "$updatedAt": t,
                              "enabled": req.body.get("enabled", True), "type": "tablesdb"}
        return 201, self.databases[db]

    def get_database(self, req: Request, db: str):
        return 200, self._db(db)

    def update_database(self, req: Request, db: str):
        record = self._db(db)
        record.update(name=req.body.get("name", record["name"]), **{"$updatedAt": now_iso()})
        return 200, record

    def delete_database(self, req: Request, db: str):
        self._db(db)
        del self.databases[db]
        for key in [k for k in self.tables if k[0] == db]:
            del self.tables[key]
            self.rows.pop(key, None)
            self._forget_unique(*key)
        return 204, None

    # -- tables ------------------------------------------------------------------------
    def _table(self, db: str, table: str) -> dict:
        self._db(db)
        if (db, table) not in self.tables:
            raise ApiError(404, "table_not_found", "Table with the requested ID could not be found.")
        return self.tables[(db, table)]

    def list_tables(self, req: Request, db: str):
        self._db(db)
        items = [t for (d, _), t in self.tables.items() if d == db]
        return 200, {"total": len(items), "tables": items}

    def create_table(self, req: Request, db: str):
        self._db(db)
        table = check_id(req.body.get("tableId"), "tableId")
        if (db, table) in self.tables:
            raise ApiError(409, "table_already_exists", "Table with the requested ID already exists.")
        t = now_iso()
        self._seq_counter += 1
        self.seq[(db, table)] = self._seq_counter
        self.tables[(db, table)] = {
            "$id": table, "$createdAt": t, "$updatedAt": t, "$permissions": req.body.get("permissions") or [],
            "databaseId": db, "name": req.body.get("name", table), "enabled": req.body.get("enabled", True),
            "rowSecurity": req.body.get("rowSecurity", False), "columns": [], "indexes": [],
            "bytesMax": ROW_LIMIT, "bytesUsed": SYSTEM_BYTES,
        }
        self.rows[(db, table)] = {}
        return 201, self.tables[(db, table)]

    def get_table(self, req: Request, db: str, table: str):
        return 200, self._table(db, table)

    def update_table(self, req: Request, db: str, table: str):
        record = self._table(db, table)
        for key in ("name", "enabled", "rowSecurity"):
            if key in req.body:
                record[key] = req.body[key]
        if "permissions" in req.body:
            record["$permissions"] = req.body["permissions"] or []
        record["$updatedAt"] = now_iso()
        return 200, record

    def delete_table(self, req: Request, db: str, table: str):
        self._table(db, table)
        del self.tables[(db, table)]
        self.rows.pop((db, table), None)
        self._forget_unique(db, table)
        return 204, None

    # -- columns -----------------------------------------------------------------------
    def list_columns(self, req: Request, db: str, table: str):
        cols = self._table(db, table)["columns"]
        return 200, {"total": len(cols), "columns": cols}

    def create_column(self, req: Request, db: str, table: str, ctype: str):
        record = self._table(db, table)
        if ctype not in COLUMN_ROUTES:
            raise ApiError(404, "general_route_not_found", "The requested route was not found.")
        key = check_id(req.body.get("key"), "key")
        if any(c["key"] == key for c in record["columns"]):
            raise ApiError(409, "column_already_exists", "Column with the requested key already exists.")
        required, default, array = bool(req.body.get("required")), req.body.get("default"), bool(req.body.get("array"))
        if default is not None and (required or array):
            raise ApiError(400, "column_default_unsupported", "Cannot set default value for required or array columns")
        t = now_iso()
        col = {"key": key, "type": COLUMN_ROUTES[ctype], "status": "processing", "error": "", "required": required,
               "array": array, "$createdAt": t, "$updatedAt": t, "default": default}
        if ctype in ("string", "varchar"):
            size = req.body.get("size")
            if not isinstance(size, int) or not 1 <= size <= 1073741824:
                raise ApiError(400, "general_argument_invalid",
                               "Invalid `size` param: Value must be a valid range between 1 and 1,073,741,824")
            col["size"] = size
        if ctype in ("string", "varchar") or ctype in TEXT_SIZES:
            col["encrypt"] = False
        if ctype in FORMATS:
            col["format"] = ctype
            if ctype == "enum":
                col["elements"] = list(req.body.get("elements") or [])
        if ctype in ("integer", "float"):
            col["min"], col["max"] = req.body.get("min"), req.body.get("max")
        if ctype == "datetime":
            col["format"] = ""
        # Limit checks run synchronously (Columns/Action.php).
        if len(record["columns"]) + 1 > MAX_COLUMNS or \
                SYSTEM_BYTES + sum(column_bytes(c) for c in record["columns"]) + column_bytes(col) > ROW_LIMIT:
            raise ApiError(400, "column_limit_exceeded", "The maximum number or size of columns for this table has been reached.")
        record["columns"].append(col)
        outcome = self.column_outcome.get(key, "available")

        def finish():
            col["status"] = outcome
            col["error"] = "fake: column creation failed" if outcome == "failed" else ""
        if outcome != "stuck":
            self.core.later(finish)
        return 202, col

    def get_column(self, req: Request, db: str, table: str, key: str):
        for col in self._table(db, table)["columns"]:
            if col["key"] == key:
                return 200, col
        raise ApiError(404, "column_not_found", "Column with the requested ID could not be found.")

    def delete_column(self, req: Request, db: str, table: str, key: str):
        record = self._table(db, table)
        _, col = self.get_column(req, db, table, key)
        col["status"] = "deleting"

        def finish():
            self._forget_unique(db, table)
            if col in record["columns"]:
                record["columns"].remove(col)
                record["indexes"] = [i for i in record["indexes"] if key not in i["columns"]]
                for row in self.rows[(db, table)].values():
                    row.pop(key, None)
        self.core.later(finish)
        return 204, None

    # -- indexes -----------------------------------------------------------------------
    def list_indexes(self, req: Request, db: str, table: str):
        items = self._table(db, table)["indexes"]
        return 200, {"total": len(items), "indexes": items}

    def create_index(self, req: Request, db: str, table: str):
        record = self._table(db, table)
        key = check_id(req.body.get("key"), "key")
        itype, columns = req.body.get("type"), req.body.get("columns") or []
        if itype not in ("key", "unique", "fulltext"):
            raise ApiError(400, "general_argument_invalid", "Invalid `type` param")
        if any(i["key"] == key for i in record["indexes"]):
            raise ApiError(409, "column_index_already_exists", "Index with the requested key already exists.")
        if len(record["indexes"]) + 1 > MAX_INDEXES:
            raise ApiError(400, "index_limit_exceeded", "Index limit exceeded")
        by_key = {c["key"]: c for c in record["columns"]}
        length = 0
        for name in columns:
            if name in ("$id", "$createdAt", "$updatedAt"):
                length += 36
                continue
            if name not in by_key:
                raise ApiError(400, "column_unknown", f"Unknown column: {name}")
            if by_key[name]["status"] != "available":
                raise ApiError(400, "column_not_available", "Column not available. Please wait for the column to be created.")
            length += index_length(by_key[name])
        lengths = req.body.get("lengths") or []
        if lengths:  # explicit prefix lengths replace the columns' sizes (idx-create-over-768-with-lengths)
            length = sum(int(n or 0) for n in lengths)
        if itype != "fulltext" and length > MAX_INDEX_LENGTH:
            raise ApiError(400, "column_index_invalid", f"Index length is longer than the maximum: {MAX_INDEX_LENGTH}")
        t = now_iso()
        # An index's $id is "<database sequence>_<table sequence>_<key>" (capture idx-create-key:
        # 7_1_idx_count); `key` is the name given.
        index_id = f"{self.seq.get(db, 1)}_{self.seq.get((db, table), 1)}_{key}"
        index = {"$id": index_id, "$createdAt": t, "$updatedAt": t, "key": key, "type": itype, "status": "processing",
                 "error": "", "columns": list(columns), "lengths": req.body.get("lengths") or [],
                 "orders": req.body.get("orders") or []}
        record["indexes"].append(index)

        def finish():
            self._forget_unique(db, table)
            index["status"] = "available"
            if itype == "unique" and self._has_duplicates(db, table, columns):
                # 1.9.0 (udb 5.3.17 Database::createIndex) keeps an index that failed over existing
                # duplicates as an "orphan": available, error "", and not enforced (dups-unique-*).
                self.orphans.add((db, table, key))
        self.core.later(finish)
        return 202, index

    def _has_duplicates(self, db, table, columns) -> bool:
        seen = set()
        for row in self.rows[(db, table)].values():
            value = tuple(row.get(c) for c in columns)
            if value in seen:
                return True
            seen.add(value)
        return False

    def get_index(self, req: Request, db: str, table: str, key: str):
        for index in self._table(db, table)["indexes"]:
            if index["key"] == key:
                return 200, index
        raise ApiError(404, "column_index_not_found", "Index with the requested ID could not be found.")

    def delete_index(self, req: Request, db: str, table: str, key: str):
        record = self._table(db, table)
        _, index = self.get_index(req, db, table, key)
        index["status"] = "deleting"
        def finish():
            self._forget_unique(db, table)
            if index in record["indexes"]:
                record["indexes"].remove(index)
        self.core.later(finish)
        return 204, None

    # -- rows --------------------------------------------------------------------------
    def list_rows(self, req: Request, db: str, table: str, default_limit: int | None = 25):
        record = self._table(db, table)
        rows = list(self.rows[(db, table)].values())
        limit, offset, cursor, select = default_limit, 0, None, None  # APP_LIMIT_LIST_DEFAULT
        orders: list[tuple[str, bool]] = []
        known = {c["key"] for c in record["columns"]} | set(SYSTEM_FIELDS)
        for query in queries_param(req):
            method, attr, values = query.get("method"), query.get("attribute"), query.get("values") or []
            if method == "limit":
                limit = int(values[0])
                if limit < 1:
                    raise ApiError(400, "general_query_invalid", "Invalid query: Invalid limit")
            elif method == "offset":
                offset = int(values[0])
            elif method == "cursorAfter":
                cursor = values[0]
            elif method == "select":
                select = values
            elif method in ("orderAsc", "orderDesc"):
                orders.append((attr, method == "orderDesc"))
            else:
                if attr not in known:
                    raise ApiError(400, "general_query_invalid", f"Invalid query: Attribute not found in schema: {attr}")
                if method in ("equal", "notEqual") and not values:
                    raise ApiError(400, "general_query_invalid", "Invalid query: Equal queries require at least one value.")
                if len(values) > MAX_VALUES:
                    raise ApiError(400, "general_query_invalid", f"Invalid query: Query on attribute has greater than {MAX_VALUES} values: {attr}")
                rows = [r for r in rows if _matches(method, r.get(attr), values)]
        # The first order query is the primary key: sort by the last one first (stable sorts).
        # NULL sorts first ascending, as in MariaDB.
        for attr, descending in reversed(orders):
            rows.sort(key=lambda r: (r.get(attr) is not None, r.get(attr) if r.get(attr) is not None else 0),
                      reverse=descending)
        if cursor is not None:
            ids = [r["$id"] for r in rows]
            if cursor not in self.rows[(db, table)]:
                raise ApiError(400, "general_cursor_not_found", "Cursor not found")
            rows = rows[ids.index(cursor) + 1:] if cursor in ids else []
        matched = len(rows)  # `total` counts every match, not the page (captures many-list-total)
        rows = rows[offset:] if limit is None else rows[offset:offset + limit]
        if select:
            rows = [{k: v for k, v in r.items() if k in select or k in SYSTEM_FIELDS} for r in rows]
        total = 0 if req.params.get("total") == "false" else min(matched, 5000)
        return 200, {"total": total, "rows": rows}

    def get_row(self, req: Request, db: str, table: str, row: str):
        self._table(db, table)
        _path_id(row)
        found = self._existing_id(self.rows[(db, table)], row)
        if found is None:
            raise ApiError(404, "row_not_found", f"Row with the requested ID '{row}' could not be found.")
        record = self.rows[(db, table)][found]
        for query in queries_param(req):
            if query.get("method") != "select":
                raise ApiError(400, "general_query_invalid", f"Invalid query method: {query.get('method')}")
            # select always adds the system fields (capture row-get-select)
            record = {k: v for k, v in record.items() if k in query.get("values", []) or k in SYSTEM_FIELDS}
        return 200, record

    def delete_rows(self, req: Request, db: str, table: str):
        """Bulk delete by queries; no queries deletes every row (bulk-delete-no-queries)."""
        self._table(db, table)
        req.params.update({f"queries[{i}]": q for i, q in enumerate(req.body.get("queries") or [])})
        _, listed = self.list_rows(req, db, table, default_limit=None)
        for row in listed["rows"]:
            del self.rows[(db, table)][row["$id"]]
        self._forget_unique(db, table)
        return 200, {"total": len(listed["rows"]), "rows": listed["rows"]}

    def create_rows(self, req: Request, db: str, table: str):
        self._table(db, table)
        if "rows" in req.body:
            batch = self._batch(req.body["rows"])
            # Atomic: one existing ID, or one twice in the batch, fails all of it with an empty
            # ID in the message (captures bulk-create-one-existing, bulk-create-dup-within-batch).
            ids = [r.get("$id") for r in batch if r.get("$id") not in (None, "unique()")]
            store = self.rows[(db, table)]
            if len(set(i.lower() for i in ids if isinstance(i, str))) < len(ids) or any(
                    self._existing_id(store, i) for i in ids):
                raise ApiError(409, "row_already_exists",
                               "Row with the requested ID '' already exists. Try again with a different ID or "
                               "use ID.unique() to generate a unique ID.")
            staged = [self._write(db, table, r.get("$id", "unique()"), r, mode="create", dry=True) for r in batch]
            made = [self._write(db, table, r["$id"], r, mode="create") for r in staged]
            return 201, {"total": len(made), "rows": made}
        if "rowId" not in req.body and "data" not in req.body:
            raise ApiError(400, "row_missing_data", "The row data is missing. Try again with row data populated")
        if "rowId" not in req.body:
            raise ApiError(400, "row_missing_data", "Row ID is required when creating a single row.")
        if isinstance(req.body.get("data"), str):
            raise ApiError(400, "general_argument_invalid", "Invalid `data` param: Value must be a valid JSON string")
        if isinstance(req.body.get("data"), list):
            raise ApiError(400, "row_invalid_structure", "Invalid document structure: Unknown attribute: \"0\"")
        if "create(" in str(req.body.get("permissions") or []):
            raise ApiError(400, "general_argument_invalid", "Invalid `permissions` param: create is not allowed on rows")
        data = dict(req.body.get("data") or {})
        data["$permissions"] = req.body.get("permissions") or []
        return 201, self._write(db, table, req.body.get("rowId"), data, mode="create")

    def upsert_rows(self, req: Request, db: str, table: str):
        self._table(db, table)
        batch = self._batch(req.body.get("rows"))
        # Validate the whole batch before writing any of it, as the adapter does in one transaction.
        for r in batch:
            self._write(db, table, r.get("$id", "unique()"), r, dry=True)
        changed = []
        for r in batch:
            before = self.rows[(db, table)].get(r.get("$id"))
            after = self._write(db, table, r.get("$id", "unique()"), r)
            if after is not before:  # the very same record back means it was skipped
                changed.append(after)
        return 200, {"total": len(changed), "rows": changed}

    def update_row(self, req: Request, db: str, table: str, row: str):
        """PATCH is partial: omitted columns are kept, an explicit null clears one
        (captures row-update-partial, row-update-null); {} is row_missing_payload."""
        self._table(db, table)
        _path_id(row)
        data = req.body.get("data")
        if not isinstance(data, dict) or not data:
            if "permissions" not in req.body:
                raise ApiError(400, "row_missing_payload", "The row data and permissions are missing. "
                               "You must provide either row data or permissions to be updated.")
            data = {}
        if row not in self.rows[(db, table)]:
            raise ApiError(404, "row_not_found", f"Row with the requested ID '{row}' could not be found.")
        data = dict(data)
        if "permissions" in req.body:
            data["$permissions"] = req.body["permissions"] or []
        return 200, self._write(db, table, row, data, mode="update")

    def update_rows(self, req: Request, db: str, table: str):
        """Bulk update: one `data` for every row the queries match; answers those rows."""
        self._table(db, table)
        data = req.body.get("data")
        if not isinstance(data, dict):
            raise ApiError(400, "general_argument_invalid", "Invalid `data` param: Value must be a valid JSON string")
        req.params.update({f"queries[{i}]": q for i, q in enumerate(req.body.get("queries") or [])})
        _, listed = self.list_rows(req, db, table, default_limit=None)
        ids = [r["$id"] for r in listed["rows"]]
        for rid in ids:
            self._write(db, table, rid, data, mode="update", dry=True)
        rows = [self._write(db, table, rid, data, mode="update", touch=True) for rid in ids]
        return 200, {"total": len(rows), "rows": rows}

    def upsert_row(self, req: Request, db: str, table: str, row: str):
        self._table(db, table)
        _path_id(row)
        if not req.body:
            raise ApiError(400, "row_missing_payload", "The row data and permissions are missing. "
                           "You must provide either row data or permissions to be updated.")
        data = dict(req.body.get("data") or {})
        if "permissions" in req.body:
            data["$permissions"] = req.body["permissions"] or []
        # 200 whether it creates or updates; 201 only inside a transaction (upsert-single-new,
        # Documents/Upsert.php).
        return 200, self._write(db, table, row, data)

    def delete_row(self, req: Request, db: str, table: str, row: str):
        _path_id(row)
        self.get_row(req, db, table, row)
        del self.rows[(db, table)][row]
        self._forget_unique(db, table)
        return 204, None

    def _batch(self, rows):
        if not isinstance(rows, list):
            raise ApiError(400, "general_argument_invalid", "Invalid `rows` param: Value must a valid array")
        if not rows:
            raise ApiError(400, "row_missing_data", "The row data is missing. Try again with row data populated")
        if len(rows) > MAX_BATCH or not all(isinstance(r, dict) for r in rows):
            raise ApiError(400, "general_argument_invalid",
                           f"Invalid `rows` param: Value must a valid array no longer than {MAX_BATCH} items "
                           "and Value must be a valid JSON string")
        return rows

    @staticmethod
    def _existing_id(store: dict, row_id) -> str | None:
        """Row IDs compare case-insensitively (`_ci` collation: capture rowid-case)."""
        if not isinstance(row_id, str):
            return None
        if row_id in store:
            return row_id
        low = row_id.lower()
        if row_id != low or any(c.isupper() for c in "".join(store)):
            for key in store:
                if key.lower() == low:
                    return key
        return None

    def _write(self, db: str, table: str, row_id, data: dict, mode: str = "upsert", dry: bool = False,
               touch: bool = False) -> dict:
        """mode: create (409 if it exists), upsert (PUT: every required column must be sent,
        even for an existing row: capture bulk-upsert-no-required), update (PATCH: partial)."""
        record = self.tables[(db, table)]
        store = self.rows[(db, table)]
        row_id = check_id(row_id, "rowId")
        found = self._existing_id(store, row_id)
        existing = store.get(found) if found else None
        if existing and mode == "create":
            raise ApiError(409, "row_already_exists",
                           f"Row with the requested ID '{row_id}' already exists. Try again with a different ID "
                           "or use ID.unique() to generate a unique ID.")
        if found:
            row_id = found
        columns = {c["key"]: c for c in record["columns"]}
        values = {k: v for k, v in data.items() if not k.startswith("$")}
        for key, value in values.items():
            col = columns.get(key)
            if col is None or col["status"] != "available":
                raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Unknown attribute: "{key}"')
            values[key] = _check_value(col, value)
        merged = {**(existing or {}), **values}
        for key, col in columns.items():
            # PATCH checks the merged row; create and upsert check what was sent.
            have = merged.get(key) if mode == "update" else values.get(key)
            if col["required"] and have is None:
                raise ApiError(400, "row_invalid_structure",
                               f'Invalid document structure: Missing required attribute "{key}"')
        for key, col in columns.items():
            merged.setdefault(key, col.get("default") if not col.get("array") else [])
        unique = [i for i in record["indexes"]
                  if i["type"] == "unique" and i["status"] == "available" and (db, table, i["key"]) not in self.orphans]
        for index in unique:
            holder = self._unique_map(db, table, index).get(_unique_key(merged, index))
            if all(v is None for v in _unique_key(merged, index)):
                holder = None  # NULLs never collide in a MariaDB unique index
            if holder is not None and holder != row_id:
                # A unique-index violation answers row_already_exists naming the new row (uniq-row-b-violates).
                raise ApiError(409, "row_already_exists",
                               f"Row with the requested ID '{row_id}' already exists. Try again with a different "
                               "ID or use ID.unique() to generate a unique ID.")
        if dry:
            return {**merged, "$id": row_id}
        t = now_iso()
        if existing is None:
            self.sequence += 1
        system = {"$id": row_id, "$sequence": existing["$sequence"] if existing else str(self.sequence),
                  "$tableId": table, "$databaseId": db,
                  "$createdAt": existing["$createdAt"] if existing else t,
                  "$updatedAt": t, "$permissions": data.get("$permissions", existing["$permissions"] if existing else [])}
        merged = {k: v for k, v in merged.items() if not k.startswith("$")}
        full = set(values) >= set(columns)
        if existing is not None and all(existing.get(k) == v for k, v in merged.items()) \
                and system["$permissions"] == existing["$permissions"] and full and not touch:
            # Only a write that sends every column identically is skipped; a partial identical
            # one is re-stamped (bulk-upsert-full-identical vs bulk-upsert-partial-identical).
            return existing
        for index in unique:
            keys = self._unique_map(db, table, index)
            if existing is not None:
                keys.pop(_unique_key(existing, index), None)
            keys[_unique_key(merged, index)] = row_id
        store[row_id] = {**system, **merged}
        return store[row_id]

    def _unique_map(self, db: str, table: str, index: dict) -> dict[tuple, str]:
        key = (db, table, index["key"])
        if key not in self._unique:
            self._unique[key] = {_unique_key(r, index): rid for rid, r in self.rows[(db, table)].items()}
        return self._unique[key]

    def _forget_unique(self, db: str, table: str) -> None:
        for key in [k for k in self._unique if k[:2] == (db, table)]:
            del self._unique[key]


def _path_id(row_id: str) -> None:
    """A row ID in a path gets the UID validator's own text (capture id-path-37-chars-get)."""
    if len(row_id) > 36:
        raise ApiError(400, "general_argument_invalid",
                       "Invalid `rowId` param: UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, "
                       "and underscore. Can't start with a leading underscore")


def _unique_key(row: dict, index: dict) -> tuple:
    # `_ci` collation: strings compare case-insensitively (capture uniq-row-b-case).
    return tuple(v.lower() if isinstance(v, str) else v for v in (row.get(c) for c in index["columns"]))


INT32 = (-2147483648, 2147483647)
INT64 = (-9223372036854775808, 9223372036854775807)
DOUBLE_MAX = 1.7976931348623157e308
DT_MIN = datetime(1000, 1, 1, tzinfo=timezone.utc)
DT_MAX = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#]+[^\s]*$")


def _n(value) -> str:
    """Numbers as the server writes them in messages: 2,147,483,647 and 179,769,…"""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,}"


def _check_value(col: dict, value):
    """utopia-php/database Structure validator, with the 1.9.0 texts (captures §H, 3-rows-invalid)."""
    if value is None:
        return None
    key = col["key"]
    if col.get("array"):
        if not isinstance(value, list):
            raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Attribute "{key}" must be an array')
    elif isinstance(value, list) and col["type"] != "point":
        raise ApiError(400, "row_invalid_structure",
                       f'Invalid document structure: Attribute "{key}" has invalid type. Value must be a valid string')
    if col.get("array"):
        return [_check_value({**col, "array": False, "key": f"{key}['{i}']"}, v) for i, v in enumerate(value)]
    kind = col["type"]
    if kind in ("varchar", "text", "mediumtext", "longtext"):
        kind = "string"
    if kind == "point":
        if not (isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Attribute "{key}" has invalid '
                           "type. Value must be a valid point: Point must be an array of two numeric values [x, y]")
        return value

    def invalid(text: str, what: str = "type"):
        raise ApiError(400, "row_invalid_structure",
                       f'Invalid document structure: Attribute "{key}" has invalid {what}. {text}')
    if kind == "string":
        size = col.get("size") or TEXT_SIZES.get(col["type"]) or 2000  # text types and formats: no size
        if not isinstance(value, str) or len(value) > size:
            invalid(f"Value must be a valid string and no longer than {size} chars")
        fmt = col.get("format") or ""
        if fmt == "enum" and value not in (col.get("elements") or []):
            invalid(f"Value must be one of ({', '.join(col.get('elements') or [])})", "format")
        if fmt == "email" and not _EMAIL.match(value):
            invalid("Value must be a valid email address", "format")
        if fmt == "url" and not _URL.match(value):
            invalid("Value must be a valid URL", "format")
        if fmt == "ip":
            import ipaddress
            try:
                ipaddress.ip_address(value)
            except ValueError:
                invalid("Value must be a valid IP address", "format")
    elif kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            invalid(f"Value must be a valid signed 32-bit integer between {_n(INT32[0])} and {_n(INT32[1])}")
        if not INT64[0] <= value <= INT64[1]:
            invalid(f"Value must be a valid signed 64-bit integer between {_n(INT64[0])} and {-INT64[0]:,}")
        low = INT64[0] if col.get("min") is None else col["min"]
        high = INT64[1] if col.get("max") is None else col["max"]
        if not low <= value <= high:
            invalid(f"Value must be a valid range between {_n(low)} and {_n(high)}", "format")
    elif kind == "double":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            invalid("Value must be a valid float")
        low = -DOUBLE_MAX if col.get("min") is None else col["min"]
        high = DOUBLE_MAX if col.get("max") is None else col["max"]
        if not low <= value <= high:
            invalid(f"Value must be a valid range between {_n(low)} and {_n(high)}", "format")
    elif kind == "boolean":
        if not isinstance(value, bool):
            invalid("Value must be a valid boolean")
    elif kind == "datetime":
        if value == "":
            return now_iso()  # the server stores "" as the current time (capture dt-empty)
        try:
            parsed = parse_datetime(value)
        except (ValueError, TypeError, AttributeError, OverflowError):
            parsed = None
        if parsed is None or not DT_MIN <= parsed <= DT_MAX:
            invalid("Value must be valid date between 1000-01-01 00:00:00 and 9999-12-31 23:59:59.", "format")
        return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}+00:00"
    return value


def _matches(method: str, actual, values: list) -> bool:
    if method == "equal":
        return actual in values
    if method == "notEqual":
        return actual not in values
    if method == "isNull":
        return actual is None
    if method == "isNotNull":
        return actual is not None
    if actual is None:
        return False
    if method == "contains":
        if isinstance(actual, list):
            return any(v in actual for v in values)
        # On a string column: SQL LIKE %v% under a _ci collation (utopia-php/database MariaDB).
        return any(str(v).lower() in str(actual).lower() for v in values)
    if method == "startsWith":
        return str(actual).startswith(str(values[0]))
    if method == "between":
        return values[0] <= actual <= values[1]
    target = values[0]
    return {"lessThan": actual < target, "lessThanEqual": actual <= target,
            "greaterThan": actual > target, "greaterThanEqual": actual >= target}.get(method, False)
