"""Deploy the on-call console (sites/alert-console/) as an Appwrite Site: create or update the
site, pack the folder with an Appwrite-mode config.json, upload it, wait for the build and
activate it. Idempotent: the bundle's digest is kept in a site variable, so an unchanged
console uploads nothing.

Routes and parameters: Sites/Http/Sites/Create.php (framework `other`, buildRuntime `static-1`,
adapter `static`, outputDirectory `./`: app/config/frameworks.php), Deployments/Create.php
(multipart gzip `code`, `activate`), Sites/Deployment/Update.php (activation).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from appwrite.enums.build_runtime import BuildRuntime
from appwrite.enums.framework import Framework
from appwrite.exception import AppwriteException
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.services.sites import Sites

from alertwrite.errors import Fault, classify

SITE_ID = "alert-console"
SITE_DIR = Path("sites") / SITE_ID
BUNDLE_DIGEST = "ALERTWRITE_SITE_SHA256"
SKIP_SUFFIXES = (".sh", ".lock", ".map")  # tooling beside the page, not served


class SiteDeployError(Exception):
    pass


def site_config(endpoint: str, project_id: str, database_id: str) -> dict:
    return {"mode": "appwrite", "endpoint": endpoint, "project": project_id, "function": "alert-api",
            "database": database_id, "table": "alerts"}


def pack_site(site_dir: Path, config: dict) -> bytes:
    """A reproducible .tar.gz of the page with config.json switched to Appwrite mode."""
    files = {str(p.relative_to(site_dir)): p.read_bytes() for p in sorted(site_dir.rglob("*"))
             if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and "__pycache__" not in p.parts}
    files["config.json"] = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return buffer.getvalue()


@dataclass
class SiteDeployer:
    sites: Sites
    proxy: object  # appwrite.services.proxy.Proxy
    progress: Callable[[str], None]
    sleep: Callable[[float], None] = time.sleep
    timeout: float = 600.0
    poll: float = 2.0
    changes: list[str] = field(default_factory=list)

    def deploy(self, site_dir: Path, config: dict) -> str:
        """Returns the site's URL ("" when the key may not read proxy rules)."""
        live = self._ensure_site()
        bundle = pack_site(site_dir, config)
        digest = hashlib.sha256(bundle).hexdigest()
        variable = next((v for v in self.sites.list_variables(SITE_ID).variables if v.key == BUNDLE_DIGEST), None)
        if not live or variable is None or variable.value != digest:
            self._upload(bundle)
            if variable is None:
                self.sites.create_variable(SITE_ID, "alertwrite-site-sha256", BUNDLE_DIGEST, digest, secret=False)
            else:
                self.sites.update_variable(SITE_ID, variable.id, BUNDLE_DIGEST, value=digest)
            self.changes.append(f"deployed site {SITE_ID} ({len(bundle) // 1024} KB bundle)")
        return self._url()

    def _ensure_site(self) -> bool:
        try:
            site = self.sites.get(SITE_ID)
        except AppwriteException as exc:
            if classify(exc) is not Fault.NOT_FOUND:
                raise
            self.progress(f"creating site {SITE_ID}")
            self.sites.create(SITE_ID, "Alertwrite console", Framework.OTHER, BuildRuntime.STATIC_1,
                              adapter="static", output_directory="./", timeout=30)
            self.changes.append(f"created site {SITE_ID}")
            return False
        return bool(site.deploymentid)

    def _upload(self, bundle: bytes) -> None:
        self.progress(f"uploading site {SITE_ID} ({len(bundle) // 1024} KB)")
        deployment = self.sites.create_deployment(SITE_ID, InputFile.from_bytes(bundle, "code.tar.gz", "application/gzip"),
                                                  output_directory="./", activate=True)
        started = time.monotonic()
        while True:
            status = deployment.status.value if hasattr(deployment.status, "value") else str(deployment.status)
            if status == "ready":
                break
            if status in ("failed", "canceled"):
                logs = "\n".join((deployment.buildlogs or "").splitlines()[-40:])
                raise SiteDeployError(f"the build of site {SITE_ID} {status}. Build log:\n{logs}")
            elapsed = time.monotonic() - started
            if elapsed > self.timeout:
                raise SiteDeployError(f"the build of site {SITE_ID} is still {status} after {self.timeout:.0f}s")
            self.progress(f"building site {SITE_ID}: {status} ({elapsed:.0f}s)")
            self.sleep(self.poll)
            deployment = self.sites.get_deployment(SITE_ID, deployment.id)
        # `activate` takes effect when the build worker finishes; setting it explicitly makes the
        # new deployment live even where that step was skipped (an older deployment still active).
        if self.sites.get(SITE_ID).deploymentid != deployment.id:
            self.sites.update_site_deployment(SITE_ID, deployment.id)

    def _url(self) -> str:
        try:
            rules = self.proxy.list_rules(queries=[Query.equal("deploymentResourceId", [SITE_ID])]).rules
        except AppwriteException:
            return ""
        domains = sorted(r.domain for r in rules if getattr(r.deploymentresourcetype, "value", r.deploymentresourcetype) == "site")
        return f"https://{domains[-1]}/" if domains else ""


def deploy_site(connection, root: Path, database_id: str, progress, console_endpoint: str = "",
                timeout: float = 600.0, poll: float = 2.0) -> tuple[list[str], str]:
    """`alertwrite deploy`'s hook. A key without the sites scopes skips the console with a
    warning: the functions (the pipeline) are deployed already, the console is an add-on."""
    from appwrite.services.proxy import Proxy

    site_dir = root / SITE_DIR
    if not (site_dir / "index.html").is_file():
        return [], ""
    client = connection.client()
    deployer = SiteDeployer(Sites(client), Proxy(client), progress, timeout=timeout, poll=poll)
    config = site_config(console_endpoint or connection.endpoint, connection.project, database_id)
    try:
        url = deployer.deploy(site_dir, config)
    except AppwriteException as exc:
        if classify(exc) is Fault.AUTH:
            progress(f"skipped the console site: the API key lacks the sites.read/sites.write scopes ({exc.message[:120]})")
            return deployer.changes, ""
        raise
    return deployer.changes, url
