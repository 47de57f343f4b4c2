"""Build a function's code bundle: exactly the folder Appwrite's runtime unpacks.

Layout: the function folder (`src/main.py`, `requirements.txt`, ...) with the shared core
copied to `src/alertwrite/` and the schema compiled to `src/alertwrite/schema.json`. The
runtime imports `src/main.py` as a module of the function folder, so `main.py` reaches the
core by relative import and needs nothing from this repository at run time.
"""
from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
from pathlib import Path

import alertwrite
from alertwrite.schema import Schema

from .project import Project

SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".env", "*.db", "*.db-*")


def build_bundle(project: Project, function_id: str, out_dir: Path, schema: Schema | None = None) -> Path:
    schema = schema or project.load_schema()
    source = project.function_dir(function_id)
    if not (source / "src" / "main.py").exists():
        raise FileNotFoundError(f"{source}/src/main.py not found")
    target = out_dir / function_id
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=SKIP)
    core = target / "src" / "alertwrite"
    shutil.copytree(Path(alertwrite.__file__).parent, core, ignore=SKIP)
    (core / "schema.json").write_text(json.dumps(schema.to_dict(), indent=1, sort_keys=True), "utf-8")
    return target


def pack(bundle_dir: Path) -> bytes:
    """A .tar.gz of the bundle's contents (paths relative to the bundle root), as deployments take.

    Byte-for-byte reproducible (no mtimes, owners or gzip timestamp), so its digest tells
    `deploy` whether the code changed since the last upload."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(bundle_dir.rglob("*")):
            if path.is_file():
                info = tarfile.TarInfo(str(path.relative_to(bundle_dir)))
                data = path.read_bytes()
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
