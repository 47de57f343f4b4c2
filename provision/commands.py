"""The command definitions; each is a few lines over the library."""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from alertwrite.auth import parse_tokens
from alertwrite.timeutil import parse_rfc3339

from .bundle import build_bundle
from .cli import Failure, State, main, pass_state, progress
from .connection import setting
from .http_server import listen
from .local import CONSOLE_DIR, Backend, Functions, LocalServer, StartupError, banner, start_workers, stop_workers
from .receiver import new_token, receiver_block
from .send_test import post, test_delivery


def _backend(state: State, kind: str, db: str) -> Backend:
    if kind == "appwrite":
        return Backend("appwrite", connection=state.connection())
    return Backend("sqlite", db_path=Path(db).resolve())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--db", default="alertwrite.db", show_default=True, help="SQLite file of the embedded store")
@click.option("--backend", type=click.Choice(["sqlite", "appwrite"]), default="sqlite", show_default=True,
              help="appwrite: use the project from --endpoint/--project/--key instead of SQLite")
@click.option("--request-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, 600),
              help="seconds a request may take to arrive whole before its connection is closed")
@click.option("--threads", default=128, show_default=True, type=click.IntRange(1, 512),
              help="function executions in flight at once, per worker")
@click.option("--workers", default=min(2, os.cpu_count() or 1), show_default=True, type=click.IntRange(1, 64),
              help="processes serving the port (SQLite commits stay serialised and batched)")
@pass_state
def serve(state: State, host, port, db, backend, request_timeout, threads, workers):
    """Run the bundle's functions locally, as Appwrite's runtime runs them.

    Any POST reaches alert-processor; other functions answer under /functions/<id>/.
    Scheduled functions run on their schedule (every-minute ones also every 5 s in
    between), row events reach the functions that subscribe to them, the console is at
    /console/, /metrics is alert-api's and row changes stream at /stream. With no
    ALERTWRITE_WEBHOOK_TOKENS or ALERTWRITE_API_TOKENS set, a token for each is generated
    for this run and shown once.
    """
    tokens = parse_tokens(setting("ALERTWRITE_WEBHOOK_TOKENS", state.project.root))
    generated = None
    if not tokens:
        generated = new_token()
        tokens = (generated,)
    local_api = _local_api_settings(state, host, port)
    chosen = _backend(state, backend, db)
    schema = state.schema()
    progress("building function bundles...")
    try:
        chosen.check(schema, create=True)
        functions = Functions(state.project, schema, chosen, tokens)
    except StartupError as exc:
        raise Failure(str(exc)) from None
    console = state.project.root / CONSOLE_DIR
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise Failure(f"cannot listen on {host}:{port}: {exc.strerror} (choose another --port)") from None

    def make(primary: bool) -> LocalServer:
        return LocalServer(functions, host, port, request_timeout=request_timeout, threads=threads,
                           console_dir=console if console.is_dir() else None, sock=sock, primary=primary)
    children = start_workers(workers, lambda: make(False).serve_forever())
    server = make(True)
    dispatcher = _appwrite_dispatcher(chosen, schema)  # channels: no row events without the SQLite change feed
    click.echo(banner(server, chosen, generated, receiver_block))
    if local_api:
        click.echo("No ALERTWRITE_API_TOKENS set, so the console and alert-api take this generated admin token "
                   "(shown once):\n  " + local_api)
    # Explicit handlers: a process started in the background by a script has SIGINT ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if dispatcher:
            dispatcher.stop()
        server.stop()
        stop_workers(children)
        click.echo("stopped", err=True)


def _local_api_settings(state: State, host: str, port: int) -> str | None:
    """What alert-api needs to be usable from a fresh clone: an API token for the console and
    a key and address for the one-tap links in messages. Each one missing from the environment
    and .env is generated for this run; returns the generated admin token to show once."""
    import os
    import secrets

    shown = None
    for name in ("ALERTWRITE_API_TOKENS", "ALERTWRITE_LINK_SECRET", "ALERTWRITE_PUBLIC_URL"):
        value = setting(name, state.project.root)
        if value:  # from .env too: the functions read the process environment
            os.environ[name] = value
    if not os.environ.get("ALERTWRITE_API_TOKENS"):
        shown = "aw_api_" + secrets.token_urlsafe(24)
        os.environ["ALERTWRITE_API_TOKENS"] = f"local:admin:{shown}"
    os.environ.setdefault("ALERTWRITE_LINK_SECRET", secrets.token_urlsafe(32))  # links of this run only
    os.environ.setdefault("ALERTWRITE_PUBLIC_URL", f"http://{host}:{port}/functions/alert-api")
    return shown


