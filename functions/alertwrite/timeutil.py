"""RFC 3339 timestamps as Alertmanager writes them and Appwrite stores them."""
from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta, timezone

# Go's RFC3339Nano trims trailing zeros, so 0 to 9 fractional digits occur.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
# What Appwrite's MariaDB adapter stores (udb Adapter/MariaDB.php getMin/MaxDateTime; captures
# dt-min-1000, dt-max-whole-second): 9999-12-31T23:59:59.999 is rejected, so the top is .000.
MIN_STORABLE = datetime(1000, 1, 1, tzinfo=timezone.utc)
MAX_STORABLE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def parse_rfc3339(text: str) -> datetime:
    """Parse to an aware UTC datetime, truncated to milliseconds (Appwrite's precision).

    Truncating here makes the ns-precision and ms-precision forms of one startsAt
    (Alertmanager re-posts change it) compare equal. Raises ValueError for anything that is
    not a real instant: a bad offset (+99:99), or one that moves the time out of years 1..9999.
    """
    if not isinstance(text, str):
        raise ValueError(f"not an RFC 3339 timestamp: {str(text)[:40]!r}")
    return _parse(text)


# The same few instants recur in every alert of a delivery and every stored row read back.
@functools.lru_cache(maxsize=8192)
def _parse(text: str) -> datetime:
    m = _RFC3339.fullmatch(text)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    year, month, day, hour, minute, second, frac, zulu, sign, oh, om = m.groups()
    millis = int((frac or "0").ljust(3, "0")[:3])
    try:
        value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                         millis * 1000, tzinfo=timezone.utc)
        if not zulu:
            if int(oh) > 23 or int(om) > 59:
                raise ValueError(f"offset out of range: {sign}{oh}:{om}")
            value -= timedelta(minutes=(int(oh) * 60 + int(om)) * (1 if sign == "+" else -1))
    except OverflowError:
        raise ValueError(f"timestamp out of range: {text[:40]!r}") from None
    return value


def clamp_storable(value: datetime) -> datetime:
    return min(max(value, MIN_STORABLE), MAX_STORABLE)


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
