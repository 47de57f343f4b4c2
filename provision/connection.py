"""Which Appwrite project to talk to: options beat the environment, which beats `.env`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

SETTINGS = (("endpoint", "APPWRITE_ENDPOINT", "--endpoint"), ("project", "APPWRITE_PROJECT_ID", "--project"),
            ("key", "APPWRITE_API_KEY", "--key"))


class MissingConnection(Exception):
    pass


@dataclass(frozen=True)
class Connection:
    endpoint: str
    project: str
    key: str

    def __repr__(self) -> str:  # the key never shows, not even in a traceback
        return f"Connection(endpoint={self.endpoint!r}, project={self.project!r}, key=<hidden>)"

    def client(self, timeout: float = 30.0):
        from alertwrite.stores.appwrite import make_client

        return make_client(self.endpoint, self.project, self.key, timeout)


def read_env_file(root: Path) -> dict[str, str]:
    path = root / ".env"
    if not path.exists():
        return {}
    try:
        values = dotenv_values(path)
    except UnicodeDecodeError as exc:
        raise MissingConnection(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return {k: v for k, v in values.items() if v is not None}


def setting(name: str, root: Path) -> str:
    """An environment variable, else its value in `.env`."""
    return os.environ.get(name) or read_env_file(root).get(name, "")


def resolve(options: dict[str, str | None], root: Path) -> Connection:
    env_file = read_env_file(root)
    values, missing = {}, []
    for field, env_name, flag in SETTINGS:
        value = options.get(field) or os.environ.get(env_name) or env_file.get(env_name) or ""
        values[field] = value.strip()
        if not values[field]:
            missing.append(f"{flag} / {env_name}")
    if missing:
        raise MissingConnection("missing Appwrite settings: " + ", ".join(missing)
                                + " (pass the option, export the variable, or put it in .env)")
    endpoint = values["endpoint"].rstrip("/")
    if not endpoint.startswith(("http://", "https://")):
        raise MissingConnection(f"--endpoint must start with http:// or https:// (got {endpoint[:60]!r})")
    if not endpoint.endswith("/v1"):
        endpoint += "/v1"
    return Connection(endpoint, values["project"], values["key"])
