"""`alertwrite oncall ...` and `alertwrite heartbeats`: thin over alertwrite.scheduling.service."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click
import yaml

from alertwrite.scheduling import service
from alertwrite.scheduling.oncall import ScheduleError
from alertwrite.timeutil import parse_rfc3339, utcnow

from .alert_commands import Context, store_options
from .cli import EXIT_DIFFERENCES, Failure, emit, main, pass_state


@contextmanager
def _rows(ctx: Context):
    with ctx.rows() as rows:
        try:
            yield rows
        except service.NotFound as exc:
            raise Failure(str(exc)) from None
        except ScheduleError as exc:
            raise click.BadParameter(str(exc)) from None


def _now(at: str | None):
    if not at:
        return utcnow()
    try:
        return parse_rfc3339(at)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


at_option = click.option("--at", metavar="ISO", help="as of this instant (default: now)")
json_option = click.option("--json", "as_json", is_flag=True, help="print JSON")


@main.group()
def oncall():
    """Who is on call, schedules, overrides, coverage, policies."""


@oncall.command("now")
@click.argument("schedule", required=False)
@at_option
@json_option
@store_options
@pass_state
def now_cmd(state, schedule, at, as_json, db, backend, actor):
    """Who is on call now (in SCHEDULE, or in every schedule), and the next hand-offs."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        answer = service.now_answer(rows, ctx.schema, _now(at), schedule)
    lines = []
    for s in answer:
        lines.append(f"{s['name']}: {', '.join(s['now']) or 'NOBODY'}")
        lines += [f"  {n['start']} .. {n['end']}  {n['user']}" for n in s["next"]]
    emit({"schedules": answer}, as_json, "\n".join(lines) or "no schedules declared")


@oncall.command("show")
@click.argument("schedule")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366))
@at_option
@json_option
@store_options
@pass_state
def show_cmd(state, schedule, days, at, as_json, db, backend, actor):
    """The final schedule (overrides applied) for the next DAYS."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        answer = service.show(rows, ctx.schema, schedule, _now(at), days)
    lines = [f"{schedule} ({answer['timezone']}), {answer['from']} .. {answer['until']}"]
    lines += [f"  {x['start']} .. {x['end']}  {x['user']}" + ("  (override)" if x["source"] == "override" else "")
              for x in answer["shifts"]]
    lines += [f"  {g['start']} .. {g['end']}  GAP: nobody on call" for g in answer["gaps"]]
    emit(answer, as_json, "\n".join(lines))


@oncall.command("override")
@click.argument("schedule")
@click.option("--user", required=True, help="who covers (Appwrite user ID)")
@click.option("--from", "start", required=True, metavar="ISO", help="start; without an offset, the schedule's zone")
@click.option("--until", "end", required=True, metavar="ISO")
@json_option
@store_options
@pass_state
def override_cmd(state, schedule, user, start, end, as_json, db, backend, actor):
    """USER covers SCHEDULE from --from until --until (wins over every layer)."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        answer = service.add_override(rows, ctx.schema, schedule, user, start, end, ctx.actor.name, utcnow())
    emit(answer, as_json, f"override {answer['id']}: {user} covers {schedule} {answer['start']} .. {answer['end']}")


@oncall.command("ical")
@click.argument("schedule")
@click.option("--days", default=56, show_default=True, type=click.IntRange(1, 366))
@store_options
@pass_state
def ical_cmd(state, schedule, days, db, backend, actor):
    """The schedule's final shifts as an iCalendar (.ics) file on stdout."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        sys.stdout.write(service.export_ical(rows, ctx.schema, schedule, utcnow(), days))


@oncall.command("check")
@click.option("--weeks", default=4, show_default=True, type=click.IntRange(1, 52))
@at_option
@json_option
@store_options
@pass_state
def check_cmd(state, weeks, at, as_json, db, backend, actor):
    """Gaps in the next WEEKS and users without a verified target for a medium a policy uses.
    Exit code 1 when there is a problem."""
    ctx = Context(state, db, backend, actor)
    targets_of = None
    if backend == "appwrite":
        from alertwrite.stores.appwrite import make_client

        s = ctx.store
        targets_of = service.appwrite_targets(make_client(s.endpoint, s.project_id, s.api_key, s.http_timeout))
    with _rows(ctx) as rows:
        answer = service.check(rows, ctx.schema, _now(at), targets_of, weeks)
    lines = [p["detail"] for p in answer["problems"]]
    if not answer["targetsChecked"]:
        lines.append("(targets not checked: the local store has no Appwrite users; use --backend appwrite)")
    emit(answer, as_json, "\n".join(lines) if answer["problems"] else "\n".join(["coverage ok"] + lines))
    if answer["problems"]:
        sys.exit(EXIT_DIFFERENCES)


def _spec(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise click.BadParameter(str(exc), param_hint="--file") from None
    if not isinstance(doc, dict):
        raise click.BadParameter("expected a mapping", param_hint="--file")
    return doc


@oncall.command("set-schedule")
@click.argument("name")
@click.option("--file", "path", required=True, help="YAML or JSON: the mapping under schedules.NAME")
@store_options
@pass_state
def set_schedule(state, name, path, db, backend, actor):
    """Create or replace schedule NAME at runtime (no redeploy)."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        service.put_schedule(rows, name, _spec(path))
    click.echo(f"schedule {name} saved")


@oncall.command("set-policy")
@click.argument("name")
@click.option("--file", "path", required=True, help="YAML or JSON: the mapping under policies.NAME")
@click.option("--position", default=0, show_default=True, help="policies are tried in this order")
@store_options
@pass_state
def set_policy(state, name, path, position, db, backend, actor):
    """Create or replace escalation policy NAME at runtime; pages in flight keep their copy."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        service.put_policy(rows, name, _spec(path), position)
    click.echo(f"policy {name} saved")


@oncall.command("policies")
@json_option
@store_options
@pass_state
def policies_cmd(state, as_json, db, backend, actor):
    """The escalation policies in the order they are tried."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        answer = service.policies_answer(rows, ctx.schema)
    lines = []
    for p in answer:
        lines.append(f"{p['name']}: match {p['match'] or 'everything'} {p['match_re'] or ''}".rstrip())
        lines += [f"  +{s['after_minutes']:g}m  {', '.join(s['notify'])}  [{', '.join(s['media'])}]"
                  f"  on_empty={s['on_empty']}" for s in p["steps"]]
    emit({"policies": answer}, as_json, "\n".join(lines) or "no policies")


@main.command("heartbeats")
@at_option
@json_option
@store_options
@pass_state
def heartbeats_cmd(state, at, as_json, db, backend, actor):
    """The dead-man switches and their state (waiting = not armed yet)."""
    ctx = Context(state, db, backend, actor)
    with _rows(ctx) as rows:
        answer = service.heartbeats_answer(rows, ctx.schema, _now(at))
    lines = [f"{h['name']}: {h['state']}  last ping {h['lastPingAt'] or '-'}  deadline {h['deadline'] or '-'}"
             for h in answer]
    emit({"heartbeats": answer}, as_json, "\n".join(lines) or "no heartbeats declared")
