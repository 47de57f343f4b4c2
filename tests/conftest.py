from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from appwrite_fake import AppwriteFake  # noqa: E402
from provision.bundle import build_bundle  # noqa: E402
from provision.project import find_project  # noqa: E402
from provision.runtime import load_entrypoint  # noqa: E402
from support import TOKEN, seed_schema  # noqa: E402


@pytest.fixture(scope="session")
def project():
    return find_project(Path(__file__).parent)


@pytest.fixture(scope="session")
def schema(project):
    return project.load_schema()


@pytest.fixture(scope="session")
def bundles(project, schema, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles")
    return {fn.id: build_bundle(project, fn.id, out, schema) for fn in schema.functions}


@pytest.fixture(scope="session")
def processor(bundles):
    """The alert-processor entrypoint, imported from its built bundle as the runtime does."""
    return load_entrypoint(bundles["alert-processor"])


@pytest.fixture(scope="session")
def dispatcher(bundles):
    """The alert-dispatcher entrypoint from its built bundle: it sends what intake recorded."""
    return load_entrypoint(bundles["alert-dispatcher"])


@pytest.fixture
def fake(schema):
    fake = AppwriteFake()
    with fake.running():
        seed_schema(fake, schema)
        yield fake


@pytest.fixture
def appwrite_env(monkeypatch, fake):
    monkeypatch.setenv("ALERTWRITE_WEBHOOK_TOKENS", f"old-token,{TOKEN}")
    monkeypatch.setenv("APPWRITE_FUNCTION_API_ENDPOINT", fake.endpoint)
    monkeypatch.setenv("APPWRITE_FUNCTION_PROJECT_ID", fake.project)
    monkeypatch.delenv("ALERTWRITE_BACKEND", raising=False)
    return fake


@pytest.fixture
def sqlite_env(monkeypatch, tmp_path):
    path = tmp_path / "alertwrite.db"
    monkeypatch.setenv("ALERTWRITE_WEBHOOK_TOKENS", TOKEN)
    monkeypatch.setenv("ALERTWRITE_BACKEND", "sqlite")
    monkeypatch.setenv("ALERTWRITE_SQLITE_PATH", str(path))
    return path
