"""`alertwrite channels …` and `alertwrite notifications …`: thin over alertwrite.channels.admin.

Every command works on the local store (--db, as serve uses it) or on Appwrite
(--backend appwrite with the usual connection settings). URLs and secrets are never
printed in full; a secret Alertwrite generates is shown once.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from alertwrite.channels import admin, dispatch, outbox
from alertwrite.channels.filters import Filter, FilterError, parse_matchers
from alertwrite.channels.model import TYPES, Channel, ChannelError
from alertwrite.channels.webhook import new_secret
from alertwrite.errors import StoreMisconfigured, StoreUnavailable
from alertwrite.settings import Settings
from alertwrite.stores import open_rows
from alertwrite.timeutil import utcnow

from .cli import Failure, State, emit, main, pass_state, progress


def store_options(fn):
    fn = click.option("--backend", type=click.Choice(["sqlite", "appwrite"]), default="sqlite", show_default=True,
                      help="appwrite: the project from --endpoint/--project/--key")(fn)
    return click.option("--db", default="alertwrite.db", show_default=True, help="SQLite file (as serve uses)")(fn)


def _settings(state: State, db: str, backend: str) -> Settings:
    if backend == "appwrite":
        c = state.connection()
        return Settings(tokens=(), backend="appwrite", endpoint=c.endpoint, project_id=c.project, api_key=c.key)
    return Settings(tokens=(), backend="sqlite", sqlite_path=str(Path(db).resolve()))


@contextmanager
def _rows(state: State, db: str, backend: str):
    try:
        with open_rows(_settings(state, db, backend), state.schema()) as rows:
            yield rows
    except ChannelError as exc:
        raise Failure(str(exc)) from None
    except (StoreUnavailable, StoreMisconfigured) as exc:
        raise Failure(f"store: {exc}") from None


def filter_options(fn):
    for decl, kw in reversed([
        ("--severity", dict(multiple=True, help="only these severities (repeat)")),
        ("--alertname", dict(multiple=True, help="only these alertnames (repeat)")),
        ("--category", dict(multiple=True, help="only these values of label category (repeat)")),
        ("--tenant", dict(multiple=True, help="only these tenants (repeat)")),
        ("--tenant-label", dict(default=None, help="label that names the tenant [tenant]")),
        ("--match", dict(multiple=True, metavar="LABEL=VALUE", help="label equals value; !LABEL=VALUE negates")),
        ("--match-re", dict(multiple=True, metavar="LABEL=REGEX", help="label fully matches regex; !LABEL negates")),
        ("--title-template", dict(default=None, help="Jinja2 template for the title")),
        ("--body-template", dict(default=None, help="Jinja2 template for the body")),
        ("--description", dict(default=None)),
    ]):
        fn = click.option(decl, **kw)(fn)
    return fn


def _filter_changes(o: dict) -> dict:
    out: dict = {}
    for opt, key in (("severity", "severities"), ("alertname", "alertnames"), ("category", "categories"),
                     ("tenant", "tenants")):
        if o.get(opt):
            out[key] = list(o[opt])
    if o.get("tenant_label"):
        out["tenant_label"] = o["tenant_label"]
    try:
        if o.get("match"):
            out["match"] = {k: [v] for k, v in parse_matchers(list(o["match"]), "--match").items()}
        if o.get("match_re"):
            out["match_re"] = parse_matchers(list(o["match_re"]), "--match-re")
    except FilterError as exc:
        raise click.UsageError(str(exc)) from None
    return out


def _templates(o: dict, current: dict | None = None) -> dict:
    out = dict(current or {})
    for part in ("title", "body"):
        if o.get(f"{part}_template") is not None:
            out[part] = o[f"{part}_template"]
    return {k: v for k, v in out.items() if v}


@main.group()
def channels():
    """Chat, webhook, PagerDuty and topic channels: a destination plus a filter."""


@channels.command("add")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(TYPES), required=True)
@click.option("--url", help="webhook URL (asked for, hidden, when left out)")
@click.option("--secret", help="webhook: whsec_ secret (generated when left out); pagerduty: routing key")
@click.option("--topic", help="topic channels: the Messaging topic")
@click.option("--media", default="", help="topic channels: comma-separated email,sms,push")
@filter_options
@click.option("--no-resolved", is_flag=True, help="do not send resolves")
@click.option("--disabled", is_flag=True, help="create it disabled")
@store_options
@pass_state
def add(state: State, name, kind, url, secret, topic, media, no_resolved, disabled, db, backend, **o):
    """Add a channel; it gets the next delivery, with no redeploy."""
    generated = None
    if kind in ("slack", "discord", "teams", "webhook") and not url:
        url = click.prompt(f"{kind} webhook URL", hide_input=True, err=True)
    if kind == "webhook" and not secret:
        secret = generated = new_secret()
    if kind == "pagerduty" and not secret:
        secret = click.prompt("PagerDuty routing key", hide_input=True, err=True)
    try:
        flt = Filter.from_dict({**_filter_changes(o), "send_resolved": not no_resolved})
        channel = Channel(name, kind, url=url or "", secret=secret or "", topic=topic or "",
                          media=tuple(m.strip() for m in media.split(",") if m.strip()), filter=flt,
                          enabled=not disabled, templates=_templates(o), description=o.get("description") or "")
    except (ChannelError, FilterError) as exc:
        raise click.UsageError(str(exc)) from None
    with _rows(state, db, backend) as rows:
        admin.add(rows, channel, state.schema())
    click.echo(f"added channel {name} ({kind}{', disabled' if disabled else ''})")
    if generated:
        click.echo(f"signing secret (shown once; give it to the receiver): {generated}")


@channels.command("list")
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def list_(state: State, as_json, db, backend):
    """Each channel with its health: last success, last error, sent / failed / dead counts."""
    with _rows(state, db, backend) as rows:
        outbox.seed(rows, state.schema())
        found = [admin.health(rows, c) for c in admin.list_channels(rows)]
    if as_json:
        emit({"channels": found}, True, "")
        return
    head = ("NAME", "TYPE", "ON", "SOURCE", "LAST SUCCESS", "SENT", "FAILED", "DEAD", "LAST ERROR")
    lines = [head] + [(h["name"], h["type"], "yes" if h["enabled"] else "no", h["source"],
                       (h["lastSuccessAt"] or "-")[:19], str(h["successes"]), str(h["failures"]), str(h["dead"]),
                       (h["lastError"] or "")[:60]) for h in found]
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    for line in lines:
        click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip())


@channels.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def show(state: State, name, as_json, db, backend):
    """One channel (URL and secret redacted), its health and its latest notifications."""
    with _rows(state, db, backend) as rows:
        info = admin.health(rows, admin.get(rows, name))
        info["recent"] = admin.notifications(rows, channel=name, limit=5)
    if as_json:
        emit(info, True, "")
        return
    for key in ("name", "type", "url", "secret", "topic", "media", "enabled", "disabledReason", "source",
                "description", "filter", "templates", "lastSuccessAt", "lastErrorAt", "lastError", "counts"):
        value = info.get(key)
        if value not in (None, [], {}, ""):
            click.echo(f"{key:15} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    for n in info["recent"]:
        click.echo(f"  {n['$createdAt'][:19]} {n['status']:8} {n['$id']} {n['title']}"
                   + (f"  ({n['lastStatus'] or '-'}: {n['lastError']})" if n["lastError"] else ""))


@channels.command("update")
@click.argument("name")
@click.option("--url", help="a new webhook URL")
@click.option("--secret", help="replace the secret(s)")
@click.option("--rotate-secret", is_flag=True, help="webhook: add a new secret, keep the current one as second")
@click.option("--drop-old-secret", is_flag=True, help="webhook: keep only the newest secret")
@click.option("--topic")
@click.option("--media")
@filter_options
@click.option("--resolved/--no-resolved", default=None, help="send resolves or not")
@store_options
@pass_state
def update(state: State, name, url, secret, rotate_secret, drop_old_secret, topic, media, resolved, db, backend, **o):
    """Change a channel; the next delivery uses it."""
    changes: dict = _filter_changes(o)
    if resolved is not None:
        changes["send_resolved"] = resolved
    generated = None
    with _rows(state, db, backend) as rows:
        current = admin.get(rows, name)
        if url:
            changes["url"] = url
        if secret:
            changes["secret"] = secret
        if rotate_secret:
            generated = new_secret()
            changes["secret"] = " ".join([generated, *current.secrets[:1]])
        if drop_old_secret:
            changes["secret"] = " ".join(current.secrets[:1])
        if topic:
            changes["topic"] = topic
        if media:
            changes["media"] = tuple(m.strip() for m in media.split(",") if m.strip())
        if o.get("title_template") is not None or o.get("body_template") is not None:
            changes["templates"] = _templates(o, current.templates)
        if o.get("description") is not None:
            changes["description"] = o["description"]
        admin.update(rows, name, changes)
    click.echo(f"updated channel {name}")
    if generated:
        click.echo(f"new signing secret (shown once; both are sent until --drop-old-secret): {generated}")


@channels.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask")
@store_options
@pass_state
def remove(state: State, name, yes, db, backend):
    """Delete a channel (its notification log stays)."""
    with _rows(state, db, backend) as rows:
        channel = admin.get(rows, name)
        if not yes:
            try:
                agreed = click.confirm(f"Remove channel {name} ({channel.type})?", default=False, err=True)
            except click.Abort:
                agreed = False
            if not agreed:
                raise Failure("nothing changed (answer y, or pass --yes)")
        admin.remove(rows, name)
    click.echo(f"removed channel {name}"
               + (" (it is declared in schemas/channels.yaml: apply will create it again)"
                  if channel.source == "schema" else ""))


def _toggle(enabled: bool):
    @click.argument("name")
    @store_options
    @pass_state
    def command(state: State, name, db, backend):
        with _rows(state, db, backend) as rows:
            admin.set_enabled(rows, name, enabled)
        click.echo(f"{'enabled' if enabled else 'disabled'} channel {name}")
    return command


channels.command("enable", help="Send to this channel again.")(_toggle(True))
channels.command("disable", help="Stop sending to this channel (its pending notifications go dead).")(_toggle(False))


@channels.command("test")
@click.argument("name")
@store_options
@pass_state
def test(state: State, name, db, backend):
    """Send a clearly marked test message now and print the endpoint's answer."""
    schema = state.schema()
    settings = _settings(state, db, backend)
    now = utcnow()
    with _rows(state, db, backend) as rows:
        admin.get(rows, name)
        (nid,) = outbox.notify(rows, schema, admin.test_event(name, now), now, channels=[name]) or ("",)
    if not nid:
        raise Failure(f"channel {name} is disabled: enable it first")
    progress(f"sending test message {nid} to {name}...")
    dispatch.run_due(None, schema, settings, ids=[nid], env=dict(os.environ))
    with _rows(state, db, backend) as rows:
        (row,) = [r for r in admin.notifications(rows, channel=name, limit=20) if r["$id"] == nid]
    answer = f"answer {row['lastStatus']}" if row["lastStatus"] else "no HTTP answer"
    click.echo(f"{row['status']}: {answer}" + (f": {row['lastError']}" if row["lastError"] else ""))
    if row["status"] != "sent":
        sys.exit(3)


