"""Shared wording and fitting helpers for the medium renderers."""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable

from ..lifecycle import Transition

ELLIPSIS = "…"
class _Labels(dict):
    """Operator actions and other capabilities' words (acknowledged, silenced, ...) show upper-cased."""

    def __missing__(self, kind: str) -> str:
        return kind.upper()


LABELS = _Labels(firing="FIRING", refiring="FIRING AGAIN", resolved="RESOLVED")
LINK_ANNOTATIONS = ("runbook_url", "dashboard_url")


def truncate(text: str, limit: int, measure: Callable[[str], int] = len) -> tuple[str, bool]:
    """Cut `text` to `limit` (as `measure` counts) with a visible ellipsis."""
    if measure(text) <= limit:
        return text, False
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        if measure(text[:mid] + ELLIPSIS) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + ELLIPSIS, True


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def single_line(text: str) -> str:
    """An email subject or push title is one header line: CR/LF in a label
    ("x\r\nBcc: victim@example.com") would start a header of its own, so every control
    character becomes a space."""
    return _CONTROL.sub(" ", text)


def headline(items: list[Transition]) -> str:
    counts = Counter(LABELS[t.kind] for t in items)
    order = [*LABELS.values(), *(label for label in counts if label not in LABELS.values())]
    parts = ", ".join(f"{label}:{counts[label]}" for label in order if counts[label])
    names = list(dict.fromkeys(t.alert.name or "(no alertname)" for t in items))
    shown = ", ".join(names[:5]) + (f" +{len(names) - 5} more" if len(names) > 5 else "")
    return single_line(f"[{parts}] {shown}")


def links(t: Transition) -> list[tuple[str, str]]:
    """(label, url) for the runbook, dashboard and the alert's source graph; http(s) only,
    so an annotation cannot smuggle a javascript: link into an email."""
    found = [(key.split("_")[0], t.alert.annotations.get(key, "")) for key in LINK_ANNOTATIONS]
    found.append(("source", t.alert.generator_url))
    return [(label, url) for label, url in found if url.startswith(("http://", "https://"))]


def fit_lines(head: str, lines: list[str], limit: int, measure: Callable[[str], int] = len,
              sep: str = "\n") -> tuple[str, int]:
    """Join as many whole lines as fit after `head`, then a "+N more" line.
    Returns the text and how many lines were left out."""
    body = head
    for i, line in enumerate(lines):
        more = len(lines) - i - 1
        candidate = body + sep + line
        tail = f"{sep}+{more} more" if more else ""
        if measure(candidate + tail) > limit:
            rest = len(lines) - i
            text, _ = truncate(body + f"{sep}+{rest} more", limit, measure)
            return text, rest
        body = candidate
    return body, 0


def action_links(t: Transition) -> list[tuple[str, str]]:
    """Signed one-tap links (ack, resolve, silence) for a firing alert; [] for a resolve or
    when links are not configured (operations/links.py)."""
    if t.kind == "resolved":
        return []
    from ..operations.links import links_for
    from ..timeutil import utcnow

    return links_for(t.alert.fingerprint, t.key, utcnow())
