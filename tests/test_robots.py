"""robots.txt status handling (RFC 9309), caching, Crawl-delay and size limits, without a network."""

from __future__ import annotations

import asyncio

from newsdedup._exceptions import ConnectError
from newsdedup._robots import MAX_ROBOTS_PARSE, RobotsCache, robots_url


class FakeRobots:
    def __init__(self, status: int = 200, body: bytes = b"", error: Exception | None = None) -> None:
        self.status, self.body, self.error = status, body, error
        self.calls: list[str] = []

    async def __call__(self, url: str) -> tuple[int, bytes]:
        self.calls.append(url)
        if self.error is not None:
            raise self.error
        return self.status, self.body


def check(cache: RobotsCache, url: str):  # type: ignore[no-untyped-def]
    return asyncio.run(cache.check(url))


def test_robots_url() -> None:
    assert robots_url("HTTPS://Example.com:8443/a/b?c=1") == "https://example.com:8443/robots.txt"


def test_rules_and_longest_match() -> None:
    fetch = FakeRobots(
        body=b"User-agent: *\nDisallow: /news/\nAllow: /news/public/\nCrawl-delay: 2\nSitemap: https://e.com/s.xml\n"
    )
    cache = RobotsCache(fetch)
    assert not check(cache, "https://e.com/news/x").allowed
    verdict = check(cache, "https://e.com/news/public/x")
    assert verdict.allowed
    assert verdict.crawl_delay == 2.0
    assert cache.sitemaps("https://e.com/") == ["https://e.com/s.xml"]
    assert fetch.calls == ["https://e.com/robots.txt"]  # cached


def test_status_handling() -> None:
    assert check(RobotsCache(FakeRobots(404)), "https://e.com/x").allowed
    assert check(RobotsCache(FakeRobots(401)), "https://e.com/x").allowed
    for status in (429, 500, 503):
        verdict = check(RobotsCache(FakeRobots(status, b"User-agent: *\nAllow: /")), "https://e.com/x")
        assert not verdict.allowed
        assert verdict.reason.startswith("unreachable")
    verdict = check(RobotsCache(FakeRobots(error=ConnectError("refused"))), "https://e.com/x")
    assert not verdict.allowed


def test_unreachable_is_retried_after_short_ttl() -> None:
    now = [0.0]
    fetch = FakeRobots(503)
    cache = RobotsCache(fetch, unreachable_ttl=60, clock=lambda: now[0])
    assert not check(cache, "https://e.com/x").allowed
    now[0] = 30
    check(cache, "https://e.com/x")
    assert len(fetch.calls) == 1
    fetch.status, fetch.body = 200, b""
    now[0] = 61
    assert check(cache, "https://e.com/x").allowed
    assert len(fetch.calls) == 2


def test_crawl_delay_capped_and_agent_token() -> None:
    body = b"User-agent: newsdedup\nCrawl-delay: 500\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n"
    cache = RobotsCache(FakeRobots(body=body), max_crawl_delay=30)
    verdict = check(cache, "https://e.com/ok")
    assert verdict.allowed
    assert verdict.crawl_delay == 30
    assert not check(cache, "https://e.com/private/1").allowed
    other = RobotsCache(FakeRobots(body=body), user_agent_token="otherbot")
    assert not check(other, "https://e.com/ok").allowed


def test_only_first_500_kib_parsed() -> None:
    filler = b"# " + b"x" * 100 + b"\n"
    body = filler * (MAX_ROBOTS_PARSE // len(filler) + 10) + b"User-agent: *\nDisallow: /\n"
    assert check(RobotsCache(FakeRobots(body=body)), "https://e.com/x").allowed


def test_garbage_robots_does_not_crash() -> None:
    body = bytes(range(256)) * 50 + b"\nUser-agent: *\nDisallow: /x\n<html>oops</html>"
    cache = RobotsCache(FakeRobots(body=body))
    assert not check(cache, "https://e.com/x/1").allowed
    assert check(cache, "https://e.com/y").allowed