def _stop(signum, frame):
    raise KeyboardInterrupt


@main.command()
@click.argument("function_id")
@click.option("--db", default="alertwrite.db", show_default=True, help="SQLite file of the store (must exist)")
@click.option("--backend", type=click.Choice(["sqlite", "appwrite"]), default="sqlite", show_default=True)
@click.option("--at", "at", metavar="ISO", help="Run as if it were this instant (local SQLite store only), "
                                                  "e.g. 2026-12-01T10:06:00Z")
@pass_state
def run(state: State, function_id, db, backend, at):
    """Run a scheduled function once, with the context a cron execution gets."""
    if at:
        if backend != "sqlite":
            raise click.UsageError("--at works on the local SQLite store only; Appwrite runs at the real time")
        try:
            parse_rfc3339(at)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--at") from None
        os.environ["ALERTWRITE_SCHEDULER_AT"] = at
    else:
        os.environ.pop("ALERTWRITE_SCHEDULER_AT", None)
    schema = state.schema()
    if function_id not in {f.id for f in schema.functions}:
        raise Failure(f"no function {function_id!r}; known: {', '.join(f.id for f in schema.functions)}")
    tokens = parse_tokens(setting("ALERTWRITE_WEBHOOK_TOKENS", state.project.root)) or (new_token(),)
    chosen = _backend(state, backend, db)
    try:
        chosen.check(schema, create=False)
        functions = Functions(state.project, schema, chosen, tokens)
    except StartupError as exc:
        raise Failure(str(exc)) from None
    try:
        result = functions.run_scheduled(function_id, lambda kind, line: progress(line))
    finally:
        os.environ.pop("ALERTWRITE_SCHEDULER_AT", None)
    click.echo(result.body.decode("utf-8", "replace") or f"(status {result.status})")
    if result.status >= 400:
        sys.exit(3)


@main.command("send-test")
@click.argument("url")
@click.option("--token", help="Bearer token (default: the first of ALERTWRITE_WEBHOOK_TOKENS)")
@click.option("--resolve", is_flag=True, help="send the resolve of the test alert")
@click.option("--severity", default="critical", show_default=True)
@pass_state
def send_test(state: State, url, token, resolve, severity):
    """POST a realistic Alertmanager delivery to URL and print the answer."""
    token = token or next(iter(parse_tokens(setting("ALERTWRITE_WEBHOOK_TOKENS", state.project.root))), "")
    if not token:
        raise Failure("no token: pass --token or set ALERTWRITE_WEBHOOK_TOKENS")
    import httpx
    try:
        answer = post(url, token, test_delivery("resolved" if resolve else "firing", severity))
    except httpx.HTTPError as exc:
        raise Failure(f"cannot reach {url}: {exc}") from None
    click.echo(f"{answer.status_code} {answer.text.strip()}")
    if answer.status_code >= 300:
        sys.exit(3)


@main.command()
@click.option("--url", default="https://<your-function-domain>/", show_default=True, help="webhook URL for the block")
def token(url):
    """Generate a webhook token and print the Alertmanager receiver block using it."""
    value = new_token()
    click.echo(f"# Add to .env (comma-separate to rotate without downtime):\nALERTWRITE_WEBHOOK_TOKENS={value}\n")
    click.echo(receiver_block(url, value))


@main.command()
@click.option("--out", default="build/functions", show_default=True, help="where to write the bundles")
@pass_state
def bundle(state: State, out):
    """Build each function's code bundle (what deploy uploads; appwrite.json points here)."""
    schema = state.schema()
    for fn in schema.functions:
        path = build_bundle(state.project, fn.id, state.project.root / out, schema)
        click.echo(str(path))


def _appwrite_dispatcher(chosen: Backend, schema):
    """With --backend appwrite, serve has no row events: the alert-dispatcher's work runs as a
    thread, woken by each commit in this process and polling every second for the rest."""
    if chosen.kind != "appwrite":
        return None
    import os

    from alertwrite.channels.worker import Worker
    from alertwrite.settings import Settings
    c = chosen.connection
    settings = Settings((), "appwrite", endpoint=c.endpoint, project_id=c.project, api_key=c.key)
    return Worker(settings, schema, env=dict(os.environ)).start()
