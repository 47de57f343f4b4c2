"""schemas/ may split `tables` over one file per capability; each table is declared once."""
import shutil
from pathlib import Path

import pytest

from provision.project import SchemaFileError, load_schema_dir

REPO = Path(__file__).resolve().parent.parent


def _copy(tmp_path):
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    return tmp_path / "schemas"


def test_tables_from_a_capability_file_join_the_schema(tmp_path):
    folder = _copy(tmp_path)
    (folder / "operations.yaml").write_text(
        "tables:\n  scratch:\n    name: Scratch\n    columns:\n      note: {type: string, size: 10}\n")
    schema = load_schema_dir(folder)
    assert schema.table("scratch").column("note").size == 10
    assert schema.table("alerts")


def test_a_table_declared_twice_names_both_files(tmp_path):
    folder = _copy(tmp_path)
    (folder / "operations.yaml").write_text(
        "tables:\n  alerts:\n    name: Again\n    columns:\n      note: {type: string, size: 10}\n")
    with pytest.raises(SchemaFileError, match=r"operations.yaml: tables.alerts is already declared in monitoring.yaml"):
        load_schema_dir(folder)


def test_extension_sections_survive_the_bundle_round_trip(tmp_path):
    folder = _copy(tmp_path)
    (folder / "escalation.yaml").write_text("heartbeats:\n  watchdog: {alertname: Watchdog}\n")
    schema = load_schema_dir(folder)
    assert schema.section("heartbeats") == {"watchdog": {"alertname": "Watchdog"}}
    assert type(schema).from_dict(schema.to_dict()).section("heartbeats") == schema.section("heartbeats")


def test_a_section_in_the_wrong_file_says_where_it_goes(tmp_path):
    folder = _copy(tmp_path)
    (folder / "operations.yaml").write_text("heartbeats: {}\n")
    with pytest.raises(SchemaFileError, match="it goes in escalation.yaml"):
        load_schema_dir(folder)


def test_an_old_routing_file_says_its_rules_became_channels(tmp_path):
    folder = _copy(tmp_path)
    (folder / "routing.yaml").write_text(
        "rules:\n  - name: pages\n    topic: critical-alerts\n    media: [push]\n    match: {severity: critical}\n")
    with pytest.raises(SchemaFileError, match=r"routing.yaml: rules: routing rules became channels: .*topic channel"):
        load_schema_dir(folder)
