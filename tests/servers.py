"""Real HTTP servers on 127.0.0.1 for the fetcher and crawler tests.

``LocalServer`` is a ``ThreadingHTTPServer`` in a background thread whose routes are plain
Python callables, so a test states exactly what the server does (status, headers, body, a slow
drip, a connection reset) and can count the requests it received.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import struct
import subprocess
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Request:
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Response:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"
    drip: float | None = None
    """Send the body one byte every ``drip`` seconds (with the full Content-Length)."""
    reset: bool = False
    """Reset the TCP connection (RST) instead of answering."""
    chunks: Iterator[bytes] | None = None
    """Stream these chunks with chunked transfer encoding (for huge generated bodies)."""


Handler = Callable[[Request], Response]


class LocalServer:
    """``with LocalServer() as srv: srv.route("/a", Response(body="hi")); srv.url("/a")``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.scheme = "https" if tls is not None else "http"
        self.routes: dict[str, Handler] = {}
        self.hits: defaultdict[str, int] = defaultdict(int)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # separate header/body writes: no delayed-ACK stalls

            def log_message(self, format: str, *args: object) -> None:
                pass

            def handle(self) -> None:
                with contextlib.suppress(OSError):  # a route may reset the connection on purpose
                    super().handle()

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                req = Request(parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.hits[parts.path] += 1
                    server.requests.append(req)
                handler = server.routes.get(parts.path)
                resp = handler(req) if handler else Response(404, "<h1>Not found</h1>")
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._send(resp)

            def _send(self, resp: Response) -> None:
                if resp.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                body = resp.body.encode("utf-8") if isinstance(resp.body, str) else resp.body
                self.send_response(resp.status)
                if resp.content_type:
                    self.send_header("Content-Type", resp.content_type)
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                if resp.chunks is not None:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in resp.chunks:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if resp.drip is not None:
                    for i in range(len(body)):
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(resp.drip)
                    return
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        if tls is not None:  # the handshake runs in accept(); a refused one just drops that client
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, response: Response | Handler) -> None:
        self.routes[path] = response if callable(response) else (lambda _req, r=response: r)

    def page(self, path: str, html: str, **kwargs: object) -> None:
        self.route(path, Response(body=html, **kwargs))  # type: ignore[arg-type]


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6)


def deflate_bytes(data: bytes, *, raw: bool = False) -> bytes:
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush()


def gzip_bomb(expanded_mb: int) -> bytes:
    """A small gzip body that expands to ``expanded_mb`` MiB of zeros (built incrementally)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\x00" * (1024 * 1024)
    parts = [comp.compress(block) for _ in range(expanded_mb)]
    parts.append(comp.flush())
    return b"".join(parts)


def article_html(title: str, paragraphs: list[str], *, site: str = "Test Gazette", extra: str = "") -> str:
    """A real-looking article page: nav, header, article body, footer junk."""
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | {site}</title>
<meta property="og:site_name" content="{site}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world/">World</a> <a href="/business/">Business</a></nav></header>
<main><article><h1>{title}</h1>
{body}
</article></main>
{extra}
<footer><p>Copyright 2026 {site}. All rights reserved. Subscribe to our newsletter for more news.</p></footer>
</body></html>"""


def self_signed_tls(directory: str, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext, list[str]] | None:
    """A server context with a fresh self-signed certificate for ``host``, a client context
    that trusts only it, and the list the server appends each client's SNI name to. None when
    the ``openssl`` command is not available."""
    cert, key = f"{directory}/cert.pem", f"{directory}/key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={host}",
             "-addext", f"subjectAltName=DNS:{host}"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    names: list[str] = []
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    server.sni_callback = lambda _sock, name, _ctx: names.append(name or "")  # type: ignore[assignment,misc]
    client = ssl.create_default_context(cafile=cert)
    return server, client, names
