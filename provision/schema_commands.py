"""plan, apply, verify, destroy: the schema against the live project."""
from __future__ import annotations

import sys

import click
from appwrite.exception import AppwriteException

from alertwrite.errors import Fault, classify

from . import live as live_state
from .apply import Applier, ApplyError
from .cli import EXIT_DIFFERENCES, Failure, State, emit, main, pass_state, progress
from .plan import add_channel_steps, diff
from .project import schema_warnings
from .services import Services


def _plan(state: State):
    schema = state.schema()
    services = Services(state.connection())
    progress("reading the live project...")
    live = live_state.fetch(services.tables_db, services.messaging, schema.database_id)
    return schema, services, live, add_channel_steps(diff(schema, live), schema, _channel_rows(services, schema, live))


def _channel_rows(services: Services, schema, live) -> list[dict]:
    if "channels" not in live.tables:
        return []
    from alertwrite.stores.appwrite_rows import AppwriteRows
    return list(AppwriteRows(services.tables_db.client, schema).find_all("channels"))


def _confirm(question: str, yes: bool) -> None:
    """Default No; with no answer to read (CI, a pipe at its end) that is also No."""
    if yes:
        return
    try:
        agreed = click.confirm(question, default=False, err=True)
    except (click.Abort, EOFError, RuntimeError, OSError):  # stdin at its end, or closed ("lost sys.stdin")
        agreed = False
    if not agreed:
        raise Failure("nothing changed (answer y, or pass --yes)")


