"""The console's deploy path as an Appwrite Site, through `alertwrite deploy`, the real SDK and the fake:
bundle, deployment upload, activation, and nothing uploaded when nothing changed."""
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from appwrite_fake import AppwriteFake
from provision.cli import main
from provision.site_deploy import SITE_DIR, SITE_ID, pack_site, site_config
from support import TOKEN

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bare_fake():
    fake = AppwriteFake()
    with fake.running():
        yield fake


@pytest.fixture
def cli(bare_fake, project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    env = {"APPWRITE_ENDPOINT": bare_fake.endpoint, "APPWRITE_PROJECT_ID": bare_fake.project,
           "APPWRITE_API_KEY": bare_fake.key, "ALERTWRITE_WEBHOOK_TOKENS": TOKEN,
           "ALERTWRITE_API_TOKENS": "ci:admin:api-token-0123456789", "ALERTWRITE_CONSOLE_ENDPOINT": ""}

    def run(*args, extra_env=None):
        result = CliRunner().invoke(main, ["--root", str(project.root), *args], env={**env, **(extra_env or {})},
                                    catch_exceptions=False)
        assert bare_fake.key not in result.output
        return result
    return run


def archive_files(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_deploy_creates_uploads_and_activates_the_site(cli, bare_fake):
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0, result.output
    site = bare_fake.sites.sites[SITE_ID]
    assert (site["framework"], site["buildRuntime"], site["adapter"], site["outputDirectory"]) == \
        ("other", "static-1", "static", "./")
    assert site["deploymentId"] and bare_fake.sites.deployments[site["deploymentId"]]["status"] == "ready"
    assert bare_fake.count("POST", f"/sites/{SITE_ID}/deployments") == 1
    files = archive_files(bare_fake.sites.archives[site["deploymentId"]])
    assert {"index.html", "js/main.js", "js/client.js", "css/console.css", "vendor/appwrite.iife.js"} <= set(files)
    assert not any(name.endswith(".sh") for name in files)
    config = json.loads(files["config.json"])
    assert config == {"mode": "appwrite", "endpoint": bare_fake.endpoint, "project": bare_fake.project,
                      "function": "alert-api", "database": "monitoring", "table": "alerts"}
    domain = next(r["domain"] for r in bare_fake.functions.rules if r["deploymentResourceType"] == "site")
    assert f"Console: https://{domain}/" in result.stdout

    writes = bare_fake.writes()
    again = cli("deploy", "--poll", "0")
    assert again.exit_code == 0 and again.stdout.startswith("Functions up to date")
    assert bare_fake.writes() == writes  # unchanged page: no upload


def test_a_changed_page_is_uploaded_and_activated_again(cli, bare_fake):
    assert cli("deploy", "--poll", "0").exit_code == 0
    first = bare_fake.sites.sites[SITE_ID]["deploymentId"]
    result = cli("deploy", "--poll", "0", extra_env={"ALERTWRITE_CONSOLE_ENDPOINT": "https://aw.example.com/v1"})
    assert result.exit_code == 0, result.output
    second = bare_fake.sites.sites[SITE_ID]["deploymentId"]
    assert second != first and f"deployed site {SITE_ID}" in result.stdout
    assert json.loads(archive_files(bare_fake.sites.archives[second])["config.json"])["endpoint"] == "https://aw.example.com/v1"


def test_a_failed_site_build_fails_deploy_with_its_log(cli, bare_fake):
    bare_fake.sites.build_outcome = "failed"
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 3 and "the build of site alert-console failed" in result.output


def test_a_key_without_sites_scopes_still_deploys_the_functions(cli, bare_fake):
    bare_fake.scopes = {"functions.read", "functions.write", "rules.read"}
    result = cli("deploy", "--poll", "0")
    assert result.exit_code == 0, result.output
    assert "skipped the console site" in result.output and not bare_fake.sites.sites
    assert bare_fake.functions.functions["alert-processor"]["deploymentId"]


def test_site_bundle_is_reproducible():
    config = site_config("https://aw.example.com/v1", "p", "monitoring")
    assert pack_site(ROOT / SITE_DIR, config) == pack_site(ROOT / SITE_DIR, config)


def test_vendored_sdk_matches_its_lock():
    vendor = ROOT / SITE_DIR / "vendor"
    lock = dict(line.split("=", 1) for line in (vendor / "appwrite.lock").read_text().split())
    import hashlib
    assert hashlib.sha256((vendor / "appwrite.iife.js").read_bytes()).hexdigest() == lock["sha256"]
    assert f"'x-sdk-version': '{lock['version']}'" in (vendor / "appwrite.iife.js").read_text()
    assert lock["version"].split(".")[0] in ("24", "25")  # the Web SDK majors for Appwrite 1.9


def test_vendored_sdk_is_the_npm_package_build():
    """CI check: vendor/appwrite.iife.js is byte-equal to dist/iife/sdk.js of the locked npm version."""
    if shutil.which("npm") is None:
        pytest.skip("npm not installed")
    check = subprocess.run([str(ROOT / SITE_DIR / "vendor" / "update.sh"), "--check"], capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def test_page_code_stays_within_150_kb_gzipped():
    """The budget of the issue: everything the Site serves, libraries included, gzipped file by file."""
    import gzip
    site = ROOT / SITE_DIR
    served = [p for p in site.rglob("*") if p.is_file() and not p.name.endswith((".sh", ".lock"))]
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in served)
    assert total <= 150 * 1024, f"{total / 1024:.1f} KB gzipped"
