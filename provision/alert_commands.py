"""`alertwrite alerts ...` and `alertwrite silences ...`: thin over alertwrite.operations.

Every command works on the local store (--db, the file `serve` uses) or on Appwrite
(--backend appwrite, the project from --endpoint/--project/--key). The actor written to the audit
trail is --as NAME, else the OS user.
"""
from __future__ import annotations

import getpass
import json
import os
from contextlib import contextmanager
from pathlib import Path

import click

from alertwrite.errors import StoreMisconfigured, StoreUnavailable
from alertwrite.operations import alerts as ops_alerts
from alertwrite.operations import audit as ops_audit
from alertwrite.operations import silences as ops_silences
from alertwrite.operations.actor import Actor, OpError
from alertwrite.operations.config import load_ops_config
from alertwrite.settings import Settings
from alertwrite.stores.rows import RowQueryError, open_rows
from alertwrite.timeutil import utcnow

from .cli import Failure, State, main, pass_state
from .connection import read_env_file
from .schema_commands import _confirm


def store_options(fn):
    fn = click.option("--as", "actor", metavar="NAME", help="who acts, for the audit trail (default: the OS user)")(fn)
    fn = click.option("--backend", type=click.Choice(["sqlite", "appwrite"]), default="sqlite", show_default=True)(fn)
    fn = click.option("--db", default="alertwrite.db", show_default=True, help="SQLite file of the local store")(fn)
    return fn


class Context:
    def __init__(self, state: State, db: str, backend: str, actor: str | None):
        self.state = state
        self.schema = state.schema()
        if backend == "appwrite":
            c = state.connection()
            self.store = Settings(tokens=(), backend="appwrite", endpoint=c.endpoint, project_id=c.project, api_key=c.key)
        else:
            if not Path(db).exists():
                raise Failure(f"no local store at {db}: start `alertwrite serve` (or pass --db)")
            self.store = Settings(tokens=(), backend="sqlite", sqlite_path=str(Path(db).resolve()))
        env = {**read_env_file(state.project.root), **os.environ}
        self.settings = _OpsSettings(self.store, load_ops_config(env))
        self.actor = Actor(actor or getpass.getuser(), "admin", "cli")

    @contextmanager
    def rows(self):
        try:
            with open_rows(self.store, self.schema) as rows:
                yield rows
        except OpError as exc:
            raise Failure(f"{exc.code.replace('_', ' ')}{': ' + exc.detail if exc.detail else ''}") from None
        except RowQueryError as exc:
            raise Failure(str(exc)) from None
        except StoreUnavailable as exc:
            raise Failure(f"the store is unavailable, try again: {exc}") from None
        except StoreMisconfigured as exc:
            raise Failure(f"the store refused the request: {exc}") from None


class _OpsSettings:
    def __init__(self, store, ops):
        self.store, self.ops = store, ops


def _ctx(state, db, backend, actor) -> Context:
    return Context(state, db, backend, actor)


@main.group()
def alerts():
    """List, show and act on alerts (ack, unack, resolve, unresolve, silence)."""


@alerts.command("list")
@click.option("--status", type=click.Choice(ops_alerts.STATES), help="state to show")
@click.option("--severity")
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="repeat for several")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def list_cmd(state, status, severity, labels, limit, as_json, db, backend, actor):
    """Alerts, newest first."""
    ctx = _ctx(state, db, backend, actor)
    now = utcnow()
    with ctx.rows() as rows:
        where = ops_alerts.filters(status or "", severity or "", "", list(labels))
        page = ops_alerts.list_alerts(rows, where, ops_alerts.sort_order("-startsAt"), limit, None, now)
    if as_json:
        click.echo(json.dumps(page, indent=2, sort_keys=True))
        return
    if not page["alerts"]:
        click.echo("No alerts.")
        return
    click.echo(f"{'FINGERPRINT':16}  {'STATE':12}  {'SEVERITY':9}  {'ALERTNAME':24}  {'INSTANCE':20}  STARTED")
    for a in page["alerts"]:
        click.echo(f"{a['fingerprint']:16}  {a['state']:12}  {a['severity'][:9]:9}  {a['alertname'][:24]:24}  "
                   f"{a['instance'][:20]:20}  {a['startsAt'][:19]}Z")
    more = f" (showing {len(page['alerts'])})" if page["total"] > len(page["alerts"]) else ""
    click.echo(f"{page['total']} alert(s){more}")


