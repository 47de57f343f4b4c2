"""ALERTWRITE_API_TOKENS: `name:role:token` entries, comma-separated, compared in constant time."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

TOKEN_ROLES = ("viewer", "responder", "admin")


class BadTokenSetting(ValueError):
    """Names the entry by position, never its token."""


@dataclass(frozen=True)
class ApiToken:
    name: str
    role: str
    token: str

    def __repr__(self) -> str:
        return f"ApiToken({self.name!r}, {self.role!r}, <hidden>)"


def parse_api_tokens(value: str) -> tuple[ApiToken, ...]:
    out = []
    for i, entry in enumerate(e.strip() for e in value.split(",")):
        if not entry:
            continue
        name, sep1, rest = entry.partition(":")
        role, sep2, token = rest.partition(":")
        if not (sep1 and sep2 and name and token) or role not in TOKEN_ROLES:
            raise BadTokenSetting(f"ALERTWRITE_API_TOKENS entry {i + 1}: expected name:role:token with role "
                                  f"one of {', '.join(TOKEN_ROLES)}")
        out.append(ApiToken(name.strip(), role, token.strip()))
    return tuple(out)


def match_token(presented: str, tokens: tuple[ApiToken, ...]) -> ApiToken | None:
    given = presented.encode()
    found = None
    for entry in tokens:  # no early exit: the time taken does not tell which entry matched
        if hmac.compare_digest(given, entry.token.encode()):
            found = entry
    return found
