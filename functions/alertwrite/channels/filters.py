"""The one filter model: which alert transitions a channel receives.

Every condition must hold (AND). Lists within one condition are alternatives (OR).
`match`/`match_re` compare one label each; a regex must match the whole value, as
Alertmanager's `=~` does. A `!` prefix on a label name negates that condition.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

RESOLVED_KINDS = ("resolved",)


class FilterError(ValueError):
    pass


@dataclass(frozen=True)
class Filter:
    severities: tuple[str, ...] = ()
    alertnames: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    tenant_label: str = "tenant"
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "!name" negates
    match_re: dict[str, str] = field(default_factory=dict)  # "!name" negates
    send_resolved: bool = True

    def __post_init__(self):
        for key, pattern in self.match_re.items():
            try:
                re.compile(pattern)
            except re.error as err:
                raise FilterError(f"match_re {key}: bad regular expression: {err}") from None

    def accepts(self, kind: str, labels: dict[str, str]) -> bool:
        if kind in RESOLVED_KINDS and not self.send_resolved:
            return False
        for allowed, value in ((self.severities, labels.get("severity", "")),
                               (self.alertnames, labels.get("alertname", "")),
                               (self.categories, labels.get("category", "")),
                               (self.tenants, labels.get(self.tenant_label, ""))):
            if allowed and value not in allowed:
                return False
        for key, allowed in self.match.items():
            negate, name = key.startswith("!"), key.lstrip("!")
            if (labels.get(name, "") in allowed) == negate:
                return False
        for key, pattern in self.match_re.items():
            negate, name = key.startswith("!"), key.lstrip("!")
            if bool(re.fullmatch(pattern, labels.get(name, ""))) == negate:
                return False
        return True

    def to_dict(self) -> dict:
        out: dict = {}
        for key in ("severities", "alertnames", "categories", "tenants"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.tenant_label != "tenant":
            out["tenant_label"] = self.tenant_label
        if self.match:
            out["match"] = {k: list(v) for k, v in self.match.items()}
        if self.match_re:
            out["match_re"] = dict(self.match_re)
        if not self.send_resolved:
            out["send_resolved"] = False
        return out

    @classmethod
    def from_dict(cls, doc: dict | None) -> "Filter":
        doc = doc or {}
        if not isinstance(doc, dict):
            raise FilterError("filter must be a mapping")
        unknown = set(doc) - {"severities", "alertnames", "categories", "tenants", "tenant_label", "match",
                              "match_re", "send_resolved"}
        if unknown:
            raise FilterError(f"unknown filter keys: {', '.join(sorted(unknown))}")

        def strings(key: str) -> tuple[str, ...]:
            value = doc.get(key) or []
            value = value if isinstance(value, list) else [value]
            if not all(isinstance(v, (str, int, float)) for v in value):
                raise FilterError(f"{key}: expected a list of strings")
            return tuple(str(v) for v in value)

        match: dict[str, tuple[str, ...]] = {}
        for key, value in (doc.get("match") or {}).items():
            values = value if isinstance(value, list) else [value]
            match[str(key)] = tuple(str(v) for v in values)
        match_re = {str(k): str(v) for k, v in (doc.get("match_re") or {}).items()}
        return cls(strings("severities"), strings("alertnames"), strings("categories"), strings("tenants"),
                   str(doc.get("tenant_label") or "tenant"), match, match_re, bool(doc.get("send_resolved", True)))


def parse_matchers(pairs: list[str], what: str) -> dict[str, str]:
    """CLI form `label=value` (or `!label=value` to negate) into a mapping."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.lstrip("!"):
            raise FilterError(f"{what} takes label=value, not {pair!r}")
        out[name] = value
    return out
