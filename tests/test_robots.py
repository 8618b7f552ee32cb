"""robots.txt status handling (RFC 9309), caching, Crawl-delay and size limits (without a network),
and the cache's lifetimes through the fetcher against a server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from newsdedup._exceptions import ConnectError, RobotsDisallowed, RobotsUnreachable
from newsdedup._fetch import FetchConfig, Fetcher
from newsdedup._robots import MAX_ROBOTS_PARSE, RobotsCache, robots_url
from servers import LocalServer, Response


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


# --------------------------------------------------------------------------------------------
# Through the fetcher, against a real server on 127.0.0.1 (audit R7)


def _fetches_at(srv: LocalServer, steps: list[tuple[float, Callable[[], None] | None]]) -> list[object]:
    """Fetch ``/news/a`` once per ``(time, change)`` step, the robots cache's clock set to the
    time and the change (to the site) made first; per step the page's status or the robots
    error's kind, then how many times robots.txt was requested so far."""
    config = FetchConfig(allow_private=True, per_host_delay=0.0, max_attempts=1, total_timeout=5.0)

    async def go() -> list[object]:
        outcomes: list[object] = []
        now = [steps[0][0]]
        async with Fetcher(config) as f:
            f.robots._clock = lambda: now[0]  # the cache's own clock (time.monotonic by default)
            for at, change in steps:
                now[0] = at
                if change is not None:
                    change()
                try:
                    outcomes.append((await f.fetch(srv.url("/news/a"))).status)
                except (RobotsDisallowed, RobotsUnreachable) as exc:
                    outcomes.append(exc.kind)
                outcomes.append(srv.hits["/robots.txt"])
        return outcomes

    return asyncio.run(go())


def test_robots_txt_is_cached_for_robots_ttl_then_fetched_again() -> None:
    """Audit R7. Guards: the fetcher keeps a host's robots.txt for ``robots_ttl`` (24 h by
    default) and no longer: a rule the site adds meanwhile is not seen one second before the
    TTL ends (no second robots.txt request) and is obeyed one second after it (fetched again).
    The clock is the RobotsCache's injectable one, set on the fetcher's own cache."""
    assert FetchConfig().robots_ttl == 86_400.0
    rules = {"now": "User-agent: *\nDisallow: /private/\n"}
    with LocalServer() as srv:
        srv.route("/robots.txt", lambda _req: Response(body=rules["now"], content_type="text/plain"))
        srv.page("/news/a", "<html><body><p>A story about the harbour.</p></body></html>")
        outcomes = _fetches_at(srv, [
            (5_000.0, None),
            (5_000.0 + 86_400 - 1, lambda: rules.update(now="User-agent: *\nDisallow: /news/\n")),  # cached still
            (5_000.0 + 86_400 + 1, None),  # expired: the new rules apply
        ])  # fmt: skip
        assert srv.hits["/news/a"] == 2
    assert outcomes == [200, 1, 200, 1, "robots-disallowed", 2]


def test_unreachable_robots_txt_is_asked_again_after_robots_unreachable_ttl() -> None:
    """Guards the short TTL of an unreachable verdict through the fetcher: a 503 robots.txt
    blocks the host for ``robots_unreachable_ttl`` (10 min by default), then is asked again."""
    assert FetchConfig().robots_unreachable_ttl == 600.0
    state = {"status": 503}
    with LocalServer() as srv:
        srv.route("/robots.txt", lambda _req: Response(state["status"], "", content_type="text/plain"))
        srv.page("/news/a", "<html><body><p>A story about the harbour.</p></body></html>")
        back_up = lambda: state.update(status=404)  # noqa: E731  (no robots.txt: all allowed)
        outcomes = _fetches_at(srv, [(100.0, None), (100.0 + 600 - 1, back_up), (100.0 + 600 + 1, None)])
    assert outcomes == ["robots-unreachable", 1, "robots-unreachable", 1, 200, 2]
