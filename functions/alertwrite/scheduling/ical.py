"""iCalendar (RFC 5545) export of a schedule's final shifts, overrides applied.

Times are written in UTC (`...Z`, RFC 5545 §3.3.5 form 2), so no VTIMEZONE is needed and every
client shows the hand-offs at the right local time on both sides of a DST change.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from .oncall import Schedule, shifts

PRODID = "-//Alertwrite//On-call schedule//EN"


def _escape(text: str) -> str:  # RFC 5545 §3.3.11 TEXT
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded with CRLF + space (RFC 5545 §3.1)."""
    raw = line.encode("utf-8")
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for ch in line:
        b = ch.encode("utf-8")
        if len(current) + len(b) > (75 if not parts else 74):
            parts.append(current.decode("utf-8"))
            current = b""
        current += b
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def export(schedule: Schedule, start: datetime, end: datetime, now: datetime) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_escape('On call: ' + schedule.name)}"]
    for shift in shifts(schedule, start, end):
        # Stable UID per (schedule, user, start): a re-import updates rather than duplicates.
        uid = hashlib.sha256(f"{schedule.name}|{shift.user}|{_stamp(shift.start)}".encode()).hexdigest()[:32]
        lines += ["BEGIN:VEVENT", f"UID:{uid}@alertwrite", f"DTSTAMP:{_stamp(now)}",
                  f"DTSTART:{_stamp(shift.start)}", f"DTEND:{_stamp(shift.end)}",
                  f"SUMMARY:{_escape(f'{shift.user} on call ({schedule.name})')}",
                  f"DESCRIPTION:{_escape('source: ' + shift.source)}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
