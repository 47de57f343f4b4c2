"""Bearer-token check for the webhook, pure and constant-time."""
from __future__ import annotations

import hmac


def parse_tokens(value: str) -> tuple[str, ...]:
    """ALERTWRITE_WEBHOOK_TOKENS is comma-separated so a token can be rotated without downtime."""
    return tuple(t.strip() for t in value.split(",") if t.strip())


def check_bearer(headers: dict[str, str], tokens: tuple[str, ...]) -> bool:
    value = ""
    for key, item in headers.items():
        if key.lower() == "authorization":
            value = item
    scheme, _, presented = value.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return False
    given = presented.strip().encode()
    ok = False
    for token in tokens:  # no early exit: time does not tell which token matched
        ok |= hmac.compare_digest(given, token.encode())
    return ok
