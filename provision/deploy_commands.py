"""deploy, subscribe, topics, appwrite-json."""
from __future__ import annotations

import hashlib
import sys

import click
from appwrite.exception import AppwriteException

from alertwrite.errors import Fault, classify

from .appwrite_json import render
from .cli import EXIT_DIFFERENCES, Failure, State, emit, main, pass_state, progress
from .connection import setting
from .deploy import Deployer, DeployError
from .local import WEBHOOK_FUNCTION
from .receiver import receiver_block
from .services import Services
from .site_deploy import SiteDeployError, deploy_site


@main.command()
@click.option("--yes", is_flag=True, help="non-interactive (nothing here asks; accepted for scripts)")
@click.option("--timeout", default=600, show_default=True, help="seconds to wait for each build")
@click.option("--poll", default=2.0, hidden=True, help="seconds between build status polls")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def deploy(state: State, yes, timeout, poll, as_json):
    """Create or update the functions, set their variables from .env, upload and build."""
    schema = state.schema()
    services = Services(state.connection())
    root = state.project.root
    deployer = Deployer(services.functions, services.proxy, state.project, schema,
                        lambda name: setting(name, root), progress, timeout=timeout, poll=poll)
    results = []
    try:
        deployer.check_variables()
        for fn in schema.functions:
            results.append(deployer.deploy(fn, root / "build" / "functions"))
        site_changes, console_url = deploy_site(state.connection(), root, schema.database_id, progress,
                                                setting("ALERTWRITE_CONSOLE_ENDPOINT", root), timeout, poll)
    except (DeployError, SiteDeployError) as exc:
        raise Failure(str(exc)) from None
    webhook = next((r for r in results if r.function_id == WEBHOOK_FUNCTION), None)
    url = (webhook.url if webhook and webhook.url else
           "https://<function domain: Console > Functions > alert-processor > Domains>/")
    changes = [c for r in results for c in r.changes] + site_changes
    if as_json:
        emit({"changes": changes, "functions": {r.function_id: r.url for r in results}, "console": console_url}, True, "")
        return
    click.echo("\n".join(changes) if changes else "Functions up to date")
    if console_url:
        click.echo(f"\nConsole: {console_url}")
    click.echo(f"\nWebhook URL: {url}\n")
    click.echo("Paste into alertmanager.yml, and write the token from ALERTWRITE_WEBHOOK_TOKENS\n"
               "(.env) into the credentials_file on the Alertmanager host:\n")
    click.echo(receiver_block(url))


@main.command()
@click.argument("topic")
@click.option("--user", "user_id", required=True, help="Appwrite user ID")
@click.option("--medium", type=click.Choice(["email", "sms", "push"]), multiple=True,
              help="which of the user's targets (default: all of them)")
