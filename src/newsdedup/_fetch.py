"""The fetcher: polite, bounded, typed HTTP GETs for news pages, feeds and sitemaps.

This is the only module that imports httpx. Everything a hostile or broken server can do to a
crawler is bounded here (reliability-checklist §1-§6):

* **time**: httpx timeouts only catch inactivity, so each HTTP exchange also runs under a
  wall-clock deadline (``total_timeout``) that cuts off a server dripping one byte a second;
* **size**: the body is read raw and decompressed here in bounded steps, so the cap applies to
  the *decompressed* bytes and a gzip bomb stops at ``max_body_bytes``; at most
  ``max_encodings`` chained content codings; a coding not offered in Accept-Encoding is
  unsupported content, and a compressed stream cut before its end is a decoding error (never a
  partial page);
* **where**: redirects are followed by hand; every hop is re-checked for scheme, SSRF
  (:mod:`._guard`) and robots.txt (:mod:`._robots`), 3xx bodies are never read, loops and hop
  counts are limited;
* **politeness**: a concurrency limit and a delay per host (``Crawl-delay`` honoured, capped),
  retries with exponential backoff and jitter, ``Retry-After`` honoured (capped);
* **what**: images, PDFs, video and other binaries are refused by content type and magic bytes.

Every failure is a :class:`~newsdedup.FetchError` subclass; :meth:`Fetcher.fetch_many` and the
crawler turn them into :class:`FetchErrorRecord` values so one bad URL never stops a crawl.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import random
import select
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urljoin

import httpcore
import httpx

from ._decode import HAVE_BROTLI, ContentDecoder, decode_bytes, looks_binary, supports_coding
from ._exceptions import (
    BlockedURL,
    ConfigError,
    ConnectError,
    DecodingError,
    DNSError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    RobotsDisallowed,
    RobotsUnreachable,
    TLSError,
    TooManyRedirects,
    TruncatedResponse,
    UnsupportedContent,
    finite_number,
)
from ._guard import Resolver, check_url
from ._models import CacheEntry, as_utc, worth_caching
from ._robots import RobotsCache
from ._urls import host_of, normalize_url
from ._version import __version__

__all__ = [
    "DEFAULT_USER_AGENT",
    "CacheEntry",
    "FetchCache",
    "FetchConfig",
    "FetchErrorRecord",
    "FetchResult",
    "Fetcher",
    "MemoryFetchCache",
    "parse_retry_after",
    "worth_caching",
]

logger = logging.getLogger("newsdedup")

DEFAULT_USER_AGENT = f"newsdedup/{__version__} (+https://github.com/newsdedup/newsdedup)"
ACCEPT_ENCODING = "gzip, deflate, br" if HAVE_BROTLI else "gzip, deflate"
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/feed+json,application/xml;q=0.9,text/xml;q=0.9,application/json;q=0.8,*/*;q=0.5"
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_GZIP_TYPES = frozenset({"application/gzip", "application/x-gzip", "application/octet-stream"})
_BINARY_PREFIXES = ("image/", "audio/", "video/", "font/", "model/")
_BINARY_TYPES = frozenset(
    {
        "application/pdf", "application/octet-stream", "application/zip", "application/gzip",
        "application/x-gzip", "application/x-tar", "application/msword", "application/wasm",
        "application/vnd.ms-excel", "application/x-shockwave-flash", "application/java-archive",
        "application/x-7z-compressed", "application/x-rar-compressed", "application/ogg",
        "application/x-msdownload", "application/vnd.android.package-archive",
    }
)  # fmt: skip
_TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", ""})


# --------------------------------------------------------------------------------------------
# Configuration and results


def _check_seconds(name: str, value: object, *, zero_ok: bool) -> None:
    """A FetchConfig duration: a finite number, > 0 (or >= 0 with ``zero_ok``). NaN compares
    false with everything, so it would slip past a plain ``value < 0`` (and turn a delay off);
    infinity would make a timeout or a backoff wait forever."""
    if not (finite_number(value) and (value > 0 or (zero_ok and value == 0))):
        bound = ">= 0" if zero_ok else "> 0"
        raise ConfigError(f"FetchConfig.{name} must be a finite number {bound} (seconds), got {value!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchConfig:
    """Every limit of the fetcher, validated on construction (``ConfigError`` names the field).

    Defaults are polite for crawling other people's sites; tests and benchmarks against a
    local server set ``per_host_delay=0`` and ``allow_private=True``.
    """

    user_agent: str = DEFAULT_USER_AGENT
    robots_token: str = "newsdedup"
    """Product token matched against ``User-agent:`` lines in robots.txt."""
    obey_robots: bool = True
    allow_private: bool = False
    """Lift the private/loopback address check (intranets, tests). Metadata IPs stay blocked."""
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 30.0
    """Wall-clock limit for one HTTP exchange (headers and whole body), whatever the server does."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Cap on the body after decompression (and on the raw bytes)."""
    max_encodings: int = 2
    max_redirects: int = 10
    max_url_length: int = 4096
    max_attempts: int = 3
    """Tries per URL including the first; retried on connect errors, timeouts, 429 and 5xx."""
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    """Longest ``Retry-After`` waited for before a retry; a response asking for longer is not
    retried (its error says so), rather than holding a fetch slot asleep."""
    max_connections: int = 32
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    """Seconds between request starts on one host (0 allowed). Crawl-delay raises it."""
    max_crawl_delay: float = 60.0
    robots_ttl: float = 86_400.0
    robots_unreachable_ttl: float = 600.0
    robots_max_bytes: int = 512 * 1024
    verify_tls: bool = True

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "robots_ttl"):
            _check_seconds(name, getattr(self, name), zero_ok=False)
        non_negative = (
            "backoff_base", "backoff_max", "retry_after_max", "per_host_delay", "max_crawl_delay",
            "robots_unreachable_ttl",
        )  # fmt: skip
        for name in non_negative:
            _check_seconds(name, getattr(self, name), zero_ok=True)
        at_least_one = (
            "max_body_bytes", "max_attempts", "max_connections", "per_host_concurrency",
            "max_url_length", "robots_max_bytes",
        )  # fmt: skip
        for name in at_least_one:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"FetchConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("max_encodings", "max_redirects"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"FetchConfig.{name} must be an int >= 0, got {value!r}")
        # A truthy string such as "false" would otherwise switch the SSRF guard (allow_private),
        # TLS verification or robots.txt the wrong way without a word.
        for name in ("obey_robots", "allow_private", "verify_tls"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"FetchConfig.{name} must be a bool, got {value!r}")
        ua = self.user_agent
        if not isinstance(ua, str) or not ua or "\n" in ua or "\r" in ua:
            raise ConfigError(f"FetchConfig.user_agent must be a non-empty single-line str, got {ua!r}")
        if not isinstance(self.robots_token, str) or not self.robots_token.strip():
            raise ConfigError(f"FetchConfig.robots_token must be a non-empty str, got {self.robots_token!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """A successful fetch. ``text`` is the decoded page for HTML/plain text, None for XML/JSON.

    ``body`` is the decompressed body (for a gzip *file*, e.g. ``sitemap.xml.gz``, the file
    itself). ``headers`` has lower-cased names.
    """

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    text: str | None
    content_type: str
    encoding: str | None
    redirects: tuple[str, ...] = ()
    attempts: int = 1
    from_cache: bool = False
    elapsed: float = 0.0
    encoding_source: str | None = None
    """How ``encoding`` was chosen: ``bom``, ``header`` (Content-Type charset), ``meta``
    (``<meta charset>`` or the XML declaration), ``utf-8`` (no declaration, valid UTF-8),
    ``detected`` (charset-normalizer's guess), ``header-lossy`` / ``meta-lossy`` (the declared
    charset with undecodable bytes replaced) or ``fallback`` (UTF-8 with replacements); None
    when the body was not decoded. See :attr:`decoding_confident`."""

    @property
    def decoding_confident(self) -> bool | None:
        """Whether the text was decoded in an encoding the page declared or that decoded it
        without error (not a detector's guess or a lossy decode); None when not decoded."""
        if self.encoding_source is None:
            return None
        return self.encoding_source in ("bom", "header", "meta", "utf-8")

    @property
    def is_html(self) -> bool:
        return self.content_type in ("text/html", "application/xhtml+xml")

    def to_dict(self) -> dict[str, Any]:
        """Metadata for logs/JSON (without the body)."""
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "content_type": self.content_type,
            "encoding": self.encoding,
            "encoding_source": self.encoding_source,
            "bytes": len(self.body),
            "redirects": list(self.redirects),
            "attempts": self.attempts,
            "from_cache": self.from_cache,
            "elapsed": round(self.elapsed, 4),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchErrorRecord:
    """A failure as data: one JSON line in ``--errors``. ``error`` is the ``FetchError.kind``."""

    url: str
    error: str
    detail: str = ""
    attempts: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "error": self.error, "detail": self.detail, "attempts": self.attempts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FetchErrorRecord:
        return cls(
            url=str(data.get("url") or ""),
            error=str(data.get("error") or ""),
            detail=str(data.get("detail") or ""),
            attempts=int(data.get("attempts") or 0),
        )

    @classmethod
    def from_exception(cls, url: str, exc: BaseException) -> FetchErrorRecord:
        if isinstance(exc, FetchError):
            return cls(url=url, error=exc.kind, detail=str(exc), attempts=exc.attempts)
        kind = getattr(exc, "reason", None) or type(exc).__name__
        return cls(url=url, error=str(kind), detail=str(exc), attempts=0)


# --------------------------------------------------------------------------------------------
# Conditional-GET cache


class FetchCache(Protocol):
    """Storage for validators + bodies; a persistent store can implement the same two methods."""

    def get(self, url: str) -> CacheEntry | None: ...

    def put(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str = "",
        final_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None: ...


class MemoryFetchCache:
    """A bounded in-memory :class:`FetchCache` (least recently used entries are dropped)."""

    def __init__(self, *, max_entries: int = 10_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ConfigError("MemoryFetchCache.max_entries and max_bytes must be >= 1")
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._data: OrderedDict[str, CacheEntry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, url: str) -> CacheEntry | None:
        entry = self._data.get(url)
        if entry is not None:
            self._data.move_to_end(url)
        return entry

    def put(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        body: bytes,
        content_type: str = "",
        final_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not worth_caching(etag, last_modified, body, self._max_bytes):
            return
        old = self._data.pop(url, None)
        if old is not None:
            self._bytes -= len(old.body)
        self._data[url] = CacheEntry.of(
            url,
            final_url=final_url,
            etag=etag,
            last_modified=last_modified,
            body=body,
            content_type=content_type,
            headers=headers,
            stored_at=time.time(),
        )
        self._bytes += len(body)
        while len(self._data) > self._max_entries or self._bytes > self._max_bytes:
            _, dropped = self._data.popitem(last=False)
            self._bytes -= len(dropped.body)


# --------------------------------------------------------------------------------------------
# Bounded content decoding


def _content_codings(header: str | None) -> list[str]:
    if not header:
        return []
    return [c.strip().lower() for c in header.split(",") if c.strip() and c.strip().lower() != "identity"]


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        # a huge number is "not for a very long time": infinity, which retry_after_max refuses
        return float(int(value)) if len(value) <= 15 else float("inf")
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        stamp = as_utc(when).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    current = now if now is not None else time.time()
    return max(0.0, stamp - current)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------------------------
# Connections: asyncio sockets, address pinning (DNS rebinding), keep-alive pool


def _socket_readable(sock: socket.socket | None) -> bool:
    """True when ``recv`` would return at once: for an idle keep-alive connection that means
    the server closed it (or sent junk), so httpcore drops it instead of reusing it."""
    if sock is None or sock.fileno() < 0:
        return True
    if not hasattr(select, "poll"):  # pragma: no cover - Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _chain_text(chain: tuple[str, ...], ends: int = 3) -> str:
    """A redirect chain for an error message: every hop, or the first and last few of a long one."""
    if len(chain) > 2 * ends + 1:
        chain = (*chain[:ends], f"... {len(chain) - 2 * ends} more ...", *chain[-ends:])
    return " -> ".join(chain)


def _cut_short(exc: httpx.HTTPError) -> bool:
    """Whether a failure while a body was read means the connection ended before its end (h11's
    "peer closed connection without sending complete message body", or a reset), rather than a
    malformed body framing (an illegal chunk header is a protocol error, not a loss)."""
    return isinstance(exc, httpx.ReadError) or "without sending complete message body" in str(exc)


class _CertificateRefused(httpcore.ConnectError):
    """The TLS handshake failed on the certificate: :class:`TLSError` once it reaches the fetch."""


class _SocketStream(httpcore.AsyncNetworkStream):
    """A plain TCP connection driven directly by the asyncio event loop.

    httpcore's default asyncio backend goes through anyio, whose per-call bookkeeping (cancel
    scopes, typed-attribute lookups on every keep-alive check) cost more CPU than the HTTP
    parsing itself on a fast local crawl; these few loop calls are all a crawler needs.
    """

    __slots__ = ("_loop", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._loop.sock_recv(self._sock, max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data for {timeout}s") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._loop.sock_sendall(self._sock, buffer)
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send for {timeout}s") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        self._sock.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        """TLS on this socket; the certificate is verified for ``server_hostname`` (httpcore
        passes the URL's host name, never the pinned address)."""
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    sock=self._sock, ssl=ssl_context, server_hostname=server_hostname,
                    ssl_handshake_timeout=timeout or None,
                )  # fmt: skip
        except TimeoutError:
            self._sock.close()
            raise httpcore.ConnectTimeout(f"TLS handshake took more than {timeout}s") from None
        except ssl.SSLCertVerificationError as exc:
            self._sock.close()
            raise _CertificateRefused(str(exc) or type(exc).__name__) from None
        except (OSError, ssl.SSLError) as exc:
            self._sock.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        return _TLSStream(reader, writer, self._sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _socket_readable(self._sock)
        if info == "socket":
            return self._sock
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "client_addr":
            return self._sock.getsockname()
        return None


class _TLSStream(httpcore.AsyncNetworkStream):
    """A TLS connection (asyncio's SSL transport over the pinned socket)."""

    __slots__ = ("_reader", "_sock", "_writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock: socket.socket
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._sock = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data for {timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send for {timeout}s") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        self._writer.close()  # no wait for the peer's close_notify: a hostile server may never send it

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # the transport reads eagerly, so buffered bytes or EOF show up here, not on the socket
            return self._writer.is_closing() or self._reader.at_eof() or _socket_readable(self._sock)
        if info in ("ssl_object", "server_addr", "client_addr"):
            name = {"server_addr": "peername", "client_addr": "sockname"}.get(info, info)
            return self._writer.get_extra_info(name)
        if info == "socket":
            return self._sock
        return None


class _AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects to a numeric address (the pinned one) with the event loop; no name lookup."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:  # numeric only: this backend must never resolve a name
            family, kind, proto, _name, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
            )[0]
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"not a numeric address {host!r}: {exc}") from None
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for option in socket_options or ():
                sock.setsockopt(*option)
            if local_address:
                sock.bind((local_address, 0))
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_connect(sock, address)
        except TimeoutError:
            sock.close()
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} within {timeout}s") from None
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(f"{host}:{port}: {exc.strerror or exc}") from None
        except BaseException:
            sock.close()
            raise
        return _SocketStream(sock)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the SSRF guard checked for that host name.

    httpcore hands ``connect_tcp`` the URL's host; resolving it again here would let a DNS
    server answer "public" to the check and "127.0.0.1" to the connection (DNS rebinding). So
    the name is looked up in ``pins`` (filled by :meth:`Fetcher._check_hop` right before each
    request) and the socket goes to one of those addresses; a host without pins is refused.
    TLS is started by httpcore on the returned stream with the URL's host name as SNI and for
    certificate verification, and the Host header comes from the URL, so neither changes.
    """

    def __init__(
        self, pins: Mapping[str, tuple[str, ...]], inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._pins = pins
        self._inner: httpcore.AsyncNetworkBackend = inner if inner is not None else _AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host.lower())
        if not addresses:
            raise httpcore.ConnectError(f"no checked address for {host} (the name did not resolve)")
        failure: Exception | None = None
        for address in addresses:  # in resolver order, like socket.create_connection
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _ConnectionPool:
    """Keep-alive HTTP/1.1 connections per origin, with constant work per request.

    httpcore's pool re-scans every connection (a ``poll`` per idle one) on each request and
    each response close, which on a busy crawl cost more CPU than parsing the responses. Here
    a request takes an idle connection of its origin (checked once for expiry) or opens one;
    closing the response puts the connection back if it is reusable. ``max_connections``
    bounds the requests in flight, ``max_keepalive`` the idle connections kept.
    """

    def __init__(
        self,
        *,
        verify: bool | ssl.SSLContext,
        max_connections: int,
        max_keepalive: int,
        keepalive_expiry: float | None,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        """Made on the first https connection: loading the CA bundle takes 0.1-0.2 s, which a
        plain-HTTP crawl (the offline demo, an intranet) never needs."""
        self._slots = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._backend = network_backend
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}
        self._idle_count = 0
        self._closed = False

    async def _checkout(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get((origin.scheme, origin.host, origin.port))
        while idle:
            conn = idle.pop()  # the most recently used one is the least likely to have expired
            self._idle_count -= 1
            if conn.is_available() and not conn.has_expired() and not _has_unread_bytes(conn):
                return conn
            await conn.aclose()
        if origin.scheme == b"https" and self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context(verify=self._verify, trust_env=False)
        return httpcore.AsyncHTTPConnection(origin=origin, ssl_context=self._ssl_context,
                                            keepalive_expiry=self._keepalive_expiry,
                                            network_backend=self._backend)  # fmt: skip

    async def _checkin(self, conn: httpcore.AsyncHTTPConnection, origin: httpcore.Origin) -> None:
        self._slots.release()
        if (
            self._closed
            or not conn.is_idle()
            or self._idle_count >= self._max_keepalive
            or _has_unread_bytes(conn)
        ):
            await conn.aclose()
            return
        self._idle.setdefault((origin.scheme, origin.host, origin.port), []).append(conn)
        self._idle_count += 1

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._closed:
            raise httpcore.ConnectError("the fetcher is closed")
        origin = request.url.origin
        await self._slots.acquire()
        try:
            conn = await self._checkout(origin)
            try:
                response = await conn.handle_async_request(request)
            except BaseException:
                await conn.aclose()
                raise
        except BaseException:
            self._slots.release()
            raise
        return httpcore.Response(status=response.status, headers=response.headers,
                                 content=_PooledBody(response.stream, self, conn, origin),
                                 extensions=response.extensions)  # fmt: skip

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle, self._idle_count = self._idle, {}, 0
        for conns in idle.values():
            for conn in conns:
                await conn.aclose()


def _has_unread_bytes(conn: httpcore.AsyncHTTPConnection) -> bool:
    """Whether h11 holds bytes the server sent after the response it answered (more than its
    Content-Length, a body on a 204 or 304), or saw the server close: on a reused connection the
    next request would read them as its response (a desynchronised, smuggled answer). Such a
    connection is closed, never pooled. HTTP/2 connections hold no such buffer."""
    state = getattr(getattr(conn, "_connection", None), "_h11_state", None)
    if state is None:
        return False
    data, closed = state.trailing_data
    return bool(data) or bool(closed)


class _PooledBody:
    """A response body that hands its connection back to the pool when it is closed."""

    __slots__ = ("_conn", "_done", "_origin", "_pool", "_stream")

    def __init__(self, stream: Any, pool: _ConnectionPool, conn: httpcore.AsyncHTTPConnection,
                 origin: httpcore.Origin) -> None:  # fmt: skip
        self._stream = stream
        self._pool = pool
        self._conn = conn
        self._origin = origin
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()  # an unfinished body closes the connection itself
        finally:
            await self._pool._checkin(self._conn, self._origin)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (request/response mapping, error mapping) over a connection pool
    whose network backend is :class:`_PinnedBackend`. Pooled connections are per origin
    (scheme, host name, port), and each was opened to a checked address of that name."""

    def __init__(
        self,
        pins: Mapping[str, tuple[str, ...]],
        *,
        verify: bool | ssl.SSLContext,
        limits: httpx.Limits,
        backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        # httpx's own pool is replaced below: its TLS context (no CA bundle with verify=False)
        # is never used; the pool makes the real one on its first https connection
        super().__init__(verify=False, limits=limits, trust_env=False)
        self._pool = _ConnectionPool(  # type: ignore[assignment]
            verify=verify,
            max_connections=limits.max_connections or 100,
            max_keepalive=limits.max_keepalive_connections or 100,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(pins, backend),
        )


# --------------------------------------------------------------------------------------------
# The fetcher


@dataclass(slots=True)
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock
    next_start: float = 0.0
    delay: float = 0.0


@dataclass(slots=True)
class _Raw:
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    redirects: list[str]
    from_cache: bool = False


@dataclass(slots=True)
class FetchStats:
    """Counters for progress lines and summaries."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    not_modified: int = 0
    robots_fetches: int = 0


class Fetcher:
    """Async HTTP client for crawling: ``async with Fetcher(config) as f: await f.fetch(url)``.

    One ``Fetcher`` holds one connection pool, one robots.txt cache and per-host politeness
    state; share it between all tasks of a crawl.
    """

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        cache: FetchCache | None = None,
        transport: Any = None,
        resolver: Resolver | None = None,
        network_backend: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``resolver`` replaces ``getaddrinfo`` for the SSRF check (tests, custom DNS); the
        connection then goes to an address it returned. ``network_backend`` (an httpcore
        ``AsyncNetworkBackend``) is the socket layer under that pinning. ``ssl_context``
        replaces the default certificate checks (e.g. an intranet CA; ``verify_tls`` is then
        ignored). A custom ``transport`` replaces all three, and with them the pinning: it is
        then the caller's job."""
        self.config = config or FetchConfig()
        self.cache: FetchCache = cache if cache is not None else MemoryFetchCache()
        self.stats = FetchStats()
        self._transport = transport
        self._resolver = resolver
        self._network_backend = network_backend
        self._ssl_context = ssl_context
        self._pins: dict[str, tuple[str, ...]] = {}
        """Host name -> the addresses its last SSRF check approved (what connections may use)."""
        self._http: httpx.AsyncBaseTransport | None = None
        self._headers: dict[str, str] = {
            "User-Agent": self.config.user_agent, "Accept": _ACCEPT, "Accept-Encoding": ACCEPT_ENCODING,
        }  # fmt: skip
        self._timeouts: dict[str, float | None] = {
            "connect": self.config.connect_timeout, "read": self.config.read_timeout,
            "write": self.config.read_timeout, "pool": None,
        }  # fmt: skip
        self._hosts: dict[str, _Host] = {}
        self._connections = asyncio.Semaphore(self.config.max_connections)
        """A request takes one before its ``total_timeout`` starts: time spent waiting for a
        free connection is not time the server took (the pool's own limit is the same, so
        the exchange then never waits for one)."""
        self._robots = RobotsCache(
            self._fetch_robots,
            user_agent_token=self.config.robots_token,
            cache_ttl=self.config.robots_ttl,
            unreachable_ttl=self.config.robots_unreachable_ttl,
            max_crawl_delay=self.config.max_crawl_delay,
        )

    @property
    def robots(self) -> RobotsCache:
        return self._robots

    async def __aenter__(self) -> Fetcher:
        cfg = self.config
        limits = httpx.Limits(
            max_connections=cfg.max_connections, max_keepalive_connections=cfg.max_connections
        )
        transport = self._transport
        if transport is None:
            verify = self._ssl_context if self._ssl_context is not None else cfg.verify_tls
            transport = _PinnedTransport(
                self._pins, verify=verify, limits=limits, backend=self._network_backend
            )
        # Requests go straight to the transport, not through ``httpx.AsyncClient``: the fetcher
        # does its own redirects, sends no auth, keeps no cookies (they would track the crawler
        # across sites) and sets headers and timeouts itself, and the client's per-request
        # layers for those (cookie extraction above all) cost more CPU than the HTTP exchange.
        self._http = transport
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # -- public API ---------------------------------------------------------------------------

    async def fetch(self, url: str, *, allow_gzip_file: bool = False) -> FetchResult:
        """GET ``url`` with every guard; raise a typed :class:`FetchError` on failure.

        ``allow_gzip_file`` accepts a gzip file body (``sitemap.xml.gz``) that would otherwise be
        refused as binary; it is returned still compressed for the sitemap parser.
        """
        cfg = self.config
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                raw = await self._chain(url, max_redirects=cfg.max_redirects, max_bytes=cfg.max_body_bytes,
                                        robots=cfg.obey_robots, conditional=True, page=True,
                                        allow_gzip_file=allow_gzip_file)  # fmt: skip
                return self._result(url, raw, attempts, time.monotonic() - started, allow_gzip_file)
            except FetchError as exc:
                exc.attempts = attempts
                if exc.url is None:
                    exc.url = url
                if not exc.retryable or attempts >= min(
                    cfg.max_attempts, exc.max_attempts or cfg.max_attempts
                ):
                    raise
                retry_after = getattr(exc, "retry_after", None)
                if retry_after is not None and retry_after > cfg.retry_after_max:
                    # the server says "not before then": sleeping on it would hold a fetch slot
                    # for nothing, so this URL fails now (a later run asks again)
                    exc.args = (f"{exc}; Retry-After {retry_after:.0f} s is over retry_after_max"
                                f" ({cfg.retry_after_max:g} s): not retried",)  # fmt: skip
                    raise
                delay = self._backoff(attempts, retry_after)
                self.stats.retries += 1
                # the host backs off, not only this URL: its other URLs wait as long (a
                # crawler hands out other hosts' URLs meanwhile, see host_wait)
                state = self._host(exc.url)
                state.next_start = max(state.next_start, time.monotonic() + delay)
                logger.debug("retrying %s in %.2fs after %s: %s", url, delay, exc.kind, exc)
                await asyncio.sleep(delay)

    async def fetch_or_record(self, url: str, **kwargs: Any) -> FetchResult | FetchErrorRecord:
        """Like :meth:`fetch` but returns a :class:`FetchErrorRecord` instead of raising."""
        try:
            return await self.fetch(url, **kwargs)
        except FetchError as exc:
            return FetchErrorRecord.from_exception(url, exc)

    async def fetch_many(
        self, urls: Iterable[str], *, concurrency: int | None = None
    ) -> list[FetchResult | FetchErrorRecord]:
        """Fetch all ``urls`` (in input order); failures come back as error records."""
        url_list = list(urls)
        limit = asyncio.Semaphore(concurrency or self.config.max_connections)

        async def one(u: str) -> FetchResult | FetchErrorRecord:
            async with limit:
                return await self.fetch_or_record(u)

        return list(await asyncio.gather(*(one(u) for u in url_list)))

    def host_wait(self, url: str) -> float:
        """Seconds until ``url``'s host may be asked again: its politeness delay (or
        ``Crawl-delay``) since its last request started, or the backoff after a failed attempt;
        0 when it may be asked now. A crawler asks it to hand out another host's URL instead of
        a worker sleeping on this one (see :func:`newsdedup.crawl`)."""
        state = self._hosts.get(host_of(url))
        return 0.0 if state is None else max(0.0, state.next_start - time.monotonic())

    # -- internals ----------------------------------------------------------------------------

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cfg = self.config
        base = min(cfg.backoff_max, cfg.backoff_base * (2 ** (attempt - 1)))
        delay = base * (0.5 + random.random() / 2)  # jitter: spread retries of many clients
        if retry_after is not None:
            delay = max(delay, min(retry_after, cfg.retry_after_max))
        return delay

    def _host(self, url: str) -> _Host:
        key = host_of(url)
        state = self._hosts.get(key)
        if state is None:
            state = _Host(asyncio.Semaphore(self.config.per_host_concurrency), asyncio.Lock(),
                          delay=self.config.per_host_delay)  # fmt: skip
            self._hosts[key] = state
        return state

    async def _wait_turn(self, state: _Host) -> None:
        if state.delay <= 0 and state.next_start <= time.monotonic():
            return  # no delay configured and none pending: nothing to serialise
        async with state.lock:
            now = time.monotonic()
            wait = state.next_start - now
            state.next_start = max(now, state.next_start) + state.delay
        if wait > 0:
            await asyncio.sleep(wait)

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        self.stats.robots_fetches += 1
        raw = await self._chain(url, max_redirects=5, max_bytes=self.config.robots_max_bytes,
                                robots=False, conditional=False, page=False, truncate=True)  # fmt: skip
        return raw.status, raw.body

    async def _check_hop(self, url: str, *, robots: bool) -> httpx.URL:
        """SSRF check, address pinning and robots.txt for one hop; returns the parsed URL the
        request is made with (parsed once, so the pinned host is the one connected to)."""
        if len(url) > self.config.max_url_length:
            raise BlockedURL(f"URL longer than {self.config.max_url_length} characters", url=url)
        addresses = await check_url(url, allow_private=self.config.allow_private, resolver=self._resolver)
        try:
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii").lower()  # as httpcore passes it to connect_tcp
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise BlockedURL(f"malformed URL: {exc}", url=url) from None
        if not addresses:  # before robots.txt, whose fetch would fail the same way
            raise DNSError(f"{host} did not resolve", url=url)
        # Pin the connection to what was just checked (DNS rebinding).
        self._pins[host] = tuple(dict.fromkeys(addresses))
        if robots:
            verdict = await self._robots.check(url)
            if not verdict.allowed:
                if verdict.reason.startswith("unreachable"):
                    raise RobotsUnreachable(f"robots.txt {verdict.reason}; crawling disallowed", url=url)
                raise RobotsDisallowed("disallowed by robots.txt", url=url)
            if verdict.crawl_delay is not None:
                state = self._host(url)
                state.delay = max(self.config.per_host_delay, verdict.crawl_delay)
        return parsed

    async def _chain(
        self,
        url: str,
        *,
        max_redirects: int,
        max_bytes: int,
        robots: bool,
        conditional: bool,
        page: bool,
        allow_gzip_file: bool = False,
        truncate: bool = False,
    ) -> _Raw:
        """Follow redirects by hand from ``url``; return the final exchange."""
        if self._http is None:
            raise RuntimeError("Fetcher must be used as 'async with Fetcher(...) as fetcher'")
        current = url
        redirects: list[str] = []
        seen: set[str] | None = None  # normalised URLs of this chain, built at the first redirect
        while True:
            parsed = await self._check_hop(current, robots=robots)
            cached = self._validators(current) if conditional else None
            state = self._host(current)
            async with state.semaphore:
                await self._wait_turn(state)
                try:
                    async with self._connections, asyncio.timeout(self.config.total_timeout):
                        raw = await self._exchange(current, parsed, max_bytes=max_bytes, cached=cached, page=page,
                                                   allow_gzip_file=allow_gzip_file, truncate=truncate)  # fmt: skip
                except TimeoutError:
                    exc = FetchTimeout(f"no complete response within {self.config.total_timeout}s (deadline)",
                                       url=current)  # fmt: skip
                    exc.retryable = False  # a dripping server will drip again
                    raise exc from None
            if isinstance(raw, str):  # a redirect target
                target = raw
                if seen is None:
                    seen = {normalize_url(url, strip_tracking=False)}
                key = normalize_url(target, strip_tracking=False)
                if key in seen or len(redirects) >= max_redirects:
                    chain = (url, *redirects, target)
                    what = (
                        f"redirect loop back to {target}"
                        if key in seen
                        else f"more than {max_redirects} redirects"
                    )
                    raise TooManyRedirects(f"{what}: {_chain_text(chain)}", url=url, chain=chain)
                seen.add(key)
                redirects.append(target)
                current = target
                continue
            raw.redirects = redirects
            if raw.status == 304 and cached is not None:
                self.stats.not_modified += 1
                raw.body = cached.body
                raw.from_cache = True
                raw.status = 200
                raw.final_url = cached.final_url
                merged = dict(cached.headers)
                merged.update(
                    {k: v for k, v in raw.headers.items() if k in ("etag", "last-modified", "date")}
                )
                if cached.content_type and "content-type" not in merged:
                    merged["content-type"] = cached.content_type
                raw.headers = merged
            elif page and 200 <= raw.status < 300 and conditional:
                # Validators belong to the URL that answered: after a redirect that is the final
                # URL, which the next fetch of ``url`` reaches (and revalidates) again.
                self.cache.put(raw.final_url, etag=raw.headers.get("etag"), last_modified=raw.headers.get("last-modified"),
                               body=raw.body, content_type=raw.headers.get("content-type", ""),
                               final_url=raw.final_url, headers=raw.headers)  # fmt: skip
            return raw

    def _validators(self, url: str) -> CacheEntry | None:
        """The cached entry to revalidate ``url`` with, if its validators belong to ``url``.

        Entries are stored under the URL that answered 200. An older cache may hold an entry
        under a URL that redirected elsewhere (``final_url`` differs): its validators are the
        target's, so they are not sent to the redirecting URL."""
        entry = self.cache.get(url)
        if entry is None or (entry.final_url and entry.final_url != url):
            return None
        return entry

    async def _exchange(
        self,
        url: str,
        parsed: httpx.URL,
        *,
        max_bytes: int,
        cached: CacheEntry | None,
        page: bool,
        allow_gzip_file: bool,
        truncate: bool,
    ) -> _Raw | str:
        """One request/response. Returns the redirect target (str) or the response."""
        assert self._http is not None
        headers = self._headers
        if cached is not None:
            headers = dict(headers)
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        self.stats.requests += 1
        reading = False  # set once the status and headers are in and the body is being read
        try:
            request = httpx.Request("GET", parsed, headers=headers, extensions={"timeout": self._timeouts})
            resp = await self._http.handle_async_request(request)
            resp.request = request
            try:
                status = resp.status_code
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                if status in _REDIRECT_STATUSES and resp_headers.get("location"):
                    # The body of a 3xx is never read; closing the stream discards it.
                    try:
                        return urljoin(url, resp_headers["location"].strip())
                    except ValueError as exc:
                        raise BlockedURL(f"malformed redirect target: {exc}", url=url) from None
                if status == 304 and cached is not None:
                    return _Raw(url, 304, resp_headers, b"", [])
                if page and not 200 <= status < 300:
                    err = HTTPStatusError(
                        f"HTTP {status} {resp.reason_phrase}".strip(), url=url, status=status
                    )
                    err.retry_after = parse_retry_after(resp_headers.get("retry-after"))  # type: ignore[attr-defined]
                    raise err
                media = _media_type(resp_headers.get("content-type"))
                if page:
                    self._check_type(url, media, allow_gzip_file)
                if not truncate:
                    declared = resp_headers.get("content-length", "")
                    codings = _content_codings(resp_headers.get("content-encoding"))
                    if declared.isdigit() and not codings and int(declared) > max_bytes:
                        raise ResponseTooLarge(
                            f"Content-Length {declared} exceeds {max_bytes} bytes", url=url
                        )
                reading = True
                body = await self._read_body(resp, url, max_bytes, truncate=truncate)
            finally:
                await resp.aclose()
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{type(exc).__name__}: {exc}".rstrip(": "), url=url) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            if isinstance(exc.__cause__, _CertificateRefused):
                raise TLSError(f"certificate refused: {exc}", url=url) from None
            if reading and _cut_short(exc):  # the headers came, then the connection ended
                raise TruncatedResponse(f"body cut short: {type(exc).__name__}: {exc}".rstrip(": "),
                                        url=url) from None  # fmt: skip
            raise ConnectError(f"{type(exc).__name__}: {exc}".rstrip(": "), url=url) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise BlockedURL(str(exc), url=url) from None
        except httpx.HTTPError as exc:
            raise ConnectError(f"{type(exc).__name__}: {exc}".rstrip(": "), url=url) from None
        self.stats.bytes += len(body)
        return _Raw(str(url), status, resp_headers, body, [])

    @staticmethod
    def _check_type(url: str, media: str, allow_gzip_file: bool) -> None:
        if allow_gzip_file and media in _GZIP_TYPES:
            return
        if media.startswith(_BINARY_PREFIXES) or media in _BINARY_TYPES:
            raise UnsupportedContent(f"content type {media!r} is not a page or feed", url=url)

    async def _read_body(self, resp: httpx.Response, url: str, max_bytes: int, *, truncate: bool) -> bytes:
        codings = _content_codings(resp.headers.get("content-encoding"))
        if len(codings) > self.config.max_encodings:
            raise DecodingError(f"{len(codings)} chained content-encodings (max {self.config.max_encodings})",
                                url=url)  # fmt: skip
        for coding in codings:
            if not supports_coding(coding):  # compress, zstd, ...: not offered in Accept-Encoding
                raise UnsupportedContent(f"unsupported content-encoding {coding!r}", url=url)
        decoders = [ContentDecoder(c, max_bytes) for c in reversed(codings)]
        out = bytearray()
        raw_total = 0
        try:
            async for chunk in resp.aiter_raw():
                raw_total += len(chunk)
                if raw_total > max_bytes and not truncate:
                    raise ResponseTooLarge(f"body exceeds {max_bytes} bytes", url=url)
                for dec in decoders:
                    chunk = dec.feed(chunk)
                out += chunk
                if len(out) > max_bytes or raw_total > max_bytes:
                    if truncate:
                        return bytes(out[:max_bytes])
                    raise ResponseTooLarge(f"body exceeds {max_bytes} bytes", url=url)
            for i, dec in enumerate(decoders):
                data = dec.flush()
                for nxt in decoders[i + 1 :]:
                    data = nxt.feed(data)
                out += data
        except ResponseTooLarge as exc:
            if truncate:
                return bytes(out[:max_bytes])
            exc.url = url
            raise
        except DecodingError as exc:
            exc.url = url
            raise
        if len(out) > max_bytes:
            if truncate:
                return bytes(out[:max_bytes])
            raise ResponseTooLarge(f"body exceeds {max_bytes} bytes", url=url)
        return bytes(out)

    def _result(
        self, url: str, raw: _Raw, attempts: int, elapsed: float, allow_gzip_file: bool
    ) -> FetchResult:
        content_type = raw.headers.get("content-type", "")
        media = _media_type(content_type)
        body = raw.body
        gzip_file = allow_gzip_file and body[:2] == b"\x1f\x8b"
        if not gzip_file:
            binary = looks_binary(body)
            if binary:
                head = body[:1024]
                digest = hashlib.sha256(head).hexdigest()
                err = UnsupportedContent(f"body looks like {binary}, not a page or feed (first bytes "
                                         f"{head[:16]!r}, sha256 of the first {len(head)} bytes {digest})",
                                         url=url, attempts=attempts)  # fmt: skip
                err.head_sha256 = digest
                raise err
        text: str | None = None
        encoding: str | None = None
        source: str | None = None
        is_text = media in _TEXT_TYPES or media.startswith("text/html")
        if (
            not gzip_file
            and is_text
            and (not _looks_like_xml(body) or media in ("text/html", "application/xhtml+xml"))
        ):
            decoded = decode_bytes(body, content_type=content_type or None)
            text, encoding, source = decoded.text, decoded.encoding, decoded.source
        return FetchResult(
            url=url,
            final_url=raw.final_url,
            status=raw.status,
            headers=MappingProxyType(dict(raw.headers)),
            body=body,
            text=text,
            content_type=media,
            encoding=encoding,
            redirects=tuple(raw.redirects),
            attempts=attempts,
            from_cache=raw.from_cache,
            elapsed=elapsed,
            encoding_source=source,
        )


def _looks_like_xml(body: bytes) -> bool:
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex"))
