import re
"""The fake itself, driven through the real SDK: it must behave as the server does."""
import warnings

import pytest
from appwrite.client import Client
from appwrite.exception import AppwriteException
from appwrite.query import Query
from appwrite.services.messaging import Messaging
from appwrite.services.tables_db import TablesDB

from appwrite_fake import AppwriteFake


@pytest.fixture
def sdk():
    fake = AppwriteFake()
    with fake.running():
        client = Client().set_endpoint(fake.endpoint).set_project(fake.project).set_key(fake.key)
        db = TablesDB(client)
        db.create(database_id="mon", name="Mon")
        db.create_table("mon", "t", "T")
        string_column(db, "mon", "t", "fp", 64, True)
        db.create_integer_column("mon", "t", "n", False)
        fake.drain()
        yield fake, db, Messaging(client), client


def string_column(db, *args):
    """create_string_column is deprecated since 1.9, and its decorator forces the warning on
    (simplefilter("always")), so only recording it keeps the test output quiet."""
    with warnings.catch_warnings(record=True):
        return db.create_string_column(*args)


def error_of(call) -> AppwriteException:
    with pytest.raises(AppwriteException) as err:
        call()
    return err.value


def test_rows_parse_into_the_sdk_models(sdk):
    fake, db, _, _ = sdk
    row = db.upsert_row("mon", "t", "abc", {"fp": "abc", "n": 1})
    assert isinstance(row.sequence, str) and row.id == "abc" and row.data == {"fp": "abc", "n": 1}
    listed = db.list_rows("mon", "t", queries=[Query.equal("fp", ["abc"])])
    assert listed.total == 1 and listed.rows[0].data["n"] == 1
    assert all(c.status != 0 for c in fake.calls)


def test_columns_are_created_asynchronously(sdk):
    fake, db, _, _ = sdk
    col = string_column(db, "mon", "t", "late", 10, False)
    assert col.status.value == "processing"
    err = error_of(lambda: db.create_index("mon", "t", "late_key", "key", ["late"]))
    assert (err.code, err.type) == (400, "column_not_available")
    fake.drain()
    statuses = {c.key: c.status.value for c in db.list_columns("mon", "t").columns}
    assert statuses["late"] == "available"
    assert db.create_index("mon", "t", "late_key", "key", ["late"]).status == "processing"


def test_writes_to_a_processing_column_are_invalid(sdk):
    fake, db, _, _ = sdk
    string_column(db, "mon", "t", "pending", 10, False)
    err = error_of(lambda: db.upsert_row("mon", "t", "r1", {"fp": "x", "pending": "y"}))
    assert (err.code, err.type) == (400, "row_invalid_structure")


def test_conflict_and_not_found_types(sdk):
    fake, db, msg, _ = sdk
    db.create_index("mon", "t", "fp_unique", "unique", ["fp"])
    fake.drain()
    db.create_row("mon", "t", "r1", {"fp": "same"})
    assert error_of(lambda: db.create_row("mon", "t", "r1", {"fp": "other"})).type == "row_already_exists"
    assert error_of(lambda: db.create_row("mon", "t", "r2", {"fp": "same"})).code == 409  # unique index
    assert error_of(lambda: db.get_row("mon", "t", "nope")).type == "row_not_found"
    assert error_of(lambda: db.list_rows("mon", "nope")).type == "table_not_found"
    assert error_of(lambda: db.get("nope")).type == "database_not_found"
    assert error_of(lambda: string_column(db, "mon", "t", "fp", 64, True)).type == "column_already_exists"
    msg.create_topic("top", "Top")
    assert error_of(lambda: msg.create_topic("top", "Top")).type == "topic_already_exists"


def test_limits(sdk):
    _, db, _, _ = sdk
    too_many = [{"$id": f"r{i}", "fp": str(i)} for i in range(101)]
    assert error_of(lambda: db.upsert_rows("mon", "t", too_many)).code == 400
    assert len(db.upsert_rows("mon", "t", too_many[:100]).rows) == 100
    assert error_of(lambda: db.list_rows("mon", "t", queries=[Query.limit(1)] * 101)).type == "general_argument_invalid"
    long_query = Query.equal("fp", [f"{i:016x}" for i in range(220)])
    assert len(long_query) > 4096
    assert error_of(lambda: db.list_rows("mon", "t", queries=[long_query])).type == "general_argument_invalid"
    err = error_of(lambda: db.list_rows("mon", "t", queries=[Query.equal("fp", [str(i) for i in range(501)])]))
    assert err.type == "general_query_invalid"
    assert error_of(lambda: db.list_rows("mon", "t", queries=[Query.equal("fp", [])])).type == "general_query_invalid"
    assert len(db.list_rows("mon", "t").rows) == 25  # the default page size


def test_index_length_limit(sdk):
    fake, db, _, _ = sdk
    string_column(db, "mon", "t", "wide", 800, False)
    fake.drain()
    err = error_of(lambda: db.create_index("mon", "t", "wide_key", "key", ["wide"]))
    assert (err.code, err.type) == (400, "column_index_invalid")


