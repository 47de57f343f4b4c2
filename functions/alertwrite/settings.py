"""Function settings, read once per execution (never at import: warm containers persist)."""
from __future__ import annotations

from dataclasses import dataclass

from .auth import parse_tokens
from .webhook import DEFAULT_MAX_BODY_BYTES

BACKENDS = ("appwrite", "sqlite")
DEFAULT_HTTP_TIMEOUT = 8.0  # Alertmanager waits max(group_interval, 10 s) per flush


class MissingSettings(Exception):
    def __init__(self, names: list[str]):
        super().__init__("missing settings: " + ", ".join(names))
        self.names = names


@dataclass(frozen=True)
class Settings:
    tokens: tuple[str, ...]
    backend: str
    endpoint: str = ""
    project_id: str = ""
    api_key: str = ""
    sqlite_path: str = ""
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"Settings(backend={self.backend!r}, tokens=<{len(self.tokens)}>, endpoint={self.endpoint!r})"


def load_settings(env: dict[str, str], headers: dict[str, str], need_tokens: bool = True) -> Settings:
    """Names every missing setting at once; never includes a value."""
    missing: list[str] = []
    tokens = parse_tokens(env.get("ALERTWRITE_WEBHOOK_TOKENS", ""))
    if need_tokens and not tokens:
        missing.append("ALERTWRITE_WEBHOOK_TOKENS")
    backend = env.get("ALERTWRITE_BACKEND", "appwrite") or "appwrite"
    if backend not in BACKENDS:
        missing.append(f"ALERTWRITE_BACKEND (one of {', '.join(BACKENDS)})")
    key = headers.get("x-appwrite-key", "")
    if backend == "appwrite":
        for name in ("APPWRITE_FUNCTION_API_ENDPOINT", "APPWRITE_FUNCTION_PROJECT_ID"):
            if not env.get(name):
                missing.append(name)
        if not key:
            missing.append("x-appwrite-key header")
    if backend == "sqlite" and not env.get("ALERTWRITE_SQLITE_PATH"):
        missing.append("ALERTWRITE_SQLITE_PATH")
    timeout = _number(env, "ALERTWRITE_HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT, missing)
    max_body = int(_number(env, "ALERTWRITE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, missing))
    if missing:
        raise MissingSettings(missing)
    return Settings(tokens=tokens, backend=backend, endpoint=env.get("APPWRITE_FUNCTION_API_ENDPOINT", ""),
                    project_id=env.get("APPWRITE_FUNCTION_PROJECT_ID", ""), api_key=key,
                    sqlite_path=env.get("ALERTWRITE_SQLITE_PATH", ""), http_timeout=timeout,
                    max_body_bytes=max_body)


def _number(env: dict[str, str], name: str, default: float, missing: list[str]) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        missing.append(f"{name} (a positive number)")
    return value
