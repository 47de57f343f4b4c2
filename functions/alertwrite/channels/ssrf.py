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
import http.client
import ipaddress
import select
import socket
import threading
import time
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


MAX_ANSWER = 4096  # bytes of an answer kept (for the record); a longer answer is not read on
KEEP_ALIVE_SECONDS = 15.0  # an idle kept connection older than this is not reused (httpcore keeps 5 s)


class _Pinned(http.client.HTTPSConnection):
    """Connects to the checked address; TLS names (SNI) and verifies the original host."""

    def __init__(self, address: str, port: int, host: str, timeout: float):
        super().__init__(address, port, timeout=timeout, context=_tls())
        self._tls_name = host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._tls_name)


_local = threading.local()


Key = tuple[str, str, int, str]  # (scheme, checked address, port, host name)


def _pool() -> dict[Key, tuple[http.client.HTTPConnection, float]]:
    """This sending thread's kept connections, with when each was last used."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def _connection(key: Key, timeout: float) -> http.client.HTTPConnection:
    """A kept-alive connection per sending thread and (checked address, host): no TCP and TLS
    handshake per message, and never shared by two names or two addresses. One the peer
    closed while idle is seen here (readable before we wrote) and replaced, as httpcore does."""
    conn, used = _pool().pop(key, (None, 0.0))
    if conn is not None and time.monotonic() - used > KEEP_ALIVE_SECONDS:
        conn.close()  # a NAT or load balancer may have dropped it without a word: a send would hang
        conn = None
    if conn is not None and conn.sock is not None and not select.select([conn.sock], [], [], 0)[0]:
        conn.timeout = timeout
        conn.sock.settimeout(timeout)
        return conn
    if conn is not None:
        conn.close()
    scheme, address, port, host = key
    if scheme == "https":
        return _Pinned(address, port, host, timeout)
    return http.client.HTTPConnection(address, port, timeout=timeout)


def _keep(key: Key, conn: http.client.HTTPConnection) -> None:
    pool = _pool()
    if len(pool) >= 64:
        for old, _ in pool.values():
            old.close()
        pool.clear()
    pool[key] = (conn, time.monotonic())


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> Answer:
    """One POST to the checked address; never follows a redirect, reads at most MAX_ANSWER bytes.

    http.client rather than httpx here: a send is most of the dispatcher's CPU, and on it
    httpx cost about 0.6 ms against 0.1 ms (tests/bench/channels.py, same loopback endpoint).
    """
    pinned, host, port = resolve(url, allow_private)
    parts = urlsplit(pinned)
    address, number = parts.hostname, parts.port
    default_port = port in ("443", "80")
    send_headers = {"Host": host if default_port else f"{host}:{port}", "Content-Type": "application/json",
                    "User-Agent": "Alertwrite", "Content-Length": str(len(body)), **headers}
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    key = (parts.scheme, address, number, host)
    conn = _connection(key, timeout)
    try:
        conn.request("POST", target, body=body, headers=send_headers)
        response = conn.getresponse()
        data = response.read(MAX_ANSWER)
        answer_headers: dict[str, str] = {}
        for name, value in response.getheaders():
            name = name.lower()
            answer_headers[name] = f"{answer_headers[name]}, {value}" if name in answer_headers else value
        status = response.status
        if response.isclosed() and not response.will_close:
            _keep(key, conn)
        else:
            conn.close()
    except TimeoutError:
        conn.close()
        raise NetworkError(f"timed out after {timeout:g}s") from None
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise NetworkError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    charset = response.headers.get_content_charset() or "utf-8"
    return Answer(status, answer_headers, data.decode(charset, "replace"))