@main.command()
@click.option("--check", is_flag=True, help="exit 1 when anything differs (for CI)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@pass_state
def plan(state: State, check, as_json):
    """Show what apply would change, comparing only what schemas/ owns."""
    schema, services, _, result = _plan(state)
    for warning in schema_warnings(schema):
        progress(f"warning: {warning}")
    lines = result.lines() + _declared_changes(state, schema, result)
    text = "\n".join(lines) if lines else "Everything up to date"
    extras = [s.line("unmanaged:").replace("unmanaged: delete ", "unmanaged ") for s in result.unmanaged]
    if extras and not as_json:
        text += "\n" + "\n".join(sorted(extras)) + "\n(unmanaged items are deleted only by apply --prune)"
    emit({"changes": lines, "unmanaged": sorted(s.target for s in result.unmanaged),
          "destructive": sorted(s.line() for s in result.destructive(False))}, as_json, text)
    if check and lines:
        sys.exit(EXIT_DIFFERENCES)


@main.command()
@click.option("--allow-recreate", is_flag=True, help="allow data-losing recreates of changed columns")
@click.option("--prune", is_flag=True, help="delete tables, columns, indexes and topics not in schemas/")
@click.option("--yes", is_flag=True, help="do not ask before destructive changes")
@click.option("--timeout", default=300, show_default=True, help="seconds to wait for columns and indexes")
@click.option("--poll", default=1.0, hidden=True, help="seconds between status polls")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def apply(state: State, allow_recreate, prune, yes, timeout, poll, as_json):
    """Make the live project match schemas/ (safe to re-run)."""
    schema, services, _, result = _plan(state)
    destructive = result.destructive(prune)
    recreates = [s for s in result.steps if s.action == "recreate"]
    if recreates and not allow_recreate:
        raise Failure("these changes need a recreate, which Appwrite cannot do in place:\n  "
                      + "\n  ".join(s.line() for s in recreates) + "\nre-run with --allow-recreate to do them")
    if result.empty and not (prune and result.unmanaged):
        synced = _sync_declared(state, schema)
        emit({"done": synced}, as_json, "\n".join(synced) or "Everything up to date")
        return
    if destructive:
        click.echo("About to:\n  " + "\n  ".join(s.line("") .strip() for s in destructive), err=True)
        _confirm("Go ahead?", yes)
    applier = Applier(services.tables_db, services.messaging, schema, progress, timeout=timeout, poll=poll)
    try:
        done = applier.apply(result, prune=prune)
    except ApplyError as exc:
        raise Failure(f"{exc} (what was done stays done; re-run apply to finish)") from None
    done += _sync_declared(state, schema)
    emit({"done": done}, as_json, "\n".join(done) or "Everything up to date")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def verify(state: State, as_json):
    """Report drift, missing pieces and unmanaged extras; exit 1 if schemas/ is not met."""
    schema, _, live, result = _plan(state)
    rows = [(s.kind, s.target, "missing" if s.action == "create" else "drift", s.detail) for s in result.steps]
    rows += [(s.kind, s.target, "unmanaged", "not in schemas/") for s in result.unmanaged]
    declared = [("table", t.id) for t in schema.tables] + [("topic", t.id) for t in schema.topics]
    flagged = {(r[0], r[1]) for r in rows}
    rows += [(kind, target, "ok", "") for kind, target in declared if (kind, target) not in flagged]
    rows.sort(key=lambda r: (r[2] == "ok", r[0], r[1]))
    if as_json:
        emit([dict(zip(("kind", "name", "state", "detail"), r)) for r in rows], True, "")
    else:
        widths = [max(len(str(r[i])) for r in rows + [("KIND", "NAME", "STATE", "DETAIL")]) for i in range(4)]
        for row in [("KIND", "NAME", "STATE", "DETAIL")] + rows:
            click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
        if result.empty:
            click.echo(f"\n{schema.database_id}: matches schemas/")
    if not result.empty:
        sys.exit(EXIT_DIFFERENCES)


@main.command()
@click.option("--yes", is_flag=True, help="do not ask")
@pass_state
def destroy(state: State, yes):
    """Delete the database, its tables, the topics and the functions that schemas/ declares."""
    schema = state.schema()
    services = Services(state.connection())
    click.echo(f"This deletes database {schema.database_id!r} with its tables "
               f"({', '.join(t.id for t in schema.tables)}) and all their rows, topics "
               f"{', '.join(t.id for t in schema.topics)} and functions "
               f"{', '.join(f.id for f in schema.functions)}.", err=True)
    _confirm("Delete them?", yes)
    done = []
    for fn in schema.functions:
        if _delete(lambda: services.functions.delete(fn.id)):
            done.append(f"deleted function {fn.id}")
    for topic in schema.topics:
        if _delete(lambda: services.messaging.delete_topic(topic.id)):
            done.append(f"deleted topic {topic.id}")
    if _delete(lambda: services.tables_db.delete(schema.database_id)):
        done.append(f"deleted database {schema.database_id}")
    click.echo("\n".join(done) or "Nothing to delete")


def _delete(call) -> bool:
    try:
        call()
    except AppwriteException as exc:
        if classify(exc) is Fault.NOT_FOUND:
            return False  # already gone: fine
        raise
    return True


def _declared_rows(state: State, schema):
    from alertwrite.stores.appwrite_rows import AppwriteRows

    return AppwriteRows(state.connection().client(), schema)


def _declared_changes(state: State, schema, result) -> list[str]:
    """Declared policies, schedules and people that apply would copy into their tables."""
    from alertwrite.scheduling import sync

    fresh = any(s.kind in ("database", "table") and s.action == "create" for s in result.steps)
    try:
        found = sync.changes(None if fresh else _declared_rows(state, schema), schema)
    except ValueError as exc:  # a declared policy, schedule or person that does not parse
        raise Failure(f"schemas/escalation.yaml: {exc}") from None
    return [f"would {action} {kind} {row['name']}" for _, kind, row, action in found]


def _sync_declared(state: State, schema) -> list[str]:
    from alertwrite.scheduling import sync

    try:
        return sync.apply(_declared_rows(state, schema), schema) if sync.declared(schema) else []
    except ValueError as exc:
        raise Failure(f"schemas/escalation.yaml: {exc}") from None
