"""The .ics export, read back by the independent `icalendar` parser."""
from datetime import datetime, timezone

import icalendar

from alertwrite.scheduling.ical import export
from alertwrite.scheduling.oncall import Override, parse_schedule, shifts

UTC = timezone.utc


def test_ics_parses_and_carries_the_final_shifts_with_overrides():
    s = parse_schedule("primary, EU", {"timezone": "Europe/Berlin", "layers": [
        {"users": ["ann", "bob", "cy"], "rotation_start": "2026-03-02", "handoff": "09:00", "turn": "1d"}]})
    s = s.with_overrides([Override("dora; the explorer", datetime(2026, 3, 28, 12, tzinfo=UTC),
                                   datetime(2026, 3, 29, 12, tzinfo=UTC))])
    start, end = datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)
    text = export(s, start, end, now=start)
    cal = icalendar.Calendar.from_ical(text)
    events = [c for c in cal.walk("VEVENT")]
    expected = shifts(s, start, end)
    assert len(events) == len(expected) > 5
    got = [(e.decoded("DTSTART"), e.decoded("DTEND"), str(e.get("SUMMARY"))) for e in events]
    assert got == [(x.start, x.end, f"{x.user} on call (primary, EU)") for x in expected]
    assert any(summary.startswith("dora; the explorer") for _, _, summary in got)
    assert len({str(e.get("UID")) for e in events}) == len(events)
    # After the change (29 March) the 09:00 hand-off is 07:00 UTC.
    assert any(a == datetime(2026, 3, 30, 7, tzinfo=UTC) for a, _, _ in got)
    assert all(line.endswith("\r") or line == "" for line in text.split("\n"))
    assert max(len(line.encode()) for line in text.split("\r\n")) <= 75
