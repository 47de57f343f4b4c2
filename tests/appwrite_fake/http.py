"""The same fake behind a real HTTP port, for measurements that need a separate process
(cold start, `serve --backend appwrite` under load). Same state, faults and latency."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class _Request:
    """What the fake's callback reads from a `requests` PreparedRequest."""

    def __init__(self, method: str, url: str, headers, body: bytes):
        self.method, self.url, self.body = method, url, body
        self.headers = requests.structures.CaseInsensitiveDict(headers)


def serve_http(fake, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start serving `fake` and return the server and its endpoint (…/v1)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no delayed-ACK stall between headers and body

        def _any(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = _Request(self.command, fake.endpoint + self.path[len("/v1"):], dict(self.headers.items()), body)
            try:
                status, headers, text = fake._callback(request)
            except requests.RequestException:
                self.close_connection = True
                return
            data = text.encode() if isinstance(text, str) else text
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}/v1"
