"""Settings of the operator workflows, read from the function's variables once per execution."""
from __future__ import annotations

from dataclasses import dataclass

from ..api_tokens import ApiToken, parse_api_tokens

DEFAULT_LINK_TTL_MINUTES = 60 * 24  # a page at 3 a.m. is still actionable after breakfast
DEFAULT_ONCALL_TEAM = "oncall"
DEFAULT_ADMIN_TEAM = "alertwrite-admins"


class BadOpsSetting(ValueError):
    pass


@dataclass(frozen=True)
class OpsConfig:
    api_tokens: tuple[ApiToken, ...] = ()
    oncall_team: str = DEFAULT_ONCALL_TEAM
    admin_team: str = DEFAULT_ADMIN_TEAM
    link_secret: str = ""
    public_url: str = ""  # where alert-api answers, e.g. https://<function domain>/ ; links need it
    link_ttl_minutes: float = DEFAULT_LINK_TTL_MINUTES
    alertmanager_url: str = ""  # overrides the externalURL of deliveries
    alertmanager_sync: bool = True
    alertmanager_user: str = ""
    alertmanager_password: str = ""
    alertmanager_token: str = ""

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return (f"OpsConfig(tokens=<{len(self.api_tokens)}>, oncall_team={self.oncall_team!r}, "
                f"admin_team={self.admin_team!r}, public_url={self.public_url!r}, "
                f"alertmanager_url={self.alertmanager_url!r})")


def load_ops_config(env: dict[str, str]) -> OpsConfig:
    try:
        ttl = float(env.get("ALERTWRITE_LINK_TTL_MINUTES") or DEFAULT_LINK_TTL_MINUTES)
    except ValueError:
        raise BadOpsSetting("ALERTWRITE_LINK_TTL_MINUTES must be a number of minutes") from None
    return OpsConfig(
        api_tokens=parse_api_tokens(env.get("ALERTWRITE_API_TOKENS", "")),
        oncall_team=env.get("ALERTWRITE_ONCALL_TEAM") or DEFAULT_ONCALL_TEAM,
        admin_team=env.get("ALERTWRITE_ADMIN_TEAM") or DEFAULT_ADMIN_TEAM,
        link_secret=env.get("ALERTWRITE_LINK_SECRET", ""),
        public_url=env.get("ALERTWRITE_PUBLIC_URL", ""),
        link_ttl_minutes=ttl,
        alertmanager_url=(env.get("ALERTWRITE_ALERTMANAGER_URL") or "").rstrip("/"),
        alertmanager_sync=(env.get("ALERTWRITE_ALERTMANAGER_SYNC", "true").lower() not in ("0", "false", "no", "off")),
        alertmanager_user=env.get("ALERTWRITE_ALERTMANAGER_USER", ""),
        alertmanager_password=env.get("ALERTWRITE_ALERTMANAGER_PASSWORD", ""),
        alertmanager_token=env.get("ALERTWRITE_ALERTMANAGER_TOKEN", ""),
    )
