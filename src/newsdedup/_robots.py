"""robots.txt per RFC 9309, parsed by Protego, cached per host.

Status handling is the part most crawlers get wrong (reliability-checklist §6), so it is spelled
out here rather than left to the parser:

* 2xx: parse at most :data:`MAX_ROBOTS_PARSE` bytes of the body.
* 4xx other than 429: "unavailable", everything is allowed.
* 5xx, 429 or a network error: "unreachable", everything is **disallowed**; that verdict is
  cached only briefly (``unreachable_ttl``) so a transient outage is retried soon.

The module does no I/O itself: the fetcher passes a coroutine that returns ``(status, body)``
(following up to 5 redirects, through the same SSRF guard as every other request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from ._exceptions import FetchError

__all__ = ["MAX_ROBOTS_PARSE", "RobotsCache", "RobotsVerdict", "robots_url"]

logger = logging.getLogger("newsdedup")

MAX_ROBOTS_PARSE = 500 * 1024
"""RFC 9309 §2.5: parsers must handle at least 500 KiB; anything after it is ignored."""

RobotsFetch = Callable[[str], Awaitable[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class RobotsVerdict:
    """Whether a URL may be fetched, and the host's Crawl-delay if it set one."""

    allowed: bool
    crawl_delay: float | None = None
    reason: str = ""
    """``"rules"``, ``"unavailable"`` (4xx), ``"unreachable"`` (5xx/429/network) or ``"off"``."""


@dataclass(slots=True)
class _Entry:
    parser: Protego | None
    state: str  # "rules" | "unavailable" | "unreachable"
    expires: float
    detail: str = ""


def robots_url(url: str) -> str:
    """The robots.txt URL governing ``url`` (same scheme, host and port)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), "/robots.txt", "", ""))


class RobotsCache:
    """Fetches, parses and caches robots.txt per origin; one fetch per origin at a time."""

    def __init__(
        self,
        fetch: RobotsFetch,
        *,
        user_agent_token: str = "newsdedup",
        cache_ttl: float = 86_400.0,
        unreachable_ttl: float = 600.0,
        max_crawl_delay: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._token = user_agent_token
        self._ttl = cache_ttl
        self._unreachable_ttl = unreachable_ttl
        self._max_delay = max_crawl_delay
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str) -> RobotsVerdict:
        """Verdict for ``url``; never raises for network problems (they mean "disallow")."""
        key = robots_url(url)
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            lock = self._locks.setdefault(key, asyncio.Lock())
            async with lock:
                entry = self._entries.get(key)
                if entry is None or entry.expires <= self._clock():
                    entry = await self._load(key)
                    self._entries[key] = entry
        return self._verdict(entry, url)

    def _verdict(self, entry: _Entry, url: str) -> RobotsVerdict:
        if entry.state == "unavailable":
            return RobotsVerdict(True, None, "unavailable")
        if entry.state == "unreachable" or entry.parser is None:
            return RobotsVerdict(False, None, "unreachable: " + entry.detail)
        parser = entry.parser
        allowed = bool(parser.can_fetch(url, self._token))
        delay = parser.crawl_delay(self._token)
        crawl_delay = min(float(delay), self._max_delay) if delay is not None else None
        if crawl_delay is not None and crawl_delay < 0:
            crawl_delay = None
        return RobotsVerdict(allowed, crawl_delay, "rules")

    async def _load(self, key: str) -> _Entry:
        now = self._clock()
        try:
            status, body = await self._fetch(key)
        except FetchError as exc:
            logger.info("robots.txt %s unreachable: %s", key, exc)
            return _Entry(None, "unreachable", now + self._unreachable_ttl, f"{exc.kind}: {exc}")
        if 200 <= status < 300:
            text = body[:MAX_ROBOTS_PARSE].decode("utf-8", "replace")
            try:
                parser = Protego.parse(text)
            except Exception as exc:  # Protego is lenient; a crash still must not stop a crawl
                logger.warning("robots.txt %s could not be parsed (%s); treating as allow-all", key, exc)
                return _Entry(None, "unavailable", now + self._ttl)
            return _Entry(parser, "rules", now + self._ttl)
        if status == 429 or status >= 500:
            return _Entry(None, "unreachable", now + self._unreachable_ttl, f"HTTP {status}")
        if 400 <= status < 500:
            return _Entry(None, "unavailable", now + self._ttl)
        # 1xx or 3xx left after following redirects: the file is effectively unreachable.
        return _Entry(None, "unreachable", now + self._unreachable_ttl, f"HTTP {status}")

    def sitemaps(self, url: str) -> list[str]:
        """``Sitemap:`` lines of the cached robots.txt for ``url``'s origin (empty if none)."""
        entry = self._entries.get(robots_url(url))
        if entry is None or entry.parser is None:
            return []
        return list(entry.parser.sitemaps)
