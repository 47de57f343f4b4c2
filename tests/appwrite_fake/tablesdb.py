"""TablesDB routes of the fake (appwrite 1.8.1/1.9.6 TablesDB + utopia-php/database rules)."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from .core import ApiError, FakeCore, Request, check_id, now_iso, queries_param

COLUMN_ROUTES = {"string": "string", "integer": "integer", "float": "double", "boolean": "boolean",
                 "datetime": "datetime"}
MAX_BATCH = 100  # APP_LIMIT_DATABASE_BATCH
MAX_VALUES = 500  # APP_DATABASE_QUERY_MAX_VALUES
MAX_INDEX_LENGTH = 768
MAX_COLUMNS, MAX_INDEXES = 1010, 58
ROW_LIMIT, SYSTEM_BYTES = 65535, 1067
SYSTEM_FIELDS = ("$id", "$sequence", "$tableId", "$databaseId", "$createdAt", "$updatedAt", "$permissions")


def column_bytes(col: dict) -> int:
    if col.get("array"):
        return 20
    if col["type"] == "string":
        size = col["size"]
        return 4 * size + 1 if size <= 255 else (4 * size + 2 if size <= 16381 else 20)
    return 1 if col["type"] == "boolean" else 8


def index_length(col: dict) -> int:
    if col.get("array"):
        return 255
    if col["type"] == "string":
        return col["size"]
    return 2 if col["type"] == "double" else 1


def normalize_datetime(value: str) -> str:
    text = value.replace("Z", "+00:00")
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2})?$", text)
    if not m:
        raise ValueError(value)
    base = datetime.fromisoformat(m.group(1) + (m.group(3) or "+00:00")).astimezone(timezone.utc)
    millis = int(((m.group(2) or ".0")[1:] + "000")[:3])
    return base.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}+00:00"


class TablesDB:
    def __init__(self, core: FakeCore):
        self.core = core
        self.databases: dict[str, dict] = {}
        self.tables: dict[tuple[str, str], dict] = {}
        self.rows: dict[tuple[str, str], dict[str, dict]] = {}
        self.sequence = 0
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
        r("GET", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.read")(self.get_row)
        r("PUT", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.write")(self.upsert_row)
        r("PATCH", "/tablesdb/{db}/tables/{table}/rows/{row}", "rows.write")(self.update_row)
        r("PATCH", "/tablesdb/{db}/tables/{table}/rows", "rows.write")(self.update_rows)
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
        if ctype == "string":
            size = req.body.get("size")
            if not isinstance(size, int) or not 1 <= size <= 1073741824:
                raise ApiError(400, "general_argument_invalid", "Invalid `size` param")
            col["size"] = size
        if ctype in ("integer", "float"):
            col["min"], col["max"] = req.body.get("min"), req.body.get("max")
        if ctype == "datetime":
            col["format"] = "datetime"
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
        if itype != "fulltext" and length > MAX_INDEX_LENGTH:
            raise ApiError(400, "column_index_invalid", f"Index length is longer than the maximum: {MAX_INDEX_LENGTH}")
        t = now_iso()
        index = {"$id": key, "$createdAt": t, "$updatedAt": t, "key": key, "type": itype, "status": "processing",
                 "error": "", "columns": list(columns), "lengths": req.body.get("lengths") or [],
                 "orders": req.body.get("orders") or []}
        record["indexes"].append(index)

        def finish():
            self._forget_unique(db, table)
            if itype == "unique" and self._has_duplicates(db, table, columns):
                index["status"], index["error"] = "failed", "Duplicate values for a unique index"
            else:
                index["status"] = "available"
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
        raise ApiError(404, "index_not_found", "Index with the requested ID could not be found.")

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
    def list_rows(self, req: Request, db: str, table: str):
        record = self._table(db, table)
        rows = list(self.rows[(db, table)].values())
        limit, offset, cursor, select = 25, 0, None, None  # APP_LIMIT_LIST_DEFAULT
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
        rows = rows[offset:offset + limit]
        if select:
            rows = [{k: v for k, v in r.items() if k in select or k in SYSTEM_FIELDS} for r in rows]
        total = 0 if req.params.get("total") == "false" else min(matched, 5000)
        return 200, {"total": total, "rows": rows}

    def get_row(self, req: Request, db: str, table: str, row: str):
        self._table(db, table)
        if row not in self.rows[(db, table)]:
            raise ApiError(404, "row_not_found", "Row with the requested ID could not be found.")
        return 200, self.rows[(db, table)][row]

    def create_rows(self, req: Request, db: str, table: str):
        self._table(db, table)
        if "rows" in req.body:
            batch = self._batch(req.body["rows"])
            staged = [self._write(db, table, r.get("$id", "unique()"), r, create_only=True, dry=True) for r in batch]
            made = [self._write(db, table, r["$id"], r, create_only=True) for r in staged]
            return 201, {"total": len(made), "rows": made}
        if "create(" in str(req.body.get("permissions") or []):
            raise ApiError(400, "general_argument_invalid", "Invalid `permissions` param: create is not allowed on rows")
        data = dict(req.body.get("data") or {})
        data["$permissions"] = req.body.get("permissions") or []
        return 201, self._write(db, table, req.body.get("rowId"), data, create_only=True)

    def upsert_rows(self, req: Request, db: str, table: str):
        self._table(db, table)
        batch = self._batch(req.body.get("rows"))
        # Validate the whole batch before writing any of it, as the adapter does in one transaction.
        for r in batch:
            self._write(db, table, r.get("$id", "unique()"), r, dry=True)
        changed = []
        for r in batch:
            before = dict(self.rows[(db, table)].get(r.get("$id"), {}))
            after = self._write(db, table, r.get("$id", "unique()"), r)
            if before != after:
                changed.append(after)
        return 200, {"total": len(changed), "rows": changed}

    def upsert_row(self, req: Request, db: str, table: str, row: str):
        self._table(db, table)
        data = dict(req.body.get("data") or {})
        if "permissions" in req.body:
            data["$permissions"] = req.body["permissions"] or []
        return 201, self._write(db, table, row, data)  # 201 even when updating (Upsert.php)

    def update_row(self, req: Request, db: str, table: str, row: str):
        """PATCH is partial; {} is row_missing_payload (captures row-update-partial, row-update-empty-data)."""
        self._table(db, table)
        existing = self.rows[(db, table)].get(row)
        if existing is None:
            raise ApiError(404, "row_not_found", f"Row with the requested ID '{row}' could not be found.")
        data = dict(req.body.get("data") or {})
        if not data and "permissions" not in req.body:
            raise ApiError(400, "row_missing_payload", "The row data and permissions are missing. You must "
                           "provide either row data or permissions to be updated.")
        merged = {k: v for k, v in existing.items() if not k.startswith("$")}
        merged.update({k: v for k, v in data.items() if not k.startswith("$")})
        if "permissions" in req.body:
            merged["$permissions"] = req.body["permissions"] or []
        return 200, self._write(db, table, row, merged)

    def update_rows(self, req: Request, db: str, table: str):
        """PATCH rows {data, queries}: 200 with the updated rows (captures bulk-update-query)."""
        self._table(db, table)
        queries = list(req.body.get("queries") or [])
        if not any('"limit"' in q for q in queries):
            queries.append('{"method":"limit","values":[1000000]}')  # bulk update has no page size
        listing = Request("GET", req.path, {f"queries[{i}]": q for i, q in enumerate(queries)}, {})
        _, found = self.list_rows(listing, db, table)
        data = {k: v for k, v in (req.body.get("data") or {}).items() if not k.startswith("$")}
        for r in found["rows"]:  # validate all first: the adapter runs the batch in one transaction
            self._write(db, table, r["$id"], {**{k: v for k, v in r.items() if not k.startswith("$")}, **data}, dry=True)
        updated = [self._write(db, table, r["$id"], {**{k: v for k, v in r.items() if not k.startswith("$")}, **data})
                   for r in found["rows"]]
        return 200, {"total": len(updated), "rows": updated}

    def delete_row(self, req: Request, db: str, table: str, row: str):
        self.get_row(req, db, table, row)
        del self.rows[(db, table)][row]
        self._forget_unique(db, table)
        return 204, None

    def _batch(self, rows):
        if not isinstance(rows, list) or not rows:
            raise ApiError(400, "general_argument_invalid", "Invalid `rows` param")
        if len(rows) > MAX_BATCH:
            raise ApiError(400, "general_argument_invalid",
                           f"Invalid `rows` param: Value must a valid array no longer than {MAX_BATCH} items")
        return rows

    def _write(self, db: str, table: str, row_id, data: dict, create_only: bool = False, dry: bool = False) -> dict:
        record = self.tables[(db, table)]
        store = self.rows[(db, table)]
        row_id = check_id(row_id, "rowId")
        existing = store.get(row_id)
        if existing and create_only:
            raise ApiError(409, "row_already_exists", "Row with the requested ID already exists.")
        columns = {c["key"]: c for c in record["columns"]}
        values = {k: v for k, v in data.items() if not k.startswith("$")}
        for key, value in values.items():
            col = columns.get(key)
            if col is None:
                raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Unknown attribute: "{key}"')
            if col["status"] != "available":
                raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Unknown attribute: "{key}"')
            values[key] = _check_value(col, value)
        for key, col in columns.items():
            # A create needs every required column; so does an upsert of an existing row
            # ("required columns must always be sent", [udb] Database.php ~L6185).
            if col["required"] and values.get(key) is None:
                raise ApiError(400, "row_invalid_structure",
                               f'Invalid document structure: Missing required attribute "{key}"')
        merged = {**(existing or {}), **values}
        for key, col in columns.items():
            merged.setdefault(key, col.get("default"))
        unique = [i for i in record["indexes"] if i["type"] == "unique" and i["status"] == "available"]
        for index in unique:
            holder = self._unique_map(db, table, index).get(tuple(merged.get(c) for c in index["columns"]))
            if holder is not None and holder != row_id:
                # <=1.9.6 answers a unique-index violation with row_already_exists too.
                raise ApiError(409, "row_already_exists", "Row with the requested ID already exists.")
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
        if existing is not None and all(existing.get(k) == v for k, v in merged.items()) \
                and system["$permissions"] == existing["$permissions"]:
            return existing  # unchanged rows are skipped, $updatedAt not bumped
        for index in unique:
            values = self._unique_map(db, table, index)
            if existing is not None:
                values.pop(tuple(existing.get(c) for c in index["columns"]), None)
            values[tuple(merged.get(c) for c in index["columns"])] = row_id
        store[row_id] = {**system, **merged}
        return store[row_id]

    def _unique_map(self, db: str, table: str, index: dict) -> dict[tuple, str]:
        key = (db, table, index["key"])
        if key not in self._unique:
            self._unique[key] = {tuple(r.get(c) for c in index["columns"]): rid
                                 for rid, r in self.rows[(db, table)].items()}
        return self._unique[key]

    def _forget_unique(self, db: str, table: str) -> None:
        for key in [k for k in self._unique if k[:2] == (db, table)]:
            del self._unique[key]


def _check_value(col: dict, value):
    if value is None:
        return None
    if col.get("array"):
        if not isinstance(value, list):
            raise ApiError(400, "row_invalid_structure", f'Invalid document structure: Attribute "{col["key"]}" must be an array')
        return [_check_value({**col, "array": False}, v) for v in value]
    kind = col["type"]
    bad = None
    if kind == "string":
        if not isinstance(value, str) or len(value) > col["size"]:
            bad = f"Value must be a valid string and no longer than {col['size']} chars"
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool) or \
                (col.get("min") is not None and value < col["min"]) or (col.get("max") is not None and value > col["max"]):
            bad = "Value must be a valid integer in range"
    elif kind == "double":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            bad = "Value must be a valid float"
    elif kind == "boolean":
        if not isinstance(value, bool):
            bad = "Value must be a valid boolean"
    elif kind == "datetime":
        try:
            return normalize_datetime(value)
        except (ValueError, TypeError, AttributeError):
            bad = "Value must be valid date"
    if bad:
        raise ApiError(400, "row_invalid_structure",
                       f'Invalid document structure: Attribute "{col["key"]}" has invalid type. {bad}')
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
