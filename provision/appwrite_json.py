"""appwrite.json for the official Appwrite CLI (12.x), generated from schemas/.

Shape from appwrite-cli 12.0.1 lib/config.js (shared/reference/appwrite-platform.md §5): tablesDB
+ tables (columns as `key, type, required, array, size, default, min, max`, a float column is
"double"; indexes as `key, type, status, columns, orders`, no lengths), topics `{$id, name,
subscribe}`, functions with `path`. No `projectName`/`settings`: they make `push all` call
console-only routes that fail with an API key.
"""
from __future__ import annotations

import json

from alertwrite.schema import Schema

BUNDLE_DIR = "build/functions"  # `alertwrite bundle` writes here; the CLI uploads `path`


def generate(schema: Schema, project_id: str = "your-project-id") -> dict:
    tables = []
    for table in schema.tables:
        columns = []
        for col in table.columns:
            entry = {"key": col.key, "type": col.type, "required": col.required, "array": col.array,
                     "default": col.default}
            if col.type == "string":
                entry["size"] = col.size
                entry["format"] = col.format
                if col.elements:
                    entry["elements"] = list(col.elements)
                if col.encrypt:
                    entry["encrypt"] = True
            if col.type in ("integer", "double"):
                entry.update(min=col.min, max=col.max)
            columns.append(entry)
        indexes = [{"key": i.key, "type": i.type, "status": "available", "columns": list(i.columns),
                    "orders": list(i.orders) or ["asc"] * len(i.columns)} for i in table.indexes]
        tables.append({"$id": table.id, "$permissions": list(table.permissions), "databaseId": schema.database_id,
                       "name": table.name, "enabled": table.enabled, "rowSecurity": table.row_security,
                       "columns": columns, "indexes": indexes})
    functions = [{"$id": fn.id, "name": fn.name, "runtime": fn.runtime, "execute": list(fn.execute), "events": list(fn.events),
                  "scopes": list(fn.scopes), "schedule": fn.schedule, "timeout": fn.timeout, "enabled": True,
                  "logging": True, "entrypoint": fn.entrypoint, "commands": fn.commands,
                  "path": f"{BUNDLE_DIR}/{fn.id}"} for fn in schema.functions]
    return {
        "projectId": project_id,
        "functions": functions,
        "tablesDB": [{"$id": schema.database_id, "name": schema.database_name, "enabled": True}],
        "tables": tables,
        "topics": [{"$id": t.id, "name": t.name, "subscribe": list(t.subscribe)} for t in schema.topics],
        "sites": [SITE],
    }


# The console (sites/alert-console/), with the settings `alertwrite deploy` gives it
# (provision/site_deploy.py); keys as the CLI's site config (`path`, `framework`, `buildRuntime`, ...).
SITE = {"$id": "alert-console", "name": "Alertwrite console", "framework": "other", "buildRuntime": "static-1",
        "adapter": "static", "installCommand": "", "buildCommand": "", "outputDirectory": "./", "fallbackFile": "",
        "timeout": 30, "enabled": True, "logging": True, "path": "sites/alert-console"}


def render(schema: Schema, project_id: str = "your-project-id") -> str:
    return json.dumps(generate(schema, project_id), indent=4) + "\n"
