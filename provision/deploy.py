"""Create or update each function, set its variables, upload its bundle and wait for the build.

Idempotent: settings and variables are written only when they differ; the bundle (packed
reproducibly) is uploaded only when its digest, or a variable, changed since the last
deploy. Secret variables cannot be read back, so a digest of their values is kept in a
plain variable beside them.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.query import Query

from alertwrite.errors import Fault, classify
from alertwrite.schema import FunctionSpec, Schema

from .bundle import build_bundle, pack
from .project import Project

BUNDLE_DIGEST = "ALERTWRITE_BUNDLE_SHA256"
SECRETS_DIGEST = "ALERTWRITE_SECRETS_SHA256"


class DeployError(Exception):
    pass


@dataclass
class Deployed:
    function_id: str
    url: str
    changes: list[str] = field(default_factory=list)


@dataclass
class Deployer:
    functions: object  # appwrite.services.functions.Functions
    proxy: object  # appwrite.services.proxy.Proxy
    project: Project
    schema: Schema
    value_of: Callable[[str], str]  # environment, then .env
    progress: Callable[[str], None]
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 600.0
    poll: float = 2.0
    _variables_cache: dict[str, dict[str, dict]] = field(default_factory=dict, init=False)

    def check_variables(self) -> None:
        missing = sorted({name for fn in self.schema.functions for name in fn.secret_variables if not self.value_of(name)})
        if missing:
            raise DeployError(f"set {', '.join(missing)} in .env or the environment "
                              "(`alertwrite token` makes a webhook token)")

    def deploy(self, fn: FunctionSpec, build_dir: Path) -> Deployed:
        result = Deployed(fn.id, "")
        current = self._settings(fn, result)
        variables_changed = self._variables(fn, result)
        bundle = pack(build_bundle(self.project, fn.id, build_dir, self.schema))
        digest = hashlib.sha256(bundle).hexdigest()
        stored = self._variable(fn.id, BUNDLE_DIGEST)
        live = current is not None and bool(getattr(current, "deploymentid", ""))
        if variables_changed or not live or stored is None or stored["value"] != digest:
            self._upload(fn, bundle)
            self._set_variable(fn.id, BUNDLE_DIGEST, digest, secret=False)
            result.changes.append(f"deployed {fn.id} ({len(bundle) // 1024} KB bundle)")
        result.url = self._url(fn.id)
        return result

    def _settings(self, fn: FunctionSpec, result: Deployed):
        wanted = dict(name=fn.name, runtime=fn.runtime, execute=list(fn.execute), events=list(fn.events), schedule=fn.schedule,
                      timeout=fn.timeout, enabled=True, logging=True, entrypoint=fn.entrypoint,
                      commands=fn.commands, scopes=list(fn.scopes))
        try:
            current = self.functions.get(fn.id)
        except AppwriteException as exc:
            if classify(exc) is not Fault.NOT_FOUND:
                raise
            self.progress(f"creating function {fn.id}")
            self.functions.create(fn.id, **wanted)
            result.changes.append(f"created function {fn.id}")
            return None
        data = current.to_dict()
        have = {k: (data.get(k).value if hasattr(data.get(k), "value") else data.get(k)) for k in wanted}
        have["scopes"] = [s.value if hasattr(s, "value") else s for s in have.get("scopes") or []]
        if any(_norm(have[k]) != _norm(v) for k, v in wanted.items()):
            self.progress(f"updating function {fn.id}")
            self.functions.update(fn.id, **wanted)
            result.changes.append(f"updated function {fn.id}")
        return current

    def _variables(self, fn: FunctionSpec, result: Deployed) -> bool:
        changed = False
        secrets = {name: self.value_of(name) for name in fn.secret_variables}
        stored = self._variable(fn.id, SECRETS_DIGEST)
        if secrets and not secrets_match(stored["value"] if stored else "", secrets):
            digest = secrets_digest(secrets, os.urandom(16))
            for name, value in secrets.items():
                self._set_variable(fn.id, name, value, secret=True)
            self._set_variable(fn.id, SECRETS_DIGEST, digest, secret=False)
            result.changes.append(f"set secret variables of {fn.id}: {', '.join(sorted(secrets))}")
            changed = True
        for name in fn.variables:
            value = self.value_of(name)
            current = self._variable(fn.id, name)
            if value and (current is None or current["value"] != value):
                self._set_variable(fn.id, name, value, secret=False)
                result.changes.append(f"set variable {fn.id}.{name}")
                changed = True
        return changed

    def _variable(self, function_id: str, key: str) -> dict | None:
        if function_id not in self._variables_cache:
            listed = self.functions.list_variables(function_id)
            self._variables_cache[function_id] = {v.key: {"id": v.id, "value": v.value, "secret": v.secret}
                                                  for v in listed.variables}
        return self._variables_cache[function_id].get(key)

    def _set_variable(self, function_id: str, key: str, value: str, secret: bool) -> None:
        current = self._variable(function_id, key)
        if current is None:
            created = self._create_variable(function_id, key, value, secret)
            self._variables_cache[function_id][key] = {"id": created.id, "value": value, "secret": secret}
        else:
            self.functions.update_variable(function_id, current["id"], key, value=value, secret=secret or None)
            current["value"] = value

    def _create_variable(self, function_id: str, key: str, value: str, secret: bool):
        """A function deleted and created again under the same ID keeps its old variables until
        the server's delete worker runs, so a create can answer 409 variable_already_exists for
        a key the new function does not list. Wait for the worker, as long as a build may take."""
        started = time.monotonic()
        while True:
            try:
                return self.functions.create_variable(function_id, _variable_id(key), key, value, secret=secret)
            except AppwriteException as exc:
                if classify(exc) is not Fault.CONFLICT:
                    raise
            self._variables_cache.pop(function_id, None)
            if self._variable(function_id, key) is not None:  # it is there after all: update it
                current = self._variable(function_id, key)
                self.functions.update_variable(function_id, current["id"], key, value=value, secret=secret or None)
                return type("Created", (), {"id": current["id"]})
            elapsed = time.monotonic() - started
            if elapsed > self.timeout:
                raise DeployError(f"variable {key} of {function_id} still exists on the server {elapsed:.0f}s after "
                                  "the function was deleted; try again later")
            self.progress(f"waiting for Appwrite to finish deleting the old {function_id}'s variable {key}")
            self.sleep(self.poll)

    def _upload(self, fn: FunctionSpec, bundle: bytes) -> None:
        self.progress(f"uploading {fn.id} ({len(bundle) // 1024} KB)")
        deployment = self.functions.create_deployment(
            fn.id, InputFile.from_bytes(bundle, "code.tar.gz", "application/gzip"), True,
            entrypoint=fn.entrypoint, commands=fn.commands)
        started = time.monotonic()
        while True:
            status = deployment.status.value if hasattr(deployment.status, "value") else str(deployment.status)
            if status == "ready":
                return
            if status in ("failed", "canceled"):
                logs = "\n".join((deployment.buildlogs or "").splitlines()[-40:])
                raise DeployError(f"the build of {fn.id} {status}. Build log:\n{logs}")
            elapsed = time.monotonic() - started
            if elapsed > self.timeout:
                raise DeployError(f"the build of {fn.id} is still {status} after {self.timeout:.0f}s")
            self.progress(f"building {fn.id}: {status} ({elapsed:.0f}s)")
            self.sleep(self.poll)
            deployment = self.functions.get_deployment(fn.id, deployment.id)

    def _url(self, function_id: str) -> str:
        """The function domain Appwrite made with the function. `deploymentResourceId` is a
        filterable attribute of GET /proxy/rules (SDK 22 services/proxy.py `list_rules`)."""
        try:
            rules = self.proxy.list_rules(queries=[Query.equal("deploymentResourceId", [function_id])]).rules
        except AppwriteException as exc:
            # The deploy itself succeeded; a key without rules.read only costs us the URL.
            self.progress(f"could not look up the domain of {function_id} ({exc.message[:120]}); "
                          "find it in the console under Functions > Domains")
            return ""
        domains = sorted(r.domain for r in rules)
        return f"https://{domains[0]}/" if domains else ""


# The digest of the secret values sits in a plain (readable) variable so deploy can tell they
# changed without reading them back. It is salted and stretched (PBKDF2-HMAC-SHA256), so it
# neither matches across projects nor makes guessing a token cheap. Format: pbkdf2$<salt>$<hex>.
DIGEST_ROUNDS = 100_000


def secrets_digest(secrets: dict[str, str], salt: bytes) -> str:
    text = "\n".join(f"{k}={v}" for k, v in sorted(secrets.items())).encode()
    return f"pbkdf2${salt.hex()}${hashlib.pbkdf2_hmac('sha256', text, salt, DIGEST_ROUNDS).hex()}"


def secrets_match(stored: str, secrets: dict[str, str]) -> bool:
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != "pbkdf2":
        return False  # none yet, or the unsalted digest of an older version: set them again
    try:
        salt = bytes.fromhex(parts[1])
    except ValueError:
        return False
    return hmac.compare_digest(secrets_digest(secrets, salt), stored)


def _variable_id(key: str) -> str:
    return key.lower().replace("_", "-")[:36]


def _norm(value):
    return sorted(value) if isinstance(value, list) else value
