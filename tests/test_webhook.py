import json
from datetime import datetime, timezone

import pytest

from alertwrite.timeutil import format_ms, parse_rfc3339
from alertwrite.webhook import PayloadError, parse_delivery
from support import UNICODE_HTML_LONG, all_captures, reconstructed


def test_every_captured_delivery_parses_and_keeps_every_field():
    captures = all_captures()
    assert len(captures) == 129
    for cap in captures:
        raw = json.loads(cap["body_raw"])
        delivery = parse_delivery(cap["body_raw"].encode())
        assert delivery.receiver == raw["receiver"]
        assert delivery.group_key == raw["groupKey"]
        assert delivery.group_labels == raw["groupLabels"]
        assert delivery.common_labels == raw["commonLabels"]
        assert delivery.common_annotations == raw["commonAnnotations"]
        assert delivery.external_url == raw["externalURL"]
        assert delivery.truncated_alerts == raw["truncatedAlerts"]
        assert [a.fingerprint for a in delivery.alerts] == [a["fingerprint"] for a in raw["alerts"]]
        for parsed, original in zip(delivery.alerts, raw["alerts"]):
            assert parsed.labels == original["labels"]
            assert parsed.annotations == original["annotations"]
            assert parsed.generator_url == original["generatorURL"]
            assert parsed.status == original["status"]
            # Firing alerts carry Go's zero time, which means "no end".
            assert (parsed.ends_at is None) == original["endsAt"].startswith("0001-01-01")


def test_html_and_unicode_survive_parsing():
    raw = reconstructed(UNICODE_HTML_LONG)["body_raw"]
    assert "\\u003cscript\\u003e" in raw  # Go escapes < > & in JSON strings
    alert = parse_delivery(raw.encode()).alerts[0]
    assert alert.name == "Weird<script>alert('x')</script>"
    assert alert.labels["instance"] == "ünïcödé-🔥-节点-1"
    assert "\u2028" in alert.labels["weird"] and "\n" in alert.labels["weird"]
    assert len(alert.annotations["description"]) == 18000  # 20 KB of UTF-8


@pytest.mark.parametrize("text,expected", [
    ("2026-11-22T10:05:30Z", "2026-11-22T10:05:30.000+00:00"),
    ("2026-11-22T10:05:30.8Z", "2026-11-22T10:05:30.800+00:00"),
    ("2026-11-22T10:05:46.683Z", "2026-11-22T10:05:46.683+00:00"),
    ("2026-11-22T10:05:16.52967207Z", "2026-11-22T10:05:16.529+00:00"),
    ("2026-11-22T10:05:30.817119509Z", "2026-11-22T10:05:30.817+00:00"),
    ("2026-11-22T12:05:30.5+02:00", "2026-11-22T10:05:30.500+00:00"),
])
def test_timestamps_with_zero_to_nine_fraction_digits(text, expected):
    assert format_ms(parse_rfc3339(text)) == expected


def test_zero_time_is_no_end_even_with_fraction():
    body = _payload(alerts=[_alert(endsAt="0001-01-01T00:00:00.000Z")])
    assert parse_delivery(body).alerts[0].ends_at is None


def _alert(**over):
    alert = {"status": "firing", "labels": {"alertname": "A"}, "annotations": {},
             "startsAt": "2026-11-22T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": "0123456789abcdef"}
    alert.update(over)
    return {k: v for k, v in alert.items() if v is not ...}


def _payload(**over) -> bytes:
    doc = {"receiver": "r", "status": "firing", "alerts": [_alert()], "groupLabels": {}, "commonLabels": {},
           "commonAnnotations": {}, "externalURL": "", "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0}
    doc.update(over)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("body,code", [
    (b"", "empty_body"),
    (b"{not json", "invalid_json"),
    (b"[1,2]", "invalid_payload"),
    (_payload(version="3"), "unsupported_version"),
    (_payload(version=4), "unsupported_version"),
    (_payload(alerts={"a": 1}), "invalid_payload"),
    (_payload(alerts=[_alert(fingerprint=...)]), "missing_fingerprint"),
    (_payload(alerts=[_alert(fingerprint="")]), "missing_fingerprint"),
    (_payload(alerts=[_alert(fingerprint="../etc")]), "missing_fingerprint"),
    (_payload(alerts=[_alert(startsAt=...)]), "missing_starts_at"),
    (_payload(alerts=[_alert(startsAt="yesterday")]), "invalid_timestamp"),
    (_payload(alerts=[_alert(labels={"severity": 3})]), "invalid_label_value"),
    (_payload(alerts=[_alert(annotations={"summary": None})]), "invalid_label_value"),
    (_payload(alerts=[_alert(status="pending")]), "invalid_status"),
    (_payload(truncatedAlerts=-1), "invalid_payload"),
    (b"\xff\xfe{}", "invalid_json"),
])
def test_bad_payloads_are_rejected_with_a_short_code(body, code):
    with pytest.raises(PayloadError) as err:
        parse_delivery(body)
    assert err.value.code == code


def test_body_size_limit():
    body = _payload()
    assert parse_delivery(body, max_bytes=len(body))
    with pytest.raises(PayloadError) as err:
        parse_delivery(body, max_bytes=len(body) - 1)
    assert err.value.code == "body_too_large"


def test_unknown_keys_are_ignored():
    doc = json.loads(_payload())
    doc["notification_reason"] = "new_alerts"
    doc["routeLabels"] = {"x": "y"}
    doc["alerts"][0]["extra"] = True
    delivery = parse_delivery(json.dumps(doc))
    assert delivery.alerts[0].starts_at == datetime(2026, 11, 22, 10, tzinfo=timezone.utc)
