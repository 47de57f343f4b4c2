"""The RowStore contract (stores/rows.py), run against both backends: SQLite on a tmp file and
the Appwrite fake through the real SDK."""
from __future__ import annotations

import pytest

from alertwrite.settings import Settings
from alertwrite.stores.rows import RowQueryError, open_rows


@pytest.fixture(params=["sqlite", "appwrite"])
def rows_factory(request, schema, tmp_path):
    """A function that opens the store (one transaction per `with` on SQLite)."""
    if request.param == "sqlite":
        settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "rows.db"))
        yield lambda: open_rows(settings, schema), None
        return
    fake = request.getfixturevalue("fake")
    settings = Settings(tokens=(), backend="appwrite", endpoint=fake.endpoint, project_id=fake.project,
                        api_key=fake.key)
    yield lambda: open_rows(settings, schema), fake


def claim(i: int, fp: str = "f1", action: str = "ack") -> dict:
    return {"$id": f"n{i:03d}", "fingerprint": fp, "action": action,
            "claimedAt": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}.000+00:00",
            "expiresAt": "2026-01-02T00:00:00.000+00:00"}


def test_create_get_update_delete(rows_factory):
    open_, _ = rows_factory
    with open_() as rows:
        assert rows.create("action_claims", [claim(1)]) == ["n001"]
        got = rows.get("action_claims", "n001")
        assert got["fingerprint"] == "f1" and got["$id"] == "n001" and got["$createdAt"]
        assert rows.get("action_claims", "nope") is None
        after = rows.update("action_claims", "n001", {"action": "resolve"})
        assert after["action"] == "resolve" and after["fingerprint"] == "f1"
        assert rows.update("action_claims", "nope", {"action": "x"}) is None
        assert rows.delete("action_claims", "n001") is True
        assert rows.delete("action_claims", "n001") is False
        assert rows.get("action_claims", "n001") is None


def test_create_is_the_claim_primitive(rows_factory):
    open_, fake = rows_factory
    with open_() as rows:
        assert rows.create("action_claims", [claim(1), claim(2)]) == ["n001", "n002"]
        # A batch holding one existing ID creates only the new ones, and keeps the old row.
        assert rows.create("action_claims", [claim(2, fp="other"), claim(3)]) == ["n003"]
        assert rows.get("action_claims", "n002")["fingerprint"] == "f1"
        assert rows.create("action_claims", [claim(1)]) == []


def test_create_calls_stay_flat(rows_factory):
    open_, fake = rows_factory
    if fake is None:
        pytest.skip("call counts are an Appwrite matter")
    with open_() as rows:
        fake.reset_calls()
        assert len(rows.create("action_claims", [claim(i) for i in range(250)])) == 250
        assert fake.count("POST", "/rows") == 3  # bulk creates of 100, 100 and 50


def test_find_filters_order_and_cursor(rows_factory):
    open_, _ = rows_factory
    with open_() as rows:
        rows.create("action_claims", [claim(i, fp="a" if i % 2 else "B-Box") for i in range(30)])
        odd = rows.find("action_claims", [("fingerprint", "=", "a")], [("claimedAt", "desc")], limit=5)
        assert [r["$id"] for r in odd] == ["n029", "n027", "n025", "n023", "n021"]
        nxt = rows.find("action_claims", [("fingerprint", "=", "a")], [("claimedAt", "desc")], limit=5,
                        after=odd[-1]["$id"])
        assert [r["$id"] for r in nxt] == ["n019", "n017", "n015", "n013", "n011"]
        assert len(rows.find("action_claims", [("$id", "in", ["n001", "n002", "zz"])])) == 2
        assert rows.count("action_claims", [("fingerprint", "search", "b-b")]) == 15  # case-insensitive
        assert rows.count("action_claims", [("claimedAt", "<", "2026-01-01T00:00:10.000+00:00")]) == 10
        assert rows.count("action_claims", [("claimedAt", ">=", "2026-01-01T00:00:10.000+00:00"),
                                            ("fingerprint", "!=", "a")]) == 10
        assert rows.count("action_claims") == 30


