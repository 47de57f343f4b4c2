"""Who did something: every change is attributed to one of these in the audit trail."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "responder", "admin")


@dataclass(frozen=True)
class Actor:
    name: str
    role: str | None  # viewer | responder | admin; None for anonymous
    kind: str  # user | token | link | system | console | cli

    def allows(self, role: str | None) -> bool:
        if role is None:
            return True
        return self.role in ROLES and ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS = Actor("anonymous", None, "anonymous")
SYSTEM = Actor("alertwrite", "admin", "system")


class OpError(Exception):
    """An operation refused: `status` is the HTTP answer, `code` is short and safe to show."""

    def __init__(self, status: int, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.status = status
        self.code = code
        self.detail = detail
