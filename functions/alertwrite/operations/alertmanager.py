"""Silences mirrored into Alertmanager (API v2), so it stops sending what we silenced.

POST {base}/api/v2/silences {matchers, startsAt, endsAt, createdBy, comment} -> {"silenceID"};
DELETE {base}/api/v2/silence/{id} expires it. An update that is not in place (other matchers, or
a started silence whose start moves) makes Alertmanager expire the old silence and answer a NEW
ID (alertmanager silence/silence.go canUpdate), so the ID in its answer is always the one kept.
A failure never blocks our own silence: the error is stored on the silence row and logged.
"""
from __future__ import annotations

from dataclasses import dataclass

import requests

from ..timeutil import format_ms
from .config import OpsConfig

TIMEOUT = 5.0


class AlertmanagerError(Exception):
    pass


@dataclass(frozen=True)
class Alertmanager:
    base: str
    auth: tuple[str, str] | None = None
    token: str = ""

    @classmethod
    def from_config(cls, ops: OpsConfig) -> "Alertmanager | None":
        if not ops.alertmanager_sync or not ops.alertmanager_url.startswith(("http://", "https://")):
            return None
        auth = (ops.alertmanager_user, ops.alertmanager_password) if ops.alertmanager_user else None
        return cls(ops.alertmanager_url.rstrip("/"), auth, ops.alertmanager_token)

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def create(self, matchers: list[dict], starts_at, ends_at, created_by: str, comment: str,
               silence_id: str = "") -> str:
        body = {"matchers": [{"name": m["name"], "value": m["value"], "isRegex": bool(m.get("isRegex")),
                              "isEqual": m.get("isEqual", True)} for m in matchers],
                "startsAt": format_ms(starts_at), "endsAt": format_ms(ends_at),
                "createdBy": created_by or "alertwrite", "comment": comment or "silenced from Alertwrite"}
        if silence_id:
            body["id"] = silence_id
        try:
            answer = requests.post(f"{self.base}/api/v2/silences", json=body, auth=self.auth,
                                   headers=self._headers(), timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise AlertmanagerError(f"cannot reach Alertmanager at {self.base}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise AlertmanagerError(f"Alertmanager answered {answer.status_code}: {answer.text[:200]}")
        try:
            return str(answer.json()["silenceID"])
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError("Alertmanager answered without a silenceID") from None

    def expire(self, silence_id: str) -> None:
        try:
            answer = requests.delete(f"{self.base}/api/v2/silence/{silence_id}", auth=self.auth,
                                     headers=self._headers(), timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise AlertmanagerError(f"cannot reach Alertmanager at {self.base}: {type(exc).__name__}") from None
        # An already expired silence answers 200 again; one Alertmanager forgot (retention) 404s.
        if answer.status_code not in (200, 404):
            raise AlertmanagerError(f"Alertmanager answered {answer.status_code}: {answer.text[:200]}")
