"""The Alertmanager receiver block users paste into alertmanager.yml."""
from __future__ import annotations

import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return "aw_" + secrets.token_urlsafe(TOKEN_BYTES)


def receiver_block(url: str, token: str | None = None, token_file: str = "/etc/alertmanager/alertwrite.token") -> str:
    """A complete alertmanager.yml (it passes `amtool check-config` as printed). With `token`,
    the credentials inline; without, a credentials_file so no secret is printed."""
    credentials = f"credentials: '{token}'" if token else f"credentials_file: {token_file}"
    return (
        "route:\n"
        "  receiver: alertwrite\n"
        "  group_by: [alertname]\n"
        "  # Alertmanager's defaults, said out loud: the first message of a group after\n"
        "  # group_wait, a change (a resolve too) at the next group_interval.\n"
        "  group_wait: 30s\n"
        "  group_interval: 5m\n"
        "  repeat_interval: 4h\n"
        "receivers:\n"
        "  - name: alertwrite\n"
        "    webhook_configs:\n"
        f"      - url: '{url}'\n"
        "        send_resolved: true\n"
        "        # keep every alert: a resolve cut by max_alerts is never delivered\n"
        "        max_alerts: 0\n"
        "        http_config:\n"
        "          authorization:\n"
        "            type: Bearer\n"
        f"            {credentials}\n"
    )
