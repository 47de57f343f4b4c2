"""`alertwrite`: thin Click commands over the provisioning library.

Exit codes: 0 success (or nothing to change); 1 differences found (`plan --check`, `verify`);
2 usage error; 3 the command failed (bad schema, unreachable endpoint, refused key, ...).
Plans and results go to stdout, progress to stderr.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from alertwrite.errors import AppwriteException, Fault, classify, describe, scope_line
from alertwrite.stores.transport import take_new_warnings

from .connection import Connection, MissingConnection, resolve
from .project import Project, SchemaFileError, find_project

EXIT_DIFFERENCES, EXIT_FAILED = 1, 3


class Failure(click.ClickException):
    exit_code = EXIT_FAILED


class State:
    def __init__(self, options: dict, root: str | None):
        self._options = options
        self._root = root
        self._project: Project | None = None

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project(Path(self._root).resolve()) if self._root else find_project()
        return self._project

    def schema(self):
        return self.project.load_schema()

    def connection(self) -> Connection:
        return resolve(self._options, self.project.root)


pass_state = click.make_pass_decorator(State)


def explain(exc: BaseException, endpoint: str = "") -> str:
    """One line that says what went wrong and what to do; never the key."""
    if isinstance(exc, (SchemaFileError, MissingConnection)):
        return str(exc)
    if isinstance(exc, AppwriteException):
        fault, message = classify(exc), str(exc.message)
        if fault is Fault.AUTH:
            if "role: guests" in message:
                return "Appwrite refused the API key: check --key / APPWRITE_API_KEY and --project"
            return scope_line(exc) or f"the API key lacks a scope: {message[:200]} (add it to the key in the Appwrite console)"
        if fault is Fault.TRANSIENT and not exc.code:
            return f"cannot reach Appwrite at {endpoint or 'the endpoint'}: check --endpoint / APPWRITE_ENDPOINT"
        if exc.type == "project_not_found":
            return "no such project: check --project / APPWRITE_PROJECT_ID"
        return describe(exc)
    return describe(exc)


class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (SchemaFileError, MissingConnection, AppwriteException) as exc:
            endpoint = ""
            try:
                endpoint = ctx.obj.connection().endpoint if ctx.obj else ""
            except Exception:
                pass
            raise Failure(explain(exc, endpoint)) from None
        finally:
            # The transport keeps the SDK from printing a server warning on every call
            # (a 1.8 server warns about SDK 22's 1.9.5 format); say each one once.
            for warning in take_new_warnings():
                progress(f"Appwrite warning: {warning}")


def progress(message: str) -> None:
    click.echo(message, err=True)


def emit(data, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--endpoint", metavar="URL", help="Appwrite API endpoint, e.g. https://appwrite.example.com/v1 [APPWRITE_ENDPOINT]")
@click.option("--project", metavar="ID", help="Appwrite project ID [APPWRITE_PROJECT_ID]")
@click.option("--key", metavar="KEY", help="Appwrite API key; never printed [APPWRITE_API_KEY]")
@click.option("--root", metavar="DIR", help="Alertwrite checkout (default: found from the current folder)")
@click.version_option(package_name="alertwrite")
@click.pass_context
def main(ctx: click.Context, endpoint, project, key, root):
    """Alertwrite: Alertmanager webhooks into Appwrite tables and Messaging.

    Settings come from options, then the environment, then a .env file.
    Exit codes: 0 ok, 1 differences found, 2 usage error, 3 failed.
    """
    ctx.obj = State({"endpoint": endpoint, "project": project, "key": key}, root)


from . import commands, deploy_commands, schema_commands  # noqa: E402,F401  (register the commands)
from . import alert_commands  # noqa: E402,F401  (alerts, silences, audit)
from . import oncall_commands  # noqa: E402,F401  (oncall, heartbeats)
from . import channel_commands  # noqa: E402,F401
from . import stats_commands  # noqa: E402,F401  (alertwrite stats)