def test_find_all_pages_through_everything(rows_factory):
    open_, fake = rows_factory
    with open_() as rows:
        rows.create("action_claims", [claim(i) for i in range(230)])
        if fake:
            fake.reset_calls()
        ids = [r["$id"] for r in rows.find_all("action_claims", order=[("claimedAt", "asc")])]
        assert ids == [f"n{i:03d}" for i in range(230)]
        if fake:
            assert fake.count("GET", "/rows") == 3
        assert len(rows.find("action_claims", limit=1000)) == 100  # at most 100 per page


def test_null_checks_and_ordering_of_nulls(rows_factory):
    open_, _ = rows_factory
    with open_() as rows:
        base = {"matchers": "[]", "startsAt": "2026-01-01T00:00:00.000+00:00", "createdBy": "me"}
        rows.create("silences", [{**base, "$id": "s1", "endsAt": "2026-01-01T01:00:00.000+00:00"},
                                 {**base, "$id": "s2", "endsAt": "2026-01-01T02:00:00.000+00:00",
                                  "endedAt": "2026-01-01T01:30:00.000+00:00"}])
        assert [r["$id"] for r in rows.find("silences", [("endedAt", "is_null", None)])] == ["s1"]
        assert [r["$id"] for r in rows.find("silences", [("endedAt", "not_null", None)])] == ["s2"]
        page = rows.find("silences", order=[("endedAt", "asc")], limit=1)
        assert [r["$id"] for r in page] == ["s1"]  # NULL first going up
        assert [r["$id"] for r in rows.find("silences", order=[("endedAt", "asc")], after="s1")] == ["s2"]


def test_update_many_is_a_compare_and_set(rows_factory):
    open_, fake = rows_factory
    with open_() as rows:
        rows.create("action_claims", [claim(i) for i in range(5)])
        rows.update("action_claims", "n002", {"action": "resolve"})
        if fake:
            fake.reset_calls()
        done = rows.update_many("action_claims", ["n000", "n001", "n002", "missing"], {"action": "unack"},
                                where=[("action", "=", "ack")])
        assert [r["$id"] for r in done] == ["n000", "n001"]
        assert all(r["action"] == "unack" for r in done)
        assert rows.get("action_claims", "n002")["action"] == "resolve"
        if fake:
            assert fake.count("PATCH", "/rows") == 1


def test_values_are_fitted_to_their_columns(rows_factory):
    open_, _ = rows_factory
    with open_() as rows:
        rows.create("audit_log", [{"$id": "a1", "at": "2026-01-01T00:00:00.000+00:00", "actor": "x" * 300,
                                   "actorKind": "user", "action": "ack", "targetType": "alert", "target": "f"}])
        actor = rows.get("audit_log", "a1")["actor"]
        assert len(actor) == 255 and actor.endswith("…[truncated]")


def test_bad_queries_are_refused_alike(rows_factory):
    open_, _ = rows_factory
    with open_() as rows:
        rows.create("action_claims", [claim(1)])
        with pytest.raises(RowQueryError) as err:
            rows.find("action_claims", [("nope", "=", 1)])
        assert err.value.code == "unknown_column"
        with pytest.raises(RowQueryError) as err:
            rows.find("action_claims", [("action", "~", 1)])
        assert err.value.code == "unknown_operator"
        with pytest.raises(RowQueryError) as err:
            rows.find("action_claims", after="gone")
        assert err.value.code == "cursor_not_found"


def test_sqlite_rolls_back_the_whole_block(schema, tmp_path):
    settings = Settings(tokens=(), backend="sqlite", sqlite_path=str(tmp_path / "rows.db"))
    with pytest.raises(RuntimeError):
        with open_rows(settings, schema) as rows:
            rows.create("action_claims", [claim(1)])
            raise RuntimeError("boom")
    with open_rows(settings, schema) as rows:
        assert rows.get("action_claims", "n001") is None
