"""`alertwrite stats`: MTTA/MTTR, noisy, flapping and never-acked alerts as tables, or --json."""
from __future__ import annotations

import json
from pathlib import Path

import click

from alertwrite.settings import Settings
from alertwrite.stats.query import stats as compute_stats
from alertwrite.stats.statistics import StatsInputError
from alertwrite.stores import open_rows
from alertwrite.timeutil import utcnow

from .cli import Failure, State, main, pass_state


def rows_settings(state: State, backend: str, db: str) -> Settings:
    if backend == "appwrite":
        c = state.connection()
        return Settings(tokens=(), backend="appwrite", endpoint=c.endpoint, project_id=c.project, api_key=c.key)
    path = Path(db).resolve()
    if not path.exists():
        raise Failure(f"no local store at {path}: start `alertwrite serve --db {db}` first, or pass --db")
    return Settings(tokens=(), backend="sqlite", sqlite_path=str(path))


@main.command()
@click.option("--since", metavar="DURATION", help="window back from --until or now: 30m, 12h, 7d, 2w [default 7d]")
@click.option("--from", "from_", metavar="TIME", help="window start: 2026-11-01 or an RFC 3339 time")
@click.option("--until", metavar="TIME", help="window end (default: now)")
@click.option("--by", metavar="DIMENSION", help="group by alertname|severity|tenant|receiver|instance|label:NAME")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 1000), help="rows in each top list")
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone for dates and day buckets")
@click.option("--bucket", type=click.Choice(["day", "hour"]), help="time-series step (default: hour up to 2 days)")
@click.option("--json", "as_json", is_flag=True, help="machine output: the same document as GET /stats")
@click.option("--db", default="alertwrite.db", show_default=True, help="SQLite file of the embedded store")
@click.option("--backend", type=click.Choice(["sqlite", "appwrite"]), default="sqlite", show_default=True)
@pass_state
def stats(state: State, since, from_, until, by, top, tz, bucket, as_json, db, backend):
    """MTTA and MTTR (mean, median, p90), noisy, flapping and never-acked alerts over a window.

    An episode counts in the window it started in. MTTA = first ack - start; MTTR = resolve - start,
    leaving out janitor resolves (README "Statistics and metrics").
    """
    settings = rows_settings(state, backend, db)
    try:
        with open_rows(settings, state.schema()) as rows:
            report = compute_stats(rows, utcnow(), since=since, from_=from_, until=until, by=by, top=top,
                                   tz=tz, bucket=bucket)
    except StatsInputError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(json.dumps(report, indent=2, sort_keys=True) if as_json else text(report))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def table(headers: list[str], rows: list[list], empty: str = "  (none)") -> str:
    if not rows:
        return empty
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values):
        cells = (v.ljust(w) if i == 0 or not headers[i] else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))
        return ("  " + "  ".join(cells)).rstrip()
    return "\n".join([line(headers)] + [line(r) for r in cells])


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


def text(report: dict) -> str:
    o = report["overall"]
    w = report["window"]
    out = [f"Window {w['since']} .. {w['until']} (episodes that started in it)",
           f"Episodes {o['episodes']} on {o['alerts']} alerts: {o['open']} open, {o['resolved']} resolved "
           f"({o['janitorResolved']} by the janitor, {o['superseded']} superseded), {o['acked']} acked",
           f"Pages {o['pages']} (severity {', '.join(report['definitions']['pageSeverities'])}), "
           f"never acked {o['neverAckedPages']}; silenced {duration(o['silencedSeconds'])} in all", ""]
    out.append(table(["", "mean", "median", "p90", "n"],
                     [[name, duration(o[key]["mean"]), duration(o[key]["median"]), duration(o[key]["p90"]), o[key]["n"]]
                      for name, key in (("MTTA", "mtta"), ("MTTR", "mttr"))]))
    if report["by"]:
        out += ["", f"By {report['by']}"]
        out.append(table([report["by"], "episodes", "acked", "MTTA", "MTTA p90", "MTTR", "MTTR p90", "never-acked"],
                         [[_short(g["key"]), g["episodes"], g["acked"], duration(g["mtta"]["mean"]),
                           duration(g["mtta"]["p90"]), duration(g["mttr"]["mean"]), duration(g["mttr"]["p90"]),
                           g["neverAckedPages"]] for g in report["groups"]]))
    out += ["", "Noisiest alerts"]
    out.append(table(["alertname", "instance", "fingerprint", "episodes", "acked", "MTTR"],
                     [[_short(r["alertname"]), _short(r["instance"], 30), r["fingerprint"], r["episodes"], r["acked"],
                       duration(r["mttrMean"])] for r in report["noisy"]]))
    flap = report["definitions"]["flapping"]
    out += ["", f"Flapping (at least {flap['refires']} re-fires within {duration(flap['windowSeconds'])})"]
    out.append(table(["alertname", "instance", "fingerprint", "re-fires", "episodes", "last"],
                     [[_short(r["alertname"]), _short(r["instance"], 30), r["fingerprint"], r["maxRefiresInWindow"],
                       r["episodes"], r["last"][:16]] for r in report["flapping"]]))
    out += ["", "Pages resolved without an ack"]
    out.append(table(["alertname", "instance", "fingerprint", "never-acked", "pages", "last"],
                     [[_short(r["alertname"]), _short(r["instance"], 30), r["fingerprint"], r["neverAcked"],
                       r["pages"], r["last"][:16]] for r in report["neverAcked"]]))
    series = report["series"]
    peak = max((p["episodes"] for p in series["points"]), default=0) or 1
    out += ["", f"Per {series['bucket']} ({series['tz']})"]
    out.append(table([series["bucket"], "episodes", "acked", "MTTA", "MTTR", ""],
                     [[p["start"][:10] if series["bucket"] == "day" else p["start"][:16], p["episodes"], p["acked"],
                       duration(p["mttaMean"]), duration(p["mttrMean"]),
                       "#" * round(20 * p["episodes"] / peak)] for p in series["points"]]))
    return "\n".join(out)
