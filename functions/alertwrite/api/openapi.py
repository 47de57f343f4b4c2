"""The OpenAPI 3.1 document, built from the registered routes (each declares its own parts)."""
from __future__ import annotations

from .router import ROUTES

ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "detail": {"type": "string"}}}


def build_spec(version: str, server_url: str = "/") -> dict:
    paths: dict = {}
    for r in ROUTES:
        op: dict = {"summary": r.summary, "operationId": f"{r.method.lower()}_{_slug(r.pattern)}", "tags": [r.tag],
                    "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                                   for p in r.path_params] + list(r.query)}
        if r.role is not None:
            op["security"] = [{"bearer": []}, {"appwriteUser": []}]
            op["description"] = f"Needs role {r.role} or higher."
        else:
            op["security"] = []
        if r.request is not None:
            op["requestBody"] = {"required": False, "content": {"application/json": {"schema": r.request}}}
        ok: dict = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {r.content_type: {"schema": r.response}}
        kind = r.content_type
        err_schema = ERROR if kind == "application/json" else {"type": "string"}
        errors = {code: {"description": text, "content": {kind: {"schema": err_schema}}}
                  for code, text in (("400", "bad input"), ("404", "not found"), ("500", "misconfigured"),
                                     ("503", "store unavailable, retry"))}
        if r.role is not None:
            errors["401"] = {"description": "no identity", "content": {kind: {"schema": err_schema}}}
            errors["403"] = {"description": "role too low", "content": {kind: {"schema": err_schema}}}
        if kind != "application/json":  # an action link: 401 invalid or expired, 409 used
            errors["401"] = {"description": "link invalid or expired", "content": {kind: {"schema": err_schema}}}
            errors["409"] = {"description": "link used already", "content": {kind: {"schema": err_schema}}}
        if r.method == "POST" and r.pattern.startswith("/alerts/{fingerprint}/"):
            errors["409"] = {"description": "not possible in the alert's state",
                             "content": {kind: {"schema": err_schema}}}
        op["responses"] = {str(r.status): ok, **errors}
        paths.setdefault(r.pattern, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Alertwrite operator API", "version": version},
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "ALERTWRITE_API_TOKENS"},
            "appwriteUser": {"type": "apiKey", "in": "header", "name": "x-appwrite-user-jwt",
                             "description": "set by Appwrite for a signed-in user's execution"}}},
    }


def _slug(pattern: str) -> str:
    return "_".join(p.strip("{}") for p in pattern.strip("/").split("/")) or "root"