def test_row_validation(sdk):
    _, db, _, _ = sdk
    db.upsert_row("mon", "t", "r1", {"fp": "a"})
    assert error_of(lambda: db.upsert_rows("mon", "t", [{"$id": "r1", "n": 2}])).type == "row_invalid_structure"
    assert error_of(lambda: db.upsert_row("mon", "t", "r2", {"fp": "a", "zzz": 1})).type == "row_invalid_structure"
    assert error_of(lambda: db.upsert_row("mon", "t", "r3", {"fp": "a" * 65})).type == "row_invalid_structure"
    assert error_of(lambda: db.upsert_row("mon", "t", "-bad", {"fp": "a"})).code == 400


def test_bulk_upsert_skips_only_rows_sent_whole_and_identical(sdk):
    # 1.9.0: a partial identical row is returned and re-stamped; only one that sends every
    # column identically is left out (captures bulk-upsert-partial-identical, -full-identical).
    _, db, _, _ = sdk
    rows = [{"$id": "a", "fp": "a"}, {"$id": "b", "fp": "b"}]
    assert len(db.upsert_rows("mon", "t", rows).rows) == 2
    assert len(db.upsert_rows("mon", "t", rows).rows) == 2
    full = [{**{k: v for k, v in r.data.items()}, "$id": r.id} for r in db.list_rows("mon", "t").rows]
    assert len(db.upsert_rows("mon", "t", full).rows) == 0


def test_delete_answers_204_and_the_sdk_copes(sdk):
    fake, db, _, _ = sdk
    db.upsert_row("mon", "t", "gone", {"fp": "g"})
    db.delete_row("mon", "t", "gone")
    assert fake.calls[-1].status == 204


def test_messages_are_processed_asynchronously(sdk):
    fake, _, msg, _ = sdk
    msg.create_topic("ops", "Ops")
    fake.messaging.add_user("ann", email="ann@example.com")
    msg.create_subscriber("ops", "ann-sub", "ann-email")
    message = msg.create_email("m1", "Subject", "<b>hi</b>", topics=["ops"], html=True)
    assert message.status.value == "processing"
    err = error_of(lambda: msg.create_email("m1", "Subject", "again", topics=["ops"]))
    assert (err.code, err.type) == (409, "message_already_exists")
    lonely = msg.create_sms("m2", "nobody listens", topics=["ops"])
    fake.drain()
    assert msg.get_message("m1").status.value == "sent"
    assert msg.get_message(lonely.id).status.value == "failed"
    assert error_of(lambda: msg.create_push("m3", title="t", body="b")).type == "message_missing_target"
    assert error_of(lambda: msg.create_email("m4", "x" * 999, "c", topics=["ops"])).code == 400


@pytest.mark.parametrize("kind,code", [("503", 503), ("500", 500), ("429", 429), ("502-html", 502),
                                       ("timeout", 0), ("refused", 0)])
def test_faults_at_the_nth_call(sdk, kind, code):
    fake, db, _, _ = sdk
    fake.fail_at(2, kind)
    db.list_rows("mon", "t")
    err = error_of(lambda: db.list_rows("mon", "t"))
    assert err.code == code
    db.list_rows("mon", "t")  # one fault only


def test_keys_and_scopes(sdk):
    fake, _, _, client = sdk
    fake.scopes = {"rows.read"}
    db = TablesDB(client)
    db.list_rows("mon", "t")
    err = error_of(lambda: db.upsert_row("mon", "t", "x", {"fp": "x"}))
    assert (err.code, err.type) == (401, "general_unauthorized_scope") and "rows.write" in err.message
    client.set_key("wrong")
    err = error_of(lambda: db.list_rows("mon", "t"))
    assert err.code == 401 and "role: guests" in err.message


def test_index_ids_have_the_servers_shape_and_keys_stay_names(sdk):
    fake, db, _, _ = sdk
    fake.drain()
    index = db.create_index("mon", "t", "by_fp", "key", ["fp"])
    assert re.fullmatch(r"\d+_\d+_by_fp", index.id) and index.key == "by_fp"
    fake.drain()
    assert db.get_index("mon", "t", "by_fp").key == "by_fp"


def test_a_1_9_0_topic_delivers_to_25_targets_only(schema):
    """Capture 5-messaging-topic-target-cap: 1.9.0 loads the first 25 subscribers; 1.9.5 pages."""
    from appwrite_fake import AppwriteFake
    for version, delivered in (("1.9.0", 25), ("1.9.6", 30)):
        fake = AppwriteFake(version=version)
        fake.messaging.subscribers["big"] = {f"s{i}": {"targetId": f"t{i}", "providerType": "email"}
                                             for i in range(30)}
        message = {"$id": "m1", "providerType": "email", "topics": ["big"]}
        fake.messaging._deliver(message)
        assert message["deliveredTotal"] == delivered, version
