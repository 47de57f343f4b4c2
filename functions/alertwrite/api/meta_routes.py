"""Unauthenticated endpoints: health for load balancers, and the OpenAPI document."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ..errors import StoreMisconfigured, StoreUnavailable
from .openapi import build_spec
from .router import ApiCall, ApiResult, route

HEALTH = {"type": "object", "required": ["status", "store", "version"],
          "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]},
                         "store": {"type": "string", "enum": ["ok", "unavailable", "error"]},
                         "version": {"type": "string"}}}


def app_version() -> str:
    try:
        return version("alertwrite")
    except PackageNotFoundError:  # inside a function bundle, which is not an installed package
        from .. import __version__
        return __version__


@route("GET", "/health", None, summary="Store reachability and version; reveals nothing else", response=HEALTH)
def health(call: ApiCall):
    try:
        call.rows.find("alerts", limit=1)
    except StoreUnavailable:
        return ApiResult({"status": "degraded", "store": "unavailable", "version": app_version()}, 503)
    except StoreMisconfigured:
        return ApiResult({"status": "degraded", "store": "error", "version": app_version()}, 503)
    return {"status": "ok", "store": "ok", "version": app_version()}


@route("GET", "/openapi.json", None, summary="This API's OpenAPI 3.1 document", response={"type": "object"})
def openapi(call: ApiCall):
    return build_spec(app_version())


ME = {"type": "object", "required": ["actor"],
      "properties": {"actor": {"type": "object", "required": ["name", "role", "kind"],
                               "properties": {"name": {"type": "string"}, "role": {"type": "string"},
                                              "kind": {"type": "string"}}}}}


@route("GET", "/me", "viewer", summary="Who the caller is and what role it has (the console shows its actions by it)",
       response=ME)
def me(call: ApiCall):
    return {"actor": {"name": call.actor.name, "role": call.actor.role, "kind": call.actor.kind}}
