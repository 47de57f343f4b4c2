"""Outbound requests that cannot be pointed at the Appwrite network.

Anyone who may create a channel chooses the URL the dispatcher calls from inside the
deployment. So: https only; the host is resolved once and every address must be public
(not private, loopback, link-local, multicast, reserved or unspecified); the connection goes
to the checked address (no second lookup, so DNS rebinding cannot swap it), with the TLS
name and Host header of the original host; redirects are never followed.
ALERTWRITE_CHANNELS_ALLOW_PRIVATE=1 lifts the address rule and allows plain http, for
self-hosted chat servers and for the tests' loopback fakes.
"""
from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


class Refused(Exception):
    """The URL is not allowed; the message names the reason, never the URL's path."""


class NetworkError(Exception):
    """No HTTP answer: DNS failure, refused connection, timeout. Always retryable."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified)


def resolve(url: str, allow_private: bool) -> tuple[str, str, str]:
    """(url to connect to, original host, port); raises Refused."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise Refused("only https URLs are allowed")
    host = parts.hostname
    if not host:
        raise Refused("the URL has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkError(f"cannot resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        bad = [a for a in addresses if not _public(a)]
        if bad:
            raise Refused(f"{host} resolves to a non-public address ({bad[0]}); "
                          "set ALERTWRITE_CHANNELS_ALLOW_PRIVATE=1 to allow it")
    address = addresses[0]
    netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host, str(port)


@functools.lru_cache(maxsize=1)
def _tls():
    # Building an SSL context loads the CA store (~10-20 ms): once per process, not per send.
    import httpx
    return httpx.create_ssl_context()


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> Answer:
    import httpx  # here, not at import: intake imports this package and never sends

    pinned, host, port = resolve(url, allow_private)
    default_port = port in ("443", "80")
    send_headers = {"Host": host if default_port else f"{host}:{port}", "Content-Type": "application/json",
                    "User-Agent": "Alertwrite", **headers}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls()) as client:
            response = client.post(pinned, content=body, headers=send_headers,
                                   extensions={"sni_hostname": host})
            text = response.text[:4096]
    except httpx.TimeoutException:
        raise NetworkError(f"timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        raise NetworkError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, text)
