"""fit_row against every column of every table in schemas/, checked by the fake's copy of the
1.9.0 server's value rules (tests/appwrite_fake/tablesdb.py `_check_value`)."""
import json
import math
from datetime import datetime, timezone

import pytest

from alertwrite.records import fit_json, fit_row, row_id
from alertwrite.schema import Column, Table
from appwrite_fake.core import ApiError
from appwrite_fake.tablesdb import _check_value


def _fake_col(c: Column) -> dict:
    col = {"key": c.key, "type": c.type, "required": c.required, "array": c.array, "min": c.min, "max": c.max,
           "format": c.format, "elements": list(c.elements)}
    if c.type == "string":
        col["size"] = c.size
    return col


def hostile_values(c: Column) -> list:
    size = c.size or 10
    values = [None, "", "not a number", True, -1, 0, 1.5, -0.604, 2**63, -(2**63) - 1, float("nan"), float("inf"),
              -float("inf"), 1e308, "x" * (size + 10), "é" * (size + 1), {"a": "b" * (size + 100)},
              ["l"] * 3, "0001-01-01T00:00:00.000+00:00", "9999-12-31T23:59:59.999+00:00",
              datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=timezone.utc),
              "2026-11-22T10:22:22.604Z", "garbage-date"]
    if c.elements:
        values += list(c.elements) + [c.elements[0].upper() + "x"]
    return values


def all_columns(schema):
    return [(t, c) for t in schema.tables for c in t.columns]


def test_every_column_of_every_table_is_covered(schema):
    assert {t.id for t in schema.tables} >= {"alerts", "alert_episodes", "alert_transitions"}
    assert len(all_columns(schema)) > 30


@pytest.mark.parametrize("hostile", range(27))
def test_fit_row_output_is_accepted_by_the_server_rules_for_every_column(schema, hostile):
    for table, col in all_columns(schema):
        values = hostile_values(col)
        if hostile >= len(values):
            continue
        raw = values[hostile]
        fitted = fit_row({col.key: raw}, table, partial=True)[col.key]
        try:
            _check_value(_fake_col(col), fitted)
        except ApiError as err:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{table.id}.{col.key} <- {raw!r}: fitted {fitted!r} refused: {err.message}")
        if col.required:
            assert fitted is not None, (table.id, col.key, raw)
        if col.type == "datetime":
            assert fitted != "", "an empty datetime is stored as now by the server"


def test_a_full_row_of_nothing_gets_every_required_column(schema):
    for table in schema.tables:
        row = fit_row({}, table)
        for col in table.columns:
            if col.required:
                _check_value(_fake_col(col), row[col.key])
                assert row[col.key] is not None


def test_values_within_range_are_kept_exactly(schema):
    alerts = schema.table("alerts")
    row = {"fingerprint": "ab", "occurrences": 3, "startsAt": "2026-11-22T10:22:22.604Z", "summary": "é" * 1024}
    fitted = fit_row(row, alerts)
    assert fitted["occurrences"] == 3 and fitted["summary"] == "é" * 1024
    assert fitted["startsAt"] == "2026-11-22T10:22:22.604+00:00"


def test_datetimes_are_clamped_to_what_the_server_stores():
    table = Table("t", "t", (Column("d", "datetime"),))
    assert fit_row({"d": "0001-01-01T00:00:00Z"}, table)["d"] == "1000-01-01T00:00:00.000+00:00"
    assert fit_row({"d": "9999-12-31T23:59:59.999Z"}, table)["d"] == "9999-12-31T23:59:59.000+00:00"
    assert fit_row({"d": ""}, table)["d"] is None


def test_numbers_are_clamped_not_refused():
    table = Table("t", "t", (Column("n", "double", min=0), Column("i", "integer", min=1, max=5)))
    assert fit_row({"n": -0.604, "i": 99}, table) == {"n": 0.0, "i": 5}
    assert fit_row({"n": float("nan"), "i": float("inf")}, table) == {"n": None, "i": 5}


def test_an_enum_column_gets_an_element_or_its_default():
    table = Table("t", "t", (Column("e", "string", size=8, default="low", format="enum", elements=("low", "high")),))
    assert fit_row({"e": "high"}, table)["e"] == "high"
    assert fit_row({"e": "HIGH"}, table)["e"] == "low"


def test_unknown_columns_are_dropped(schema):
    assert "nope" not in fit_row({"nope": 1, "fingerprint": "a"}, schema.table("alerts"), partial=True)


@pytest.mark.parametrize("size", [2, 10, 64, 300, 65535])
def test_json_stays_valid_json_when_cut(size):
    labels = {"alertname": "Big", "description": "d" * 70_000, **{f"k{i}": "v" * 900 for i in range(80)}}
    text = fit_json(labels, size)
    assert len(text) <= size
    parsed = json.loads(text)
    if size >= 300:
        assert parsed["alertname"] == "Big"  # short values survive: the longest are cut first


def test_json_of_a_list_stays_valid_when_cut():
    text = fit_json(["x" * 1000] * 10, 100)
    assert len(text) <= 100 and json.loads(text)


@pytest.mark.parametrize("parts", [("ab906f89a7cb9bdc", 1, "firing"), ("ab906f89a7cb9bdc", 10**12, "reopen" + "9" * 20),
                                   ("_lead", "x"), ("a b", "\n")])
def test_row_ids_are_always_valid(parts):
    from appwrite_fake.core import ID_RULE
    assert ID_RULE.match(row_id(*parts)) and not row_id(*parts).endswith("\n")
    assert math.isfinite(len(row_id(*parts)))
