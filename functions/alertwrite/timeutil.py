"""RFC 3339 timestamps as Alertmanager writes them and Appwrite stores them."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# Go's RFC3339Nano trims trailing zeros, so 0 to 9 fractional digits occur.
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_rfc3339(text: str) -> datetime:
    """Parse to an aware UTC datetime, truncated to milliseconds (Appwrite's precision).

    Truncating here makes the ns-precision and ms-precision forms of one startsAt
    (Alertmanager re-posts change it) compare equal.
    """
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    millis = int((frac or "0").ljust(3, "0")[:3])
    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                     millis * 1000, tzinfo=timezone.utc)
    if not zulu:
        offset = (int(oh) * 60 + int(om)) * (1 if sign == "+" else -1)
        value -= timedelta(minutes=offset)
    return value


def format_ms(value: datetime | None) -> str | None:
    """The form Appwrite returns: 2025-01-01T12:00:00.000+00:00."""
    if value is None:
        return None
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(timespec="milliseconds")


def utcnow() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