@pass_state
def subscribe(state: State, topic, user_id, medium):
    """Subscribe a user's email, phone or push target to TOPIC."""
    services = Services(state.connection())
    try:
        targets = services.users.list_targets(user_id).targets
    except AppwriteException as exc:
        if classify(exc) is Fault.NOT_FOUND:
            raise Failure(f"no user {user_id!r} in this project") from None
        raise
    chosen = [t for t in targets if not medium or _medium(t) in medium]
    if not chosen:
        raise Failure(f"user {user_id!r} has no {'/'.join(medium) or ''} target; add an email, phone or push "
                      "target to the user first")
    for target in chosen:
        sub_id = hashlib.sha256(f"{topic}:{target.id}".encode()).hexdigest()[:36]
        try:
            services.messaging.create_subscriber(topic, sub_id, target.id)
            click.echo(f"subscribed {user_id} ({_medium(target)} {target.identifier}) to {topic}")
        except AppwriteException as exc:
            if classify(exc) is Fault.CONFLICT:
                click.echo(f"{user_id} ({_medium(target)}) already subscribed to {topic}")
            elif classify(exc) is Fault.NOT_FOUND:
                raise Failure(f"no topic {topic!r}: run `alertwrite apply` first") from None
            else:
                raise


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def topics(state: State, as_json):
    """List topics with subscribers per medium; flag routes nobody would receive."""
    schema = state.schema()
    services = Services(state.connection())
    from .live import fetch_topics
    live = fetch_topics(services.messaging)
    capped = topic_target_cap(server_version(state.connection().endpoint))
    from alertwrite.channels.model import declared_channels
    routed = {(c.topic, m) for c in declared_channels(schema.section("channels")) if c.type == "topic" for m in c.media}
    rows, silent = [], []
    for topic_id in sorted(set(live) | {t.id for t in schema.topics}):
        totals = live[topic_id].totals if topic_id in live else None
        for medium in ("email", "sms", "push"):
            if (topic_id, medium) in routed and (totals is None or totals[medium] == 0):
                silent.append(f"{topic_id}/{medium}")
        rows.append((topic_id, *(str(totals[m]) if totals else "-" for m in ("email", "sms", "push")),
                     "" if totals else "missing (run apply)"))
    if as_json:
        emit({"topics": {r[0]: dict(zip(("email", "sms", "push"), map(_int, r[1:4]))) for r in rows},
              "unreachable_routes": silent}, True, "")
    else:
        click.echo(f"{'TOPIC':24} {'EMAIL':>6} {'SMS':>6} {'PUSH':>6}")
        for row in rows:
            click.echo(f"{row[0]:24} {row[1]:>6} {row[2]:>6} {row[3]:>6}  {row[4]}".rstrip())
        for topic_id, topic in sorted(live.items()):
            targets = sum(topic.totals.values())
            if capped and targets > capped:
                click.echo(f"warning: topic {topic_id} has {targets} targets, but this Appwrite server delivers "
                           f"a topic message to only its first {capped} (fixed in 1.9.5: upgrade, or split the topic)")
        for route in silent:
            click.echo(f"warning: routing sends {route} but nobody would receive it "
                       f"(alertwrite subscribe {route.split('/')[0]} --user ID --medium {route.split('/')[1]})")
    if silent:
        sys.exit(EXIT_DIFFERENCES)


def server_version(endpoint: str) -> str:
    """GET /health/version answers 200 only without a key (an API key lacks the `public` scope:
    capture health-version-with-headers), so it is asked anonymously."""
    import requests
    try:
        answer = requests.get(endpoint.rstrip("/") + "/health/version", timeout=10)
        return str(answer.json().get("version", "")) if answer.ok else ""
    except (requests.RequestException, ValueError, AttributeError):
        return ""


def topic_target_cap(version: str) -> int:
    """1.9.0 delivers a topic message to the first 25 targets only (find()'s default limit in
    app/init/database/filters.php subQueryTopicTargets; verified in capture
    5-messaging-topic-target-cap); 1.9.5 pages subscribers (Workers/Messaging.php). 0: no cap.
    An unknown version is taken as capped, since a silent cap loses pages."""
    try:
        parts = tuple(int(p) for p in version.split("-")[0].split(".")[:3])
    except ValueError:
        return 25
    return 25 if parts < (1, 9, 5) else 0


@main.command("appwrite-json")
@click.option("--check", is_flag=True, help="exit 1 if appwrite.json differs from schemas/")
@pass_state
def appwrite_json(state: State, check):
    """Write appwrite.json (for the official Appwrite CLI) from schemas/."""
    path = state.project.root / "appwrite.json"
    wanted = render(state.schema())
    if check:
        if not path.exists() or path.read_text() != wanted:
            click.echo("appwrite.json differs from schemas/: run `alertwrite appwrite-json`", err=True)
            sys.exit(EXIT_DIFFERENCES)
        click.echo("appwrite.json matches schemas/")
        return
    path.write_text(wanted)
    click.echo(f"wrote {path}")


def _medium(target) -> str:
    value = target.providertype
    return value.value if hasattr(value, "value") else str(value)


def _int(value: str):
    return int(value) if value.isdigit() else None
