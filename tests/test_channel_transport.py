"""Channel sends over TLS, as ssrf.post makes them: to the address that was checked, with the
TLS name and Host header of the URL's host, the certificate verified for that name, and the
connection kept for the next message. The certificates come from the openssl command."""
import shutil
import socket
import ssl
import subprocess
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alertwrite.channels import ssrf

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None,
                                   reason="needs the openssl command (tests/run.sh installs it)")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, and a certificate it signed for hooks.example.test only."""
    d = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Alertwrite test CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "hook.key", "-out", "hook.csr",
            "-subj", "/CN=hooks.example.test", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:hooks.example.test\n")
    openssl("x509", "-req", "-in", "hook.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "hook.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


@pytest.fixture
def tls_server(certificates):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append({"host": self.headers["Host"], "sni": self.connection.server_hostname,
                         "peer": self.client_address[1], "body": body, "path": self.path})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "hook.pem", certificates / "hook.key")
    names = []
    context.sni_callback = lambda sock, name, ctx: (setattr(sock, "server_hostname", name), names.append(name))[0]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def resolver(monkeypatch):
    """hooks.example.test (and evil.example.test) resolve to loopback, as a DNS server would answer."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in ("hooks.example.test", "evil.example.test"):
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def trust_ca(certificates, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates / "ca.pem"))
    ssrf._tls.cache_clear()
    yield
    ssrf._tls.cache_clear()


@needs_openssl
def test_tls_send_names_and_verifies_the_host_and_keeps_the_connection(tls_server, resolver, trust_ca):
    port, seen = tls_server
    url = f"https://hooks.example.test:{port}/services/T/B/secret?x=1"
    first = ssrf.post(url, b'{"n":1}', {"X-Test": "1"}, 5, allow_private=True)
    second = ssrf.post(url, b'{"n":2}', {}, 5, allow_private=True)
    assert (first.status, first.body, first.header("content-type")) == (200, "ok", "text/plain; charset=utf-8")
    assert second.status == 200
    assert [s["host"] for s in seen] == [f"hooks.example.test:{port}"] * 2
    assert [s["sni"] for s in seen] == ["hooks.example.test"] * 2
    assert [s["path"] for s in seen] == ["/services/T/B/secret?x=1"] * 2
    assert [s["body"] for s in seen] == [b'{"n":1}', b'{"n":2}']
    assert seen[0]["peer"] == seen[1]["peer"]  # the same connection: no second handshake


@needs_openssl
def test_a_certificate_for_another_name_is_refused(tls_server, resolver, trust_ca):
    port, seen = tls_server
    with pytest.raises(ssrf.NetworkError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        ssrf.post(f"https://evil.example.test:{port}/x", b"{}", {}, 5, allow_private=True)
    assert seen == []


@needs_openssl
def test_an_untrusted_certificate_is_refused(tls_server, resolver):
    ssrf._tls.cache_clear()  # the default CA store, which never signed the test CA
    port, seen = tls_server
    with pytest.raises(ssrf.NetworkError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        ssrf.post(f"https://hooks.example.test:{port}/x", b"{}", {}, 5, allow_private=True)
    assert seen == []


@contextmanager
def plain_server(close_each: bool = False):
    """A loopback HTTP/1.1 server answering 200. Yields (url, peers, closed): the client port
    of each request, and a semaphore released each time the server closed a connection.
    `close_each`: it closes after every answer, without saying so (an idle timeout at once)."""
    peers = []
    closed = threading.Semaphore(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            peers.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.close_connection = close_each

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def shutdown_request(self, request):
            super().shutdown_request(request)
            closed.release()

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", peers, closed
    finally:
        server.shutdown()
        server.server_close()


def test_a_kept_connection_the_server_closed_is_replaced_not_failed():
    answers = []
    with plain_server(close_each=True) as (url, peers, closed):
        for _ in range(3):
            answers.append(ssrf.post(url, b"{}", {}, 5, allow_private=True).status)
            assert closed.acquire(timeout=5)  # the server has closed it before the next send
    assert answers == [200, 200, 200]
    assert len(set(peers)) == 3  # each on a new connection


def test_an_idle_kept_connection_is_not_reused_after_the_keep_alive_time(monkeypatch):
    """A NAT or load balancer drops idle connections without a word; reusing one would hang
    until the timeout, so a connection idle for longer than KEEP_ALIVE_SECONDS is replaced."""
    with plain_server() as (url, peers, _):
        ssrf.post(url, b"{}", {}, 5, allow_private=True)
        ssrf.post(url, b"{}", {}, 5, allow_private=True)
        monkeypatch.setattr(ssrf, "KEEP_ALIVE_SECONDS", 0.0)
        ssrf.post(url, b"{}", {}, 5, allow_private=True)
    assert peers[0] == peers[1] != peers[2]
