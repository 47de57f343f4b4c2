"""User templates for a channel's title and body: Jinja2 in a sandbox.

A template may come from the channel row (`templates: {title, body}`) or from the
`templates:` section of schemas/channels.yaml, keyed by channel type. They are checked when
a channel is saved and at plan/apply (`validate`); at send time a failing template is
logged and the default rendering is used instead, so a bad template never blocks a
notification.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from .model import Event

PARTS = ("title", "body")
MAX_OUTPUT = 20000  # no template may turn one alert into megabytes
log = logging.getLogger("alertwrite.channels")



@functools.lru_cache(maxsize=1)
def _env():
    # Imported here: intake plans notifications without rendering, and should not pay for it.
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # autoescape off: each renderer escapes for its own platform after templating.
    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                                         lstrip_blocks=True)


class TemplateProblem(ValueError):
    pass


@dataclass(frozen=True)
class Rendered:
    title: str | None = None
    body: str | None = None


def validate(templates: dict, where: str) -> None:
    """Parse and trial-render against a sample event; raises TemplateProblem naming `where`."""
    if not isinstance(templates, dict):
        raise TemplateProblem(f"{where}: expected a mapping of title/body")
    unknown = set(templates) - set(PARTS)
    if unknown:
        raise TemplateProblem(f"{where}: unknown template parts {', '.join(sorted(unknown))} (use title, body)")
    from .render import sample_event

    for part, source in templates.items():
        try:
            _render_one(str(source), sample_event(), "sample")
        except Exception as exc:  # noqa: BLE001 - TemplateError, SecurityError, TypeError, ...
            raise TemplateProblem(f"{where}.{part}: {type(exc).__name__}: {exc}") from None


def context(event: Event, channel_name: str) -> dict:
    items = [dict(i.to_dict(), name=i.name, severity=i.severity, links=dict(i.links())) for i in event.items]
    return {"event": {"kind": event.kind, "title": event.title, "text": event.text,
                      "externalURL": event.external_url, "groupKey": event.group_key},
            "alerts": items, "firing": [i for i in items if i["kind"] != "resolved"],
            "resolved": [i for i in items if i["kind"] == "resolved"], "channel": channel_name}


def _render_one(source: str, event: Event, channel_name: str) -> str:
    out = _env().from_string(source).render(context(event, channel_name))
    return out[:MAX_OUTPUT]


def apply(templates: dict, event: Event, channel_name: str) -> Rendered:
    """Render what is overridden; a part that fails falls back to the default (None)."""
    done: dict[str, str | None] = {}
    for part in PARTS:
        source = templates.get(part)
        if not source:
            continue
        try:
            done[part] = _render_one(str(source), event, channel_name)
        except Exception as exc:  # noqa: BLE001 - any template fault must fall back, never block
            log.error("channel %s: template %s failed (%s: %s); sending the default", channel_name, part,
                      type(exc).__name__, str(exc)[:200])
    return Rendered(done.get("title"), done.get("body"))
