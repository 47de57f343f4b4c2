"""Signed one-tap action links (ack, resolve, silence 1h) for every message.

A link is `{ALERTWRITE_PUBLIC_URL}/links/{token}`, token = base64url(payload) "." base64url(HMAC-
SHA256(ALERTWRITE_LINK_SECRET, payload)[:16]); payload = fingerprint, action, expiry, nonce. It needs
no login and no bot app. Opening it (GET) only shows a confirm page, because mail scanners and
chat unfurlers fetch links; the button POSTs. A state change claims the nonce in `action_claims`
(create is the claim), so a link works once; it expires; it names one alert and shows only that.
The nonce derives from the transition, so the email, SMS and push of one page share one claim.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import datetime, timedelta, timezone

from ..timeutil import format_ms
from .actor import Actor, OpError

LINK_ACTIONS = ("ack", "resolve", "silence")
SILENCE_FOR = "1h"
CLAIMS = "action_claims"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, fingerprint: str, action: str, expires: datetime, nonce: str) -> str:
    payload = json.dumps({"f": fingerprint, "a": action, "e": int(expires.timestamp()), "n": nonce},
                         separators=(",", ":")).encode()
    mac = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: str, token: str, now: datetime) -> dict:
    """The payload of a valid, unexpired token; OpError 401 otherwise."""
    if not secret:
        raise OpError(500, "not_configured", "ALERTWRITE_LINK_SECRET is not set")
    body, _, mac = token.partition(".")
    try:
        payload = _unb64(body)
        given = _unb64(mac)
    except (ValueError, TypeError):
        raise OpError(401, "link_invalid", "this link is damaged") from None
    expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(given, expected):
        raise OpError(401, "link_invalid", "this link is damaged or was not made by this Alertwrite")
    doc = json.loads(payload)
    if doc.get("a") not in LINK_ACTIONS or not isinstance(doc.get("f"), str):
        raise OpError(401, "link_invalid", "unknown action")
    if datetime.fromtimestamp(int(doc["e"]), timezone.utc) <= now:
        raise OpError(401, "link_expired", "this link has expired; open Alertwrite to act on the alert")
    return doc


def claim(rows, doc: dict, now: datetime) -> None:
    """Single use: the first click wins; a replay gets 409 link_used."""
    claim_id = "c" + hashlib.sha256(f"{doc['n']}\n{doc['a']}".encode()).hexdigest()[:35]
    made = rows.create(CLAIMS, [{"$id": claim_id, "fingerprint": doc["f"], "action": doc["a"], "claimedAt": format_ms(now),
                                 "expiresAt": format_ms(datetime.fromtimestamp(int(doc["e"]), timezone.utc))}])
    if not made:
        raise OpError(409, "link_used", "this link was used already")


def link_actor(doc: dict) -> Actor:
    return Actor(f"action link ({doc['a']})", "responder", "link")


def links_for(fingerprint: str, transition_key: str, now: datetime, env: dict | None = None) -> list[tuple[str, str]]:
    """(label, url) per action for one alert in a message; [] when links are not configured.
    Read at render time from the function's variables (ALERTWRITE_LINK_SECRET, ALERTWRITE_PUBLIC_URL)."""
    env = os.environ if env is None else env
    secret, base = env.get("ALERTWRITE_LINK_SECRET", ""), env.get("ALERTWRITE_PUBLIC_URL", "").rstrip("/")
    if not secret or not base.startswith(("http://", "https://")):
        return []
    try:
        minutes = float(env.get("ALERTWRITE_LINK_TTL_MINUTES") or 60 * 24)
    except ValueError:
        minutes = 60 * 24
    expires = now + timedelta(minutes=minutes)
    out = []
    for action in LINK_ACTIONS:
        nonce = hashlib.sha256(f"{transition_key}\n{action}".encode()).hexdigest()[:24]
        out.append((action, f"{base}/links/{sign(secret, fingerprint, action, expires, nonce)}"))
    return out