@alerts.command()
@click.argument("fingerprints", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def show(state, fingerprints, as_json, db, backend, actor):
    """An alert with its episodes and audit trail."""
    ctx = _ctx(state, db, backend, actor)
    with ctx.rows() as rows:
        shown = [ops_alerts.show(rows, ctx.schema, f, utcnow()) for f in fingerprints]
    if as_json:
        click.echo(json.dumps(shown if len(shown) > 1 else shown[0], indent=2, sort_keys=True))
        return
    for item in shown:
        a = item["alert"]
        click.echo(f"{a['fingerprint']}  {a['alertname']}  [{a['severity']}]  {a['state']}")
        for key in ("instance", "summary", "startsAt", "acknowledgedBy", "resolvedBy", "silencedUntil"):
            if a.get(key):
                click.echo(f"  {key}: {a[key]}")
        for event in item["timeline"]:
            by = f" by {event['by']}" if event.get("by") else ""
            note = f" ({event['comment']})" if event.get("comment") else ""
            click.echo(f"  {event['at']}  {event['event']}{by}{note}")


def _action(action: str, help_text: str, asks: bool = False):
    @click.argument("fingerprints", nargs=-1, required=True)
    @click.option("--comment", default="", help="written to the audit trail and the announcement")
    @click.option("--yes", is_flag=True, help="do not ask first") if asks else (lambda f: f)
    @click.option("--json", "as_json", is_flag=True)
    @store_options
    @pass_state
    def command(state, fingerprints, comment, as_json, db, backend, actor, yes=True, duration=""):
        if asks:
            _confirm(f"{action} {len(fingerprints)} alert(s)?", yes)
        ctx = _ctx(state, db, backend, actor)
        with ctx.rows() as rows:
            results = ops_alerts.act(rows, ctx.schema, ctx.settings, action, list(fingerprints), ctx.actor, utcnow(),
                                     comment, duration)
        if as_json:
            click.echo(json.dumps(results, indent=2, sort_keys=True))
        for r in results:
            if not as_json:
                click.echo(f"{r['fingerprint']}: " + (r["alert"]["state"] if r["ok"] else f"not done ({r['error']})"))
        if not all(r["ok"] for r in results):
            raise SystemExit(3)
    command.__doc__ = help_text
    if action == "silence":
        command = click.option("--for", "duration", default="1h", show_default=True,
                               help="how long, e.g. 30m, 2h, 1d")(command)
    return alerts.command(action)(command)


_action("ack", "Acknowledge: stops repeats and escalation for this episode.")
_action("unack", "Take an acknowledgement back: escalation restarts from its first step.")
_action("resolve", "Resolve by hand (it reopens if Alertmanager still sends it firing).", asks=True)
_action("unresolve", "Reopen a resolved alert.")
_action("silence", "Silence: stored and visible, but nobody is notified until it ends.")


@main.group()
def silences():
    """Matcher silences (maintenance windows), mirrored into Alertmanager when configured."""


@silences.command("list")
@click.option("--all", "show_all", is_flag=True, help="expired ones too")
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def silences_list(state, show_all, as_json, db, backend, actor):
    """Active and pending silences."""
    ctx = _ctx(state, db, backend, actor)
    now = utcnow()
    with ctx.rows() as rows:
        found = [ops_silences.silence_json(r, now) for r in rows.find_all("silences", order=[("startsAt", "desc")])]
    if not show_all:
        found = [s for s in found if s["state"] != "expired"]
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    if not found:
        click.echo("No silences.")
    for s in found:
        matchers = ", ".join(f"{m['name']}{'!' if not m['isEqual'] else '='}{'~' if m['isRegex'] else ''}"
                             f"{'' if m['isEqual'] or m['isRegex'] else '='}{m['value']}"
                             .replace("!=~", "!~").replace("!==", "!=") for m in s["matchers"])
        am = f"  alertmanager {s['alertmanagerId']}" if s["alertmanagerId"] else ""
        click.echo(f"{s['id']}  {s['state']:8}  until {s['endsAt'][:19]}Z  by {s['createdBy']}  {{{matchers}}}"
                   f"  {s['comment']}{am}")


@silences.command("add")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", default="1h", show_default=True, help="how long, e.g. 30m, 2h, 1d")
@click.option("--comment", required=True, help="why (as amtool, a comment is required)")
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def silences_add(state, matchers, duration, comment, as_json, db, backend, actor):
    """Silence what MATCHERS select: name=value, name!=value, name=~regex, name!~regex."""
    ctx = _ctx(state, db, backend, actor)
    now = utcnow()
    with ctx.rows() as rows:
        parsed = ops_silences.parse_matchers(list(matchers))
        made = ops_silences.add(rows, ctx.settings.ops, ctx.actor, parsed, now,
                                ops_silences.end_of("", duration, now), comment, now, log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(made, indent=2, sort_keys=True))
        return
    click.echo(f"{made['id']}  until {made['endsAt']}"
               + (f"  (Alertmanager silence {made['alertmanagerId']})" if made["alertmanagerId"] else ""))
    if made["alertmanagerError"]:
        click.echo(f"warning: not mirrored into Alertmanager: {made['alertmanagerError']}", err=True)


@silences.command("expire")
@click.argument("ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="do not ask first")
@store_options
@pass_state
def silences_expire(state, ids, yes, db, backend, actor):
    """End silences now; what they held and still fires is announced."""
    _confirm(f"expire {len(ids)} silence(s)?", yes)
    ctx = _ctx(state, db, backend, actor)
    with ctx.rows() as rows:
        for sid in ids:
            done = ops_silences.expire(rows, ctx.settings.ops, ctx.actor, sid, utcnow(), ctx.settings, ctx.schema)
            click.echo(f"{sid}: {done['state']}")


@main.command("audit")
@click.option("--fingerprint", default="")
@click.option("--actor-name", "who", default="", help="only this actor")
@click.option("--json", "as_json", is_flag=True)
@store_options
@pass_state
def audit_cmd(state, fingerprint, who, as_json, db, backend, actor):
    """The audit trail, newest first."""
    ctx = _ctx(state, db, backend, actor)
    with ctx.rows() as rows:
        entries = ops_audit.find(rows, fingerprint, who)
    if as_json:
        click.echo(json.dumps(entries, indent=2, sort_keys=True))
        return
    for e in entries:
        note = f"  ({e['comment']})" if e["comment"] else ""
        click.echo(f"{e['at']}  {e['actor']} [{e['actorKind']}]  {e['action']}  {e['targetType']} {e['target']}{note}")
