"""The project on disk: where `schemas/` and `functions/` are, and the schema they declare."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from alertwrite.schema import Schema, SchemaError

# Which file declares which top-level sections; errors name the file. `tables` may be split
# over several files (one per capability); each table is declared once.
SCHEMA_FILES: dict[str, tuple[str, ...]] = {
    "monitoring.yaml": ("database", "tables"),
    "messaging.yaml": ("topics",),
    "routing.yaml": ("rules",),  # only to name it in the error: rules became channels
    "functions.yaml": ("functions",),
    "operations.yaml": ("tables",),
    "channels.yaml": ("tables", "channels", "templates"),
    "escalation.yaml": ("tables", "policies", "schedules", "heartbeats", "people"),
}
MERGED_SECTIONS = ("tables",)
SECTION_FILES = {section: name for name, sections in reversed(SCHEMA_FILES.items()) for section in sections}
SECTION_FILES["tables"] = "monitoring.yaml"


class SchemaFileError(Exception):
    """A schema problem, phrased for the user: file, key and what is wrong."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML silently keeps the last of two equal keys; a schema must not."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def schema_dir(self) -> Path:
        return self.root / "schemas"

    @property
    def functions_dir(self) -> Path:
        return self.root / "functions"

    def function_dir(self, function_id: str) -> Path:
        return self.functions_dir / function_id

    def load_schema(self) -> Schema:
        return load_schema_dir(self.schema_dir)


def find_project(start: Path | None = None) -> Project:
    """ALERTWRITE_ROOT, else the nearest folder upward with schemas/ and functions/,
    else the checkout this package was installed from."""
    if os.environ.get("ALERTWRITE_ROOT"):
        return Project(Path(os.environ["ALERTWRITE_ROOT"]).resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "schemas").is_dir() and (folder / "functions").is_dir():
            return Project(folder)
    source = Path(__file__).resolve().parent.parent
    if (source / "schemas").is_dir():
        return Project(source)
    raise SchemaFileError(f"no schemas/ folder found from {here}; run inside an Alertwrite checkout "
                          "or set ALERTWRITE_ROOT")


# Files whose absence is a mistake, not a choice: without channels.yaml nothing is announced,
# without functions.yaml serve and deploy have nothing to run.
REQUIRED_FILES = {"monitoring.yaml": "the database and tables", "channels.yaml": "which alerts go where",
                  "functions.yaml": "the functions serve runs and deploy creates"}


def schema_warnings(schema: Schema) -> list[str]:
    """What plan and serve say before they start: choices that are legal but surprising."""
    out = []
    if not schema.section("channels"):
        out.append("schemas/channels.yaml declares no channels (channels: {}): alerts are stored, nothing is "
                   "announced until a channel is added (alertwrite channels)")
    return out


def load_schema_dir(folder: Path) -> Schema:
    merged: dict = {}
    declared_in: dict[str, str] = {}
    for name in sorted(SCHEMA_FILES):
        path = folder / name
        if not path.exists():
            if name in REQUIRED_FILES:
                raise SchemaFileError(f"{path}: missing; it declares {REQUIRED_FILES[name]}")
            continue
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise SchemaFileError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        try:
            doc = yaml.load(text, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise SchemaFileError(f"{path}{where}: {problem}") from None
        if doc is None and name in REQUIRED_FILES:
            # An empty routing file used to mean "send nothing", silently.
            raise SchemaFileError(f"{path}: empty; it declares {REQUIRED_FILES[name]}"
                                  + (" (write `channels: {}` for none)" if name == "channels.yaml" else ""))
        doc = doc or {}
        if not isinstance(doc, dict):
            raise SchemaFileError(f"{path}: expected a mapping at the top level")
        if name == "channels.yaml" and "channels" not in doc:
            raise SchemaFileError(f"{path}: no `channels:`; declare channels, or `channels: {{}}` for none")
        for key, value in doc.items():
            if key not in SCHEMA_FILES[name]:
                raise SchemaFileError(f"{path}: key {key!r} does not belong here "
                                      f"({'it goes in ' + SECTION_FILES[key] if key in SECTION_FILES else 'unknown key'})")
            if key not in MERGED_SECTIONS:
                merged[key] = value
                continue
            if not isinstance(value, dict):
                raise SchemaFileError(f"{path}: {key} must be a mapping")
            for item, spec in value.items():
                if item in declared_in:
                    raise SchemaFileError(f"{path}: {key}.{item} is already declared in {declared_in[item]}")
                declared_in[item] = name
                merged.setdefault(key, {})[item] = spec
    try:
        schema = Schema.from_dict(merged)
    except SchemaError as exc:
        section, _, rest = exc.path.partition(".")
        section = section.split("[")[0]
        name = declared_in.get(rest.split(".")[0]) if section in MERGED_SECTIONS else None
        raise SchemaFileError(f"{folder / (name or SECTION_FILES.get(section, 'monitoring.yaml'))}: "
                              f"{exc.path}: {exc.message}") from None
    from alertwrite.channels.model import ChannelError
    from alertwrite.channels.sync import validate_declared
    try:
        validate_declared(schema)  # declared channels and templates are checked like the rest
    except ChannelError as exc:
        raise SchemaFileError(f"{folder / 'channels.yaml'}: {exc}") from None
    return schema