@main.group()
def notifications():
    """The durable delivery log: every notification, its state and attempts."""


@notifications.command("list")
@click.option("--status", type=click.Choice(["pending", "retrying", "dead", "sent"]))
@click.option("--channel")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def list_notifications(state: State, status, channel, limit, as_json, db, backend):
    """Newest first: state, attempts, last HTTP status and error."""
    with _rows(state, db, backend) as rows:
        found = admin.notifications(rows, status, channel, limit)
    if as_json:
        emit({"notifications": found}, True, "")
        return
    if not found:
        click.echo("no notifications")
    for n in found:
        click.echo(f"{n['$id']}  {n['$createdAt'][:19]}  {n['channel']:16} {n['status']:8} "
                   f"attempts={n['attempts'] or 0}  {n['title'] or ''}"
                   + (f"\n    last: {n['lastStatus'] or '-'} {n['lastError']}" if n["lastError"] else ""))


@notifications.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--dead", is_flag=True, help="retry every dead notification")
@store_options
@pass_state
def retry(state: State, ids, dead, db, backend):
    """Queue notifications again, with fresh attempt and age budgets."""
    if not ids and not dead:
        raise click.UsageError("give notification IDs or --dead")
    with _rows(state, db, backend) as rows:
        done = admin.retry(rows, list(ids), dead=dead)
    click.echo(f"queued {len(done)} notification{'s' if len(done) != 1 else ''} again "
               "(the alert-dispatcher sends them within a minute)")
