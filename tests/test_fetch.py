"""The fetcher against real local servers: every fault ends as a typed error or a correct result."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import resource
import socket
import ssl
import struct
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import brotli
import httpcore
import pytest
from click.testing import CliRunner

from newsdedup._cli import main
from newsdedup._crawl import crawl
from newsdedup._decode import ContentDecoder
from newsdedup._exceptions import (
    BlockedURL,
    ConfigError,
    ConnectError,
    DecodingError,
    DNSError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    RobotsDisallowed,
    RobotsUnreachable,
    TLSError,
    TooManyRedirects,
    TruncatedResponse,
    UnsupportedContent,
)
from newsdedup._fetch import (
    DEFAULT_USER_AGENT,
    FetchConfig,
    Fetcher,
    FetchErrorRecord,
    MemoryFetchCache,
    _AsyncioBackend,
    parse_retry_after,
)
from servers import LocalServer, Response, article_html, deflate_bytes, gzip_bomb, gzip_bytes, self_signed_tls

T = TypeVar("T")

PAGE = article_html(
    "Harbour cranes return after storm",
    [
        "Port operators restarted the last of the container cranes on Tuesday after a storm that closed the harbour for two days.",
        "Shipping lines said the backlog of vessels waiting offshore would clear by the weekend.",
    ],
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def cfg(**kw: Any) -> FetchConfig:
    base: dict[str, Any] = {
        "allow_private": True,
        "per_host_delay": 0.0,
        "backoff_base": 0.01,
        "backoff_max": 0.05,
        "total_timeout": 3.0,
        "read_timeout": 2.0,
        "connect_timeout": 2.0,
        "max_attempts": 3,
    }
    base.update(kw)
    return FetchConfig(**base)


async def fetch(url: str, config: FetchConfig | None = None, **kw: Any) -> Any:
    async with Fetcher(config or cfg()) as f:
        return await f.fetch(url, **kw)


@pytest.fixture
def srv():
    with LocalServer() as server:
        yield server


def test_plain_page(srv: LocalServer) -> None:
    srv.page("/a", PAGE)
    result = run(fetch(srv.url("/a")))
    assert result.status == 200
    assert result.content_type == "text/html"
    assert "Harbour cranes" in result.text
    assert result.encoding == "utf-8"
    assert result.final_url == srv.url("/a")
    assert not result.from_cache
    ua = [r.headers.get("user-agent") for r in srv.requests if r.path == "/a"]
    assert ua == [DEFAULT_USER_AGENT]
    assert "gzip" in srv.requests[-1].headers["accept-encoding"]
    assert result.to_dict()["bytes"] == len(PAGE.encode())


def test_robots_disallow(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(body="User-agent: *\nDisallow: /private/\n", content_type="text/plain"))
    srv.page("/private/x", PAGE)
    srv.page("/public/x", PAGE)

    async def go() -> None:
        async with Fetcher(cfg()) as f:
            with pytest.raises(RobotsDisallowed):
                await f.fetch(srv.url("/private/x"))
            assert (await f.fetch(srv.url("/public/x"))).status == 200

    run(go())
    assert srv.hits["/private/x"] == 0
    assert srv.hits["/robots.txt"] == 1  # cached per host


def test_robots_5xx_means_disallow(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(503, "busy", content_type="text/plain"))
    srv.page("/a", PAGE)
    with pytest.raises(RobotsUnreachable):
        run(fetch(srv.url("/a")))
    assert srv.hits["/a"] == 0


def test_robots_4xx_means_allow(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(403, "forbidden", content_type="text/plain"))
    srv.page("/a", PAGE)
    assert run(fetch(srv.url("/a"))).status == 200


def test_robots_redirect_followed_and_agent_specific(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(301, "", headers={"Location": "/real-robots.txt"}))
    srv.route(
        "/real-robots.txt",
        Response(
            body="User-agent: newsdedup\nDisallow: /news/\n\nUser-agent: *\nAllow: /\n",
            content_type="text/plain",
        ),
    )
    srv.page("/news/a", PAGE)
    with pytest.raises(RobotsDisallowed):
        run(fetch(srv.url("/news/a")))


def test_robots_behind_five_redirects_is_followed_and_six_is_unreachable(srv: LocalServer) -> None:
    """RFC 9309 asks for at least five redirects; past them the file counts as unreachable
    (disallow, re-checked after ``robots_unreachable_ttl``), the conservative side of the RFC's
    "MAY assume unavailable"."""
    for hop in range(5):
        srv.route(f"/r{hop}/robots.txt", Response(301, "", headers={"Location": f"/r{hop + 1}/robots.txt"}))
    srv.route("/r5/robots.txt", Response(body="User-agent: *\nDisallow: /news/\n", content_type="text/plain"))
    srv.route("/robots.txt", Response(301, "", headers={"Location": "/r1/robots.txt"}))  # 5 hops
    srv.page("/news/a", PAGE)
    srv.page("/b", PAGE)
    with pytest.raises(RobotsDisallowed):
        run(fetch(srv.url("/news/a")))
    assert run(fetch(srv.url("/b"))).status == 200

    srv.route("/robots.txt", Response(301, "", headers={"Location": "/r0/robots.txt"}))  # 6 hops
    with pytest.raises(RobotsUnreachable, match="redirect"):
        run(fetch(srv.url("/b")))


def test_robots_can_be_turned_off(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(body="User-agent: *\nDisallow: /\n", content_type="text/plain"))
    srv.page("/a", PAGE)
    assert run(fetch(srv.url("/a"), cfg(obey_robots=False))).status == 200
    assert srv.hits["/robots.txt"] == 0


def test_crawl_delay_spaces_requests(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(body="User-agent: *\nCrawl-delay: 0.3\n", content_type="text/plain"))
    for i in range(3):
        srv.page(f"/p{i}", PAGE)

    async def go() -> float:
        async with Fetcher(cfg(per_host_concurrency=4)) as f:
            start = time.monotonic()
            await asyncio.gather(*(f.fetch(srv.url(f"/p{i}")) for i in range(3)))
            return time.monotonic() - start

    elapsed = run(go())
    # robots.txt, then three pages 0.3 s apart: the last starts >= 0.6 s after the first.
    assert elapsed >= 0.55


def test_crawl_delay_is_capped(srv: LocalServer) -> None:
    srv.route("/robots.txt", Response(body="User-agent: *\nCrawl-delay: 3600\n", content_type="text/plain"))
    srv.page("/a", PAGE)
    srv.page("/b", PAGE)

    async def go() -> float:
        async with Fetcher(cfg(max_crawl_delay=0.2)) as f:
            start = time.monotonic()
            await f.fetch(srv.url("/a"))
            await f.fetch(srv.url("/b"))
            return time.monotonic() - start

    assert 0.15 <= run(go()) < 2


def test_429_with_retry_after_seconds(srv: LocalServer) -> None:
    calls: list[float] = []

    def handler(_req: Any) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response(429, "slow down", headers={"Retry-After": "1"})
        return Response(body=PAGE)

    srv.route("/a", handler)
    result = run(fetch(srv.url("/a")))
    assert result.status == 200
    assert result.attempts == 2
    assert calls[1] - calls[0] >= 0.9


def test_retry_after_is_honoured_up_to_the_cap_and_not_slept_beyond(srv: LocalServer) -> None:
    """A Retry-After within ``retry_after_max`` is waited for, then the fetch is retried; one
    asking for a day fails at once, saying why, instead of holding the fetch slot asleep."""
    calls: dict[str, list[float]] = {"/soon": [], "/tomorrow": []}

    def handler(req: Any) -> Response:
        seen = calls[req.path]
        seen.append(time.monotonic())
        if len(seen) == 1:
            wait = "1" if req.path == "/soon" else "86400"
            return Response(503, "maintenance", headers={"Retry-After": wait})
        return Response(body=PAGE)

    for path in calls:
        srv.route(path, handler)
    config = cfg(retry_after_max=5.0, max_attempts=3)
    assert run(fetch(srv.url("/soon"), config)).attempts == 2
    assert 0.9 <= calls["/soon"][1] - calls["/soon"][0] < 4
    started = time.monotonic()
    with pytest.raises(HTTPStatusError, match="Retry-After 86400 s is over retry_after_max") as caught:
        run(fetch(srv.url("/tomorrow"), config))
    assert time.monotonic() - started < 2
    assert caught.value.status == 503
    assert len(calls["/tomorrow"]) == 1


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    # absurd values a server may send (checklist H1): never an exception
    assert parse_retry_after("1" + "0" * 400) == float("inf")  # "not for ages": over any cap
    assert parse_retry_after("\u00b2") is None  # a superscript two is a Unicode digit, not a number
    assert parse_retry_after("\u0663") is None  # an Arabic-Indic three
    assert parse_retry_after("Wed, 21 Oct 99999 07:28:00 GMT") is None


def test_an_absurd_retry_after_is_a_record_and_the_other_urls_are_kept(srv: LocalServer) -> None:
    """A 503 whose Retry-After is a 400-digit number is not retried (it is over
    retry_after_max) and one with a superscript digit gets the normal backoff: both are error
    records, and ``fetch_many`` still returns the good page beside them."""
    srv.route("/big", Response(503, "busy", headers={"Retry-After": "1" + "0" * 400}))
    srv.route("/sup", Response(503, "busy", headers={"Retry-After": "\u00b2"}))
    srv.page("/ok", PAGE)

    async def go() -> list[Any]:
        async with Fetcher(cfg(obey_robots=False, max_attempts=2)) as f:
            return await f.fetch_many([srv.url("/ok"), srv.url("/big"), srv.url("/sup")])

    ok, big, sup = run(go())
    assert "Harbour cranes" in ok.text
    assert (big.error, big.attempts, sup.error, sup.attempts) == ("http-status", 1, "http-status", 2)
    assert "over retry_after_max" in big.detail


def test_500_then_success(srv: LocalServer) -> None:
    state = {"n": 0}

    def handler(_req: Any) -> Response:
        state["n"] += 1
        return Response(500, "oops") if state["n"] < 3 else Response(body=PAGE)

    srv.route("/a", handler)
    result = run(fetch(srv.url("/a")))
    assert result.attempts == 3
    assert "Harbour" in result.text


def test_permanent_500_gives_up(srv: LocalServer) -> None:
    srv.route("/a", Response(500, "oops"))
    with pytest.raises(HTTPStatusError) as info:
        run(fetch(srv.url("/a")))
    assert info.value.status == 500
    assert info.value.attempts == 3
    assert srv.hits["/a"] == 3


def test_404_not_retried(srv: LocalServer) -> None:
    with pytest.raises(HTTPStatusError) as info:
        run(fetch(srv.url("/missing")))
    assert info.value.status == 404
    assert srv.hits["/missing"] == 1


def test_connection_reset(srv: LocalServer) -> None:
    srv.route("/a", Response(reset=True))
    with pytest.raises(ConnectError) as info:
        run(fetch(srv.url("/a"), cfg(max_attempts=2)))
    assert info.value.attempts == 2


def test_connection_refused() -> None:
    with LocalServer() as s:
        url = s.url("/a")  # the port is closed once the server stops
    with pytest.raises(ConnectError):
        run(fetch(url, cfg(max_attempts=1, obey_robots=False)))


def test_drip_feed_hits_total_deadline(srv: LocalServer) -> None:
    # One byte every 0.1 s never trips the 2 s read timeout, only the 1 s total deadline.
    srv.route("/a", Response(body=PAGE, drip=0.1))
    start = time.monotonic()
    with pytest.raises(FetchTimeout) as info:
        run(fetch(srv.url("/a"), cfg(total_timeout=1.0)))
    assert time.monotonic() - start < 3
    assert "deadline" in str(info.value)
    assert info.value.attempts == 1  # a deadline is not retried


def test_gzip_bomb_stopped_at_cap(srv: LocalServer) -> None:
    bomb = gzip_bomb(300)  # ~300 KiB on the wire, 300 MiB expanded
    assert len(bomb) < 1_000_000
    srv.route("/bomb", Response(body=bomb, headers={"Content-Encoding": "gzip"}))
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge):
            run(fetch(srv.url("/bomb"), cfg(max_body_bytes=2 * 1024 * 1024)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024


def test_double_gzip_and_deflate_and_brotli(srv: LocalServer) -> None:
    data = PAGE.encode()
    srv.route("/gz2", Response(body=gzip_bytes(gzip_bytes(data)), headers={"Content-Encoding": "gzip, gzip"}))
    srv.route("/zlib", Response(body=deflate_bytes(data), headers={"Content-Encoding": "deflate"}))
    srv.route(
        "/rawdeflate", Response(body=deflate_bytes(data, raw=True), headers={"Content-Encoding": "deflate"})
    )
    srv.route("/br", Response(body=brotli.compress(data), headers={"Content-Encoding": "br"}))
    for path in ("/gz2", "/zlib", "/rawdeflate", "/br"):
        assert run(fetch(srv.url(path))).body == data, path


def test_too_many_encodings_and_unknown_encoding(srv: LocalServer) -> None:
    data = PAGE.encode()
    srv.route(
        "/gz3",
        Response(
            body=gzip_bytes(gzip_bytes(gzip_bytes(data))), headers={"Content-Encoding": "gzip, gzip, gzip"}
        ),
    )
    srv.route(
        "/broken", Response(body=b"\x1f\x8bnot really gzip at all", headers={"Content-Encoding": "gzip"})
    )
    for path in ("/gz3", "/broken"):
        with pytest.raises(DecodingError):
            run(fetch(srv.url(path)))
    # A coding the fetcher never offered is unsupported content, not a broken stream.
    srv.route("/zstd", Response(body=data, headers={"Content-Encoding": "zstd"}))
    srv.route("/compress", Response(body=data, headers={"Content-Encoding": "compress"}))
    srv.route("/gz-zstd", Response(body=gzip_bytes(data), headers={"Content-Encoding": "zstd, gzip"}))
    for path in ("/zstd", "/compress", "/gz-zstd"):
        with pytest.raises(UnsupportedContent, match="content-encoding") as info:
            run(fetch(srv.url(path)))
        assert info.value.kind == "unsupported-content"
        assert not isinstance(info.value, DecodingError)
        assert srv.hits[path] == 1  # refused, not retried


def test_brotli_bomb_stopped_at_cap(srv: LocalServer) -> None:
    bomb = brotli.compress(b"\x00" * (16 * 1024 * 1024), quality=1)
    srv.route("/brbomb", Response(body=bomb, headers={"Content-Encoding": "br"}))
    with pytest.raises(ResponseTooLarge):
        run(fetch(srv.url("/brbomb"), cfg(max_body_bytes=1024 * 1024)))


def test_plain_body_over_cap(srv: LocalServer) -> None:
    srv.route("/big", Response(body=b"<p>" + b"a" * 300_000 + b"</p>"))
    srv.route("/chunked", Response(chunks=iter([b"<p>" + b"b" * 50_000] * 10)))
    for path in ("/big", "/chunked"):
        with pytest.raises(ResponseTooLarge):
            run(fetch(srv.url(path), cfg(max_body_bytes=100_000)))


def test_redirects_followed_and_loop_detected(srv: LocalServer) -> None:
    srv.route("/old", Response(301, "moved", headers={"Location": "/mid"}))
    srv.route("/mid", Response(302, "x" * 100, headers={"Location": "/new"}))
    srv.page("/new", PAGE)
    result = run(fetch(srv.url("/old")))
    assert result.final_url == srv.url("/new")
    assert result.redirects == (srv.url("/mid"), srv.url("/new"))

    srv.route("/loop1", Response(302, "", headers={"Location": "/loop2"}))
    srv.route("/loop2", Response(302, "", headers={"Location": "/loop1?utm_source=x"}))
    srv.route("/loop1", Response(302, "", headers={"Location": "/loop2"}))
    with pytest.raises(TooManyRedirects) as loop:
        run(fetch(srv.url("/loop1")))
    # the chain is attached, and named in the message the errors file shows
    hops = (srv.url("/loop1"), srv.url("/loop2"), srv.url("/loop1?utm_source=x"), srv.url("/loop2"))
    assert loop.value.chain == hops
    assert str(loop.value) == f"redirect loop back to {hops[-1]}: " + " -> ".join(hops)


def test_redirect_hop_limit(srv: LocalServer) -> None:
    for i in range(5):
        srv.route(f"/r{i}", Response(302, "", headers={"Location": f"/r{i + 1}"}))
    srv.page("/r5", PAGE)
    with pytest.raises(TooManyRedirects) as hops:
        run(fetch(srv.url("/r0"), cfg(max_redirects=3)))
    assert hops.value.chain == tuple(srv.url(f"/r{i}") for i in range(5))
    assert str(hops.value).startswith("more than 3 redirects: ")
    assert run(fetch(srv.url("/r0"), cfg(max_redirects=5))).final_url == srv.url("/r5")


def test_a_long_redirect_chain_is_shortened_in_the_message() -> None:
    from newsdedup._fetch import _chain_text

    chain = tuple(f"https://a.example/{i}" for i in range(12))
    assert _chain_text(chain) == " -> ".join([*chain[:3], "... 6 more ...", *chain[-3:]])
    assert _chain_text(chain[:7]) == " -> ".join(chain[:7])


def test_redirect_to_private_or_other_scheme_blocked(srv: LocalServer) -> None:
    srv.route("/to-meta", Response(302, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"}))
    srv.route("/to-file", Response(302, "", headers={"Location": "file:///etc/passwd"}))
    with pytest.raises(BlockedURL, match="metadata"):
        run(fetch(srv.url("/to-meta")))
    with pytest.raises(BlockedURL, match="scheme"):
        run(fetch(srv.url("/to-file")))


def test_binary_by_type_and_by_magic(srv: LocalServer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    pdf = b"%PDF-1.7\n" + b"x" * 2000
    srv.route("/img", Response(body=png, content_type="image/png"))
    srv.route("/pdf", Response(body=pdf, content_type="text/html"))
    srv.route("/bin", Response(body=b"\x00\x01" * 100, content_type="application/octet-stream"))
    refused = {}
    for path in ("/img", "/pdf", "/bin"):
        with pytest.raises(UnsupportedContent) as info:
            run(fetch(srv.url(path)))
        refused[path] = info.value
    # refused on its type, the body was never read; refused on its content, a fingerprint of its
    # start is kept for diagnosis (H10)
    assert refused["/img"].head_sha256 is None
    assert refused["/bin"].head_sha256 is None
    assert refused["/pdf"].head_sha256 == hashlib.sha256(pdf[:1024]).hexdigest()
    assert refused["/pdf"].head_sha256 in str(refused["/pdf"])
    assert "%PDF-1.7" in str(refused["/pdf"])


def test_empty_body_is_a_result(srv: LocalServer) -> None:
    srv.route("/empty", Response(body=b""))
    result = run(fetch(srv.url("/empty")))
    assert result.body == b""
    assert result.text == ""


def test_latin1_page_with_charset_header(srv: LocalServer) -> None:
    html = "<html><body><p>Le café de la gare a rouvert, déclare le maire.</p></body></html>"
    srv.route("/fr", Response(body=html.encode("latin-1"), content_type="text/html; charset=ISO-8859-1"))
    result = run(fetch(srv.url("/fr")))
    assert "café" in result.text
    assert "déclare" in result.text
    assert result.encoding == "cp1252"
    assert (result.encoding_source, result.decoding_confident) == ("header", True)


def test_how_the_encoding_was_chosen_is_kept(srv: LocalServer) -> None:
    """Checklist C7: ``FetchResult.encoding_source`` says where the encoding came from, and
    ``decoding_confident`` is False when it is a detector's guess or a lossy decode."""
    text = "Le café de la gare a rouvert, déclare le maire. " * 4
    html = f"<html><body><p>{text}</p></body></html>"
    srv.route("/meta", Response(body=html.replace("<body>", '<head><meta charset="iso-8859-15"></head><body>')
                                .encode("iso-8859-15"), content_type="text/html"))  # fmt: skip
    srv.route("/undeclared", Response(body=html.encode("cp1252"), content_type="text/html"))
    srv.route(
        "/lying", Response(body=html.encode("cp1252") + b"\x81\x8d", content_type="text/html; charset=utf-8")
    )
    srv.route(
        "/feed",
        Response(body=b'<?xml version="1.0"?><rss version="2.0"></rss>', content_type="application/rss+xml"),
    )
    got = {path: run(fetch(srv.url(path))) for path in ("/meta", "/undeclared", "/lying", "/feed")}
    assert (got["/meta"].encoding_source, got["/meta"].decoding_confident) == ("meta", True)
    assert text in (got["/meta"].text or "")
    assert got["/undeclared"].encoding_source == "detected"
    assert got["/undeclared"].decoding_confident is False
    assert got["/lying"].decoding_confident is False  # not UTF-8 as announced: guessed or lossy
    assert (got["/feed"].encoding_source, got["/feed"].decoding_confident) == (None, None)
    assert got["/meta"].to_dict()["encoding_source"] == "meta"


def test_xml_is_not_decoded_to_text(srv: LocalServer) -> None:
    srv.route("/feed", Response(body=b"<?xml version='1.0'?><rss></rss>", content_type="application/rss+xml"))
    result = run(fetch(srv.url("/feed")))
    assert result.text is None
    assert result.content_type == "application/rss+xml"


def test_private_address_refused_by_default(srv: LocalServer) -> None:
    srv.page("/a", PAGE)
    with pytest.raises(BlockedURL, match="non-public"):
        run(fetch(srv.url("/a"), cfg(allow_private=False)))
    assert srv.hits["/a"] == 0
    assert srv.hits["/robots.txt"] == 0


def test_non_http_scheme_refused() -> None:
    for url in (
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:6379/_INFO",
        "javascript:alert(1)",
    ):
        with pytest.raises(BlockedURL):
            run(fetch(url))


def test_conditional_get_304(srv: LocalServer) -> None:
    def handler(req: Any) -> Response:
        if req.headers.get("if-none-match") == '"v1"':
            return Response(304, b"", content_type=None, headers={"ETag": '"v1"'})
        return Response(body=PAGE, headers={"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})

    srv.route("/a", handler)
    cache = MemoryFetchCache()

    async def go() -> tuple[Any, Any]:
        async with Fetcher(cfg(), cache=cache) as f:
            first = await f.fetch(srv.url("/a"))
            second = await f.fetch(srv.url("/a"))
            return first, second

    first, second = run(go())
    assert not first.from_cache
    assert second.from_cache
    assert second.body == first.body
    assert second.status == 200
    assert second.content_type == "text/html"
    assert srv.requests[-1].headers["if-modified-since"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert len(cache) == 1


def test_fetch_many_records_errors(srv: LocalServer) -> None:
    srv.page("/ok", PAGE)
    srv.route("/gone", Response(410, "gone"))

    async def go() -> list[Any]:
        async with Fetcher(cfg()) as f:
            return await f.fetch_many([srv.url("/ok"), srv.url("/gone"), "ftp://x/y"])

    ok, gone, ftp = run(go())
    assert ok.status == 200
    assert isinstance(gone, FetchErrorRecord)
    assert gone.error == "http-status"
    assert gone.attempts == 1
    assert isinstance(ftp, FetchErrorRecord)
    assert ftp.error == "blocked-url"
    assert set(gone.to_dict()) == {"url", "error", "detail", "attempts"}
    assert FetchErrorRecord.from_dict(gone.to_dict()) == gone


def test_config_validation_names_field() -> None:
    with pytest.raises(ConfigError, match="max_body_bytes"):
        FetchConfig(max_body_bytes=0)
    with pytest.raises(ConfigError, match="per_host_delay"):
        FetchConfig(per_host_delay=-1)
    with pytest.raises(ConfigError, match="total_timeout"):
        FetchConfig(total_timeout=0)
    with pytest.raises(ConfigError, match="user_agent"):
        FetchConfig(user_agent="a\r\nX-Evil: 1")


@pytest.mark.parametrize("name", ["allow_private", "verify_tls", "obey_robots"])
@pytest.mark.parametrize("value", ["false", "no", 0, 1, None], ids=repr)
def test_config_bool_fields_must_be_bools(name: str, value: object) -> None:
    # allow_private="false" was truthy and turned the private-address (SSRF) check off
    with pytest.raises(ConfigError, match=rf"FetchConfig\.{name} must be a bool"):
        FetchConfig(**{name: value})
    assert getattr(FetchConfig(**{name: False}), name) is False


def test_a_string_false_never_lets_the_fetcher_reach_a_private_address(srv: LocalServer) -> None:
    # the repro: a config read from a file or environment as strings fetched 127.0.0.1
    srv.page("/a", PAGE)
    with pytest.raises(ConfigError, match="allow_private"):
        run(fetch(srv.url("/a"), cfg(allow_private="false")))
    assert srv.requests == []


@pytest.mark.parametrize("value", [b"bot/1.0", 42, None, ""], ids=repr)
def test_config_user_agent_must_be_a_str(value: object) -> None:
    with pytest.raises(ConfigError, match=r"FetchConfig\.user_agent"):
        FetchConfig(user_agent=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"FetchConfig\.robots_token"):
        FetchConfig(robots_token=value)  # type: ignore[arg-type]


FLOAT_FIELDS = [
    "connect_timeout", "read_timeout", "total_timeout", "backoff_base", "backoff_max", "retry_after_max",
    "per_host_delay", "max_crawl_delay", "robots_ttl", "robots_unreachable_ttl",
]  # fmt: skip


@pytest.mark.parametrize("name", FLOAT_FIELDS)
@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_config_float_fields_must_be_finite(name: str, value: float) -> None:
    # NaN compares false with everything, so "value < 0" let it through (and NaN switched the
    # per-host delay off); infinity made a timeout or backoff endless.
    with pytest.raises(ConfigError, match=rf"FetchConfig\.{name} must be a finite number"):
        FetchConfig(**{name: value})


def test_config_float_fields_keep_their_ranges() -> None:
    for name in FLOAT_FIELDS:
        FetchConfig(**{name: 2.5})
        FetchConfig(**{name: 3})  # an int is a number of seconds too
        with pytest.raises(ConfigError, match=name):
            FetchConfig(**{name: -0.5})
        with pytest.raises(ConfigError, match=name):
            FetchConfig(**{name: True})  # a bool is not a duration
        with pytest.raises(ConfigError, match=name):
            FetchConfig(**{name: 10**400})  # too large for a float (math.isfinite overflows)
    for name in ("connect_timeout", "read_timeout", "total_timeout", "robots_ttl"):
        with pytest.raises(ConfigError, match=rf"{name} must be a finite number > 0"):
            FetchConfig(**{name: 0.0})
    for name in ("backoff_base", "per_host_delay", "retry_after_max", "robots_unreachable_ttl"):
        assert getattr(FetchConfig(**{name: 0.0}), name) == 0.0


@pytest.mark.parametrize(("option", "field"), [("--delay", "per_host_delay"), ("--timeout", "total_timeout")])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_cli_crawl_refuses_non_finite_seconds(srv: LocalServer, option: str, field: str, value: str) -> None:
    # A bad option (exit 2) refused while the options are read: the site is never asked.
    srv.page("/2026/11/20/cranes-return", PAGE)
    args = ["crawl", srv.url("/2026/11/20/cranes-return"), "--allow-private", option, value, "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert field in result.output
    assert srv.requests == []


def test_server_cookies_are_not_kept(srv: LocalServer) -> None:
    srv.route("/set", Response(body=PAGE, headers={"Set-Cookie": "session=abc123; Path=/"}))
    srv.page("/next", PAGE)

    async def go() -> None:
        async with Fetcher(cfg()) as f:
            await f.fetch(srv.url("/set"))
            await f.fetch(srv.url("/next"))

    run(go())
    assert "cookie" not in srv.requests[-1].headers


# --------------------------------------------------------------------------------------------
# DNS rebinding: the connection goes to an address the SSRF check approved, never re-resolved


class FlipResolver:
    """A hostile DNS server: ``first`` for the first lookup of a name, ``later`` afterwards."""

    def __init__(self, first: list[str], later: list[str]) -> None:
        self.first, self.later = first, later
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return self.first if self.calls.count(host) == 1 else self.later


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """The socket layer of a test with no outside network: records every connect; a public
    address is unreachable; a *name* is resolved with the test's DNS (as an unpinned client
    would) and connected to."""

    def __init__(self, dns: FlipResolver) -> None:
        self.dns = dns
        self.inner = httpcore.AnyIOBackend()
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:  # fmt: skip
        self.connects.append((host, port))
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            host = (await self.dns(host, port))[0]
            ip = ipaddress.ip_address(host)
        if ip.is_global:
            raise httpcore.ConnectError(f"no route to {host} in the test sandbox")
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_dns_rebinding_does_not_reach_loopback(srv: LocalServer) -> None:
    srv.page("/admin", "<h1>internal admin</h1>")
    dns = FlipResolver(["93.184.216.34"], ["127.0.0.1"])  # public for the check, loopback after
    backend = LoopbackOnlyBackend(dns)

    async def go() -> Any:
        async with Fetcher(cfg(allow_private=False, obey_robots=False, max_attempts=1), resolver=dns,
                           network_backend=backend) as f:  # fmt: skip
            return await f.fetch(f"http://rebind.test:{srv.port}/admin")

    with pytest.raises(ConnectError):
        run(go())
    assert dns.calls == ["rebind.test"]  # resolved once, by the check
    assert backend.connects == [("93.184.216.34", srv.port)]  # the checked address, not the name
    assert srv.hits["/admin"] == 0


def _second_loopback(port: int) -> LocalServer:
    try:
        return LocalServer("127.0.0.2", port)
    except OSError:  # pragma: no cover - 127.0.0.2 is not configured on every system
        pytest.skip("127.0.0.2 is not bindable here")


def test_connection_uses_the_checked_address_with_private_allowed(srv: LocalServer) -> None:
    """Two real servers on one port: the checked 127.0.0.2 and the rebinding answer 127.0.0.1
    (what the system resolver gives for ``localhost``). Only the checked one may be reached."""
    srv.page("/story", PAGE.replace("Harbour cranes", "Rebound cranes"))
    with _second_loopback(srv.port) as checked:
        checked.page("/story", PAGE)
        checked.route("/hop", Response(302, "", headers={"Location": f"http://localhost:{srv.port}/story"}))
        dns = FlipResolver(["127.0.0.2"], ["127.0.0.2"])

        async def go() -> tuple[Any, Any]:
            async with Fetcher(cfg(obey_robots=False, max_attempts=1), resolver=dns) as f:
                direct = await f.fetch(f"http://localhost:{srv.port}/story")
                via_redirect = await f.fetch(f"{checked.base}/hop")  # the hop is re-checked and pinned
                return direct, via_redirect

        direct, via_redirect = run(go())
    assert "Harbour cranes" in (direct.text or "")
    assert via_redirect.final_url == f"http://localhost:{srv.port}/story"
    assert "Harbour cranes" in (via_redirect.text or "")
    assert checked.hits["/story"] == 2
    assert srv.hits["/story"] == 0


def test_pooled_connection_does_not_outlive_a_failed_check(srv: LocalServer) -> None:
    srv.page("/a", PAGE)
    dns = FlipResolver(["127.0.0.1"], ["169.254.169.254"])

    async def go() -> Any:
        async with Fetcher(cfg(obey_robots=False, max_attempts=1), resolver=dns) as f:
            await f.fetch(f"http://pool.test:{srv.port}/a")  # leaves a keep-alive connection
            return await f.fetch(f"http://pool.test:{srv.port}/a")

    with pytest.raises(BlockedURL, match="metadata"):
        run(go())
    assert srv.hits["/a"] == 1


class TLSRecorder(httpcore.AsyncNetworkBackend):
    """An in-memory https server: records where the socket went, the TLS handshake parameters
    and the request bytes, and answers with one canned response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.connects: list[tuple[str, int]] = []
        self.tls: list[tuple[Any, str | None]] = []
        self.sent = bytearray()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:  # fmt: skip
        self.connects.append((host, port))
        return _RecordingStream(self)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self, owner: TLSRecorder) -> None:
        self.owner = owner
        self.pending = owner.response

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        out, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return out

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.owner.sent += buffer

    async def aclose(self) -> None:
        pass

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                        timeout: float | None = None) -> Any:  # fmt: skip
        self.owner.tls.append((ssl_context, server_hostname))
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


def test_https_pinned_connection_verifies_the_host_name() -> None:
    body = PAGE.encode()
    canned = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body), body)  # fmt: skip
    tls = TLSRecorder(canned)
    dns = FlipResolver(["93.184.216.34"], ["127.0.0.1"])

    async def go() -> Any:
        async with Fetcher(cfg(allow_private=False, obey_robots=False, max_attempts=1), resolver=dns,
                           network_backend=tls) as f:  # fmt: skip
            return await f.fetch("https://news.example/world/harbour")

    result = run(go())
    assert tls.connects == [("93.184.216.34", 443)]  # the socket goes to the checked address...
    ((context, server_hostname),) = tls.tls
    assert server_hostname == "news.example"  # ...but SNI and the certificate check use the name
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert b"\r\nHost: news.example\r\n" in bytes(tls.sent)
    assert result.final_url == "https://news.example/world/harbour"
    assert "Harbour cranes" in (result.text or "")


# --------------------------------------------------------------------------------------------
# Conditional GET after a redirect: validators belong to the URL that answered


def _etag_page(body: str, etag: str, seen: list[str | None]) -> Any:
    def handler(req: Any) -> Response:
        seen.append(req.headers.get("if-none-match"))
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", content_type=None, headers={"ETag": etag})
        return Response(body=body, headers={"ETag": etag, "Cache-Control": "max-age=60"})

    return handler


def test_conditional_get_revalidates_the_redirect_target(srv: LocalServer) -> None:
    b_seen: list[str | None] = []
    srv.route("/a", Response(301, "", headers={"Location": "/b"}))
    srv.route("/b", _etag_page(PAGE, '"b-1"', b_seen))
    cache = MemoryFetchCache()

    async def go() -> tuple[Any, Any]:
        async with Fetcher(cfg(), cache=cache) as f:
            return await f.fetch(srv.url("/a")), await f.fetch(srv.url("/a"))

    first, second = run(go())
    assert b_seen == [None, '"b-1"']  # the second fetch revalidated B and got a 304
    assert all("if-none-match" not in r.headers for r in srv.requests if r.path == "/a")
    assert not first.from_cache
    assert second.from_cache
    assert second.url == srv.url("/a")
    assert second.final_url == srv.url("/b") == first.final_url
    assert second.redirects == (srv.url("/b"),)
    assert second.body == first.body
    assert second.text == first.text
    assert second.headers["cache-control"] == "max-age=60"  # B's headers, rebuilt from the cache
    assert second.content_type == "text/html"
    assert cache.get(srv.url("/b")) is not None
    assert cache.get(srv.url("/a")) is None


def test_entry_stored_under_a_redirecting_url_is_not_sent_there(srv: LocalServer) -> None:
    """A cache written by an older version keyed B's validators by A: they are not sent to A."""
    b_seen: list[str | None] = []
    srv.route("/a", Response(301, "", headers={"Location": "/b"}))
    srv.route("/b", _etag_page(PAGE, '"b-1"', b_seen))
    cache = MemoryFetchCache()
    cache.put(srv.url("/a"), etag='"b-1"', last_modified=None, body=b"stale", content_type="text/html",
              final_url=srv.url("/b"))  # fmt: skip

    async def go() -> Any:
        async with Fetcher(cfg(), cache=cache) as f:
            return await f.fetch(srv.url("/a"))

    result = run(go())
    assert b_seen == [None]
    assert all("if-none-match" not in r.headers for r in srv.requests)
    assert not result.from_cache
    assert result.body == PAGE.encode()


def test_https_through_the_pinned_socket_checks_the_certificate_name(tmp_path: Any) -> None:
    """A real TLS server on 127.0.0.1 with a certificate for ``news.test`` only: reached as
    news.test it answers (SNI news.test); reached as other.test on the same checked address
    the certificate does not match and the fetch fails with a tls-error, tried once even when
    retries are allowed (a certificate does not fix itself in seconds)."""
    tls = self_signed_tls(str(tmp_path), "news.test")
    if tls is None:  # pragma: no cover - depends on the system
        pytest.skip("openssl command not available")
    server_ctx, client_ctx, sni_names = tls

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with LocalServer(tls=server_ctx) as srv:
        srv.page("/story", PAGE)

        async def go(host: str) -> Any:
            async with Fetcher(cfg(obey_robots=False, max_attempts=3), resolver=loopback,
                               ssl_context=client_ctx) as f:  # fmt: skip
                return await f.fetch(f"https://{host}:{srv.port}/story")

        result = run(go("news.test"))
        with pytest.raises(TLSError, match=r"(?i)certificate") as refused:
            run(go("other.test"))
    assert refused.value.kind == "tls-error"
    assert isinstance(refused.value, ConnectError)  # still a connection failure for older callers
    assert refused.value.attempts == 1
    assert "Harbour cranes" in (result.text or "")
    assert result.final_url == f"https://news.test:{srv.port}/story"
    assert sni_names == ["news.test", "other.test"]  # one handshake for other.test: not retried
    assert srv.hits["/story"] == 1


class CountingBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self.inner = _AsyncioBackend()
        self.connects = 0

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None, socket_options: Any = None) -> Any:  # fmt: skip
        self.connects += 1
        return await self.inner.connect_tcp(host, port, timeout=timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def test_keep_alive_reuse_and_closed_connections_replaced(srv: LocalServer) -> None:
    srv.page("/a", PAGE)
    srv.page("/closing", PAGE, headers={"Connection": "close"})
    backend = CountingBackend()

    async def go() -> list[int]:
        counts = []
        async with Fetcher(cfg(obey_robots=False), network_backend=backend) as f:
            for path in ("/a", "/a", "/a"):
                await f.fetch(srv.url(path))
            counts.append(backend.connects)
            for path in ("/closing", "/a", "/a"):
                await f.fetch(srv.url(path))
            counts.append(backend.connects)
        return counts

    assert run(go()) == [1, 2]  # one connection for three pages; a new one after the server closed
    assert srv.hits["/a"] == 5


def test_connection_slot_freed_after_a_deadline_cut(srv: LocalServer) -> None:
    """With one connection allowed, a request cut off mid-body must give its slot back."""
    srv.route("/drip", Response(body="<p>" + "x" * 100 + "</p>", drip=0.05))
    srv.page("/a", PAGE)

    async def go() -> Any:
        async with Fetcher(cfg(max_connections=1, total_timeout=0.5, max_attempts=1)) as f:
            with pytest.raises(FetchTimeout):
                await f.fetch(srv.url("/drip"))
            return await asyncio.wait_for(f.fetch(srv.url("/a")), 5)

    assert "Harbour cranes" in (run(go()).text or "")


@pytest.mark.parametrize("robots", [False, True])
def test_unresolvable_name_is_a_dns_error_without_a_connection(robots: bool) -> None:
    """A name that does not resolve is a dns-error (a ConnectError, retried as one), with no
    connection attempted, and reported as such even when robots.txt would be asked first."""
    asked: list[str] = []

    async def nxdomain(host: str, port: int) -> list[str]:
        asked.append(host)
        raise OSError("Name or service not known")

    backend = CountingBackend()

    async def go() -> Any:
        async with Fetcher(
            cfg(obey_robots=robots, max_attempts=2), resolver=nxdomain, network_backend=backend
        ) as f:
            return await f.fetch("http://gone.test/story")

    with pytest.raises(DNSError, match=r"gone\.test did not resolve") as failed:
        run(go())
    assert failed.value.kind == "dns-error"
    assert isinstance(failed.value, ConnectError)
    assert failed.value.attempts == 2  # retried per policy
    assert backend.connects == 0


# Truncated compressed bodies ------------------------------------------------------------------

LONG_PAGE = article_html(
    "Harbour cranes return after storm",
    [
        f"Report {i}: the harbour authority logged {i * 37 % 1000} container moves and "
        f"{i * 13 % 97} delayed vessels on berth {i % 11}."
        for i in range(300)
    ],
).encode()

COMPRESSED = {
    "gzip": ("gzip", gzip_bytes(LONG_PAGE)),
    "zlib-deflate": ("deflate", deflate_bytes(LONG_PAGE)),
    "raw-deflate": ("deflate", deflate_bytes(LONG_PAGE, raw=True)),
    "br": ("br", brotli.compress(LONG_PAGE)),
}


def _cut(data: bytes, fraction: float = 0.8) -> bytes:
    return data[: int(len(data) * fraction)]


@pytest.mark.parametrize("kind", list(COMPRESSED))
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_truncated_compressed_body_is_a_decoding_error(srv: LocalServer, kind: str, framing: str) -> None:
    coding, whole = COMPRESSED[kind]
    cut = _cut(whole)
    # what used to be accepted: the cut stream decodes to most of the page, with no error
    assert len(ContentDecoder(coding, len(LONG_PAGE)).feed(cut)) > len(LONG_PAGE) // 2
    if framing == "chunked":
        body = Response(chunks=iter([cut[:500], cut[500:]]), headers={"Content-Encoding": coding})
    else:  # the server's Content-Length matches what it sends: HTTP framing is intact
        body = Response(body=cut, headers={"Content-Encoding": coding})
    srv.route("/cut", body)
    srv.route("/whole", Response(body=whole, headers={"Content-Encoding": coding}))
    assert run(fetch(srv.url("/whole"))).body == LONG_PAGE
    with pytest.raises(DecodingError, match="truncated") as info:
        run(fetch(srv.url("/cut")))
    assert info.value.kind == "decoding-error"
    assert info.value.url == srv.url("/cut")


def test_truncated_inner_coding_of_two_is_a_decoding_error(srv: LocalServer) -> None:
    # The outer gzip is complete; the gzip inside it is cut (caught when the chain is flushed).
    srv.route("/gz2", Response(body=gzip_bytes(_cut(gzip_bytes(LONG_PAGE))), headers={"Content-Encoding": "gzip, gzip"}))  # fmt: skip
    with pytest.raises(DecodingError, match="truncated gzip"):
        run(fetch(srv.url("/gz2")))


def test_truncated_body_is_an_error_record_not_a_page(srv: LocalServer) -> None:
    srv.route("/2026/11/20/cranes-return", Response(body=_cut(gzip_bytes(LONG_PAGE)), headers={"Content-Encoding": "gzip"}))  # fmt: skip
    url = srv.url("/2026/11/20/cranes-return")

    async def go() -> Any:
        async with Fetcher(cfg()) as f:
            return await f.fetch_or_record(url)

    record = run(go())
    assert isinstance(record, FetchErrorRecord)
    assert record.error == "decoding-error"
    assert "truncated" in record.detail
    # and the crawler records the failure instead of emitting a partial article
    result = crawl([url], fetch_config=cfg())
    assert list(result.articles) == []
    assert [(e.url, e.error) for e in result.errors] == [(url, "decoding-error")]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_empty_body_with_a_content_coding_is_empty(srv: LocalServer, coding: str) -> None:
    # Nothing sent is nothing missing: an empty 200 or a 204 labelled with a coding stays empty.
    srv.route("/empty", Response(body=b"", headers={"Content-Encoding": coding}))
    srv.route("/nocontent", Response(204, b"", headers={"Content-Encoding": coding}, content_type=None))
    for path in ("/empty", "/nocontent"):
        result = run(fetch(srv.url(path)))
        assert result.body == b""


# --------------------------------------------------------------------------------------------
# Raw-socket fault servers: what an http.server cannot be made to send (audit N3/N4, N7/H9, H7)


class RawServer:
    """A TCP server on 127.0.0.1 that reads one request head per connection and hands the
    socket to ``answer(server, conn, path)``, which writes whatever bytes the test wants (or
    nothing). ``sent`` counts the bytes written with :meth:`send`; ``requests`` the paths asked
    for; a connection closes when ``answer`` returns."""

    def __init__(self, answer: Callable[[RawServer, socket.socket, str], None]) -> None:
        self.answer = answer
        self.stop = threading.Event()
        self.requests: list[str] = []
        self.sent = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.05)  # accept() polls, so close() ends the acceptor at once
        self.port = self._sock.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._acceptor.join(timeout=5)
        self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.sent += len(data)

    def hang(self) -> None:
        """Keep the connection open and silent until the test ends."""
        self.stop.wait(30)

    def idle(self, timeout: float = 5.0) -> bool:
        """Wait for every answer to return; False if one is still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the client may hang up mid-answer on purpose
            path = self.next_request(conn)
            if path is not None:
                self.answer(self, conn, path)

    def next_request(self, conn: socket.socket) -> str | None:
        """Read one request head from ``conn`` and record its path; None when the client hung up."""
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                return None
            head += data
        path = head.split(b" ", 2)[1].decode("ascii", "replace")
        with self._lock:
            self.requests.append(path)
        return path


_OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"


def _max_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _silent(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.hang()  # the request was read; no status line ever comes


def _headers_then_silent(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _OK_HEAD + b"Content-Length: 5000\r\n\r\n<p>")  # then the body never comes
    srv.hang()


@pytest.mark.parametrize("server", [_silent, _headers_then_silent], ids=["no-answer", "headers-then-hang"])
@pytest.mark.parametrize(
    ("timeouts", "attempts", "detail"),
    [
        ({"read_timeout": 0.3, "total_timeout": 5.0}, 2, "ReadTimeout"),
        ({"read_timeout": 5.0, "total_timeout": 0.4}, 1, "deadline"),
    ],
    ids=["read-timeout-retried", "deadline-not-retried"],
)
def test_a_server_that_goes_silent_is_a_timeout_within_the_configured_limit(
    srv: LocalServer, server: Any, timeouts: dict[str, float], attempts: int, detail: str
) -> None:
    """Audit N3/N4. Guards: a server that accepts and never answers, or sends its headers and
    then nothing, costs at most the configured timeout per attempt (the read timeout, or the
    wall-clock deadline when that is shorter), ends as a ``timeout`` error record, is retried
    per policy (a read timeout is retryable, the deadline is not), and leaves the fetcher
    usable: with one connection allowed, the next fetch still gets a slot."""
    srv.page("/ok", PAGE)
    config = cfg(obey_robots=False, max_attempts=2, max_connections=1, **timeouts)
    per_attempt = min(timeouts.values())
    with RawServer(server) as raw:

        async def go() -> tuple[Any, float, Any]:
            async with Fetcher(config) as f:
                start = time.monotonic()
                record = await f.fetch_or_record(raw.url("/story"))
                elapsed = time.monotonic() - start
                return record, elapsed, await asyncio.wait_for(f.fetch(srv.url("/ok")), 5)

        record, elapsed, after = run(go())
        assert raw.requests == ["/story"] * attempts  # one fresh connection per attempt
    assert isinstance(record, FetchErrorRecord)
    assert record.error == "timeout"
    assert detail in record.detail
    assert record.attempts == attempts
    assert per_attempt * attempts * 0.9 <= elapsed < per_attempt * attempts + 1.5
    assert "Harbour cranes" in (after.text or "")


def _broken_chunks(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n<p>hello</p>\r\n0\r\n\r\n")


def _two_content_lengths(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _OK_HEAD + b"Content-Length: 12\r\nContent-Length: 40\r\n\r\n<p>hello</p>")


def _illegal_header_line(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _OK_HEAD + b"this line is no header\r\nContent-Length: 12\r\n\r\n<p>hello</p>")


# built once, outside the memory measurement (only the fetcher's side is measured)
_HUGE_HEAD = _OK_HEAD + b"".join(b"X-Filler-%04d: %s\r\n" % (i, b"y" * 1024) for i in range(2048))
_HUGE_HEAD += b"Content-Length: 12\r\n\r\n<p>hello</p>"


def _two_megabytes_of_headers(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _HUGE_HEAD)


@pytest.mark.parametrize(
    "server",
    [_broken_chunks, _two_content_lengths, _illegal_header_line, _two_megabytes_of_headers],
    ids=["broken-chunked", "conflicting-content-length", "illegal-header-line", "2mb-headers"],
)
def test_malformed_http_framing_is_a_recorded_error_in_bounded_memory(server: Any) -> None:
    """Audit N7/H9. Guards: a response h11 cannot parse (a chunk size that is no hex number,
    two different Content-Lengths, a header line without a colon, 2 MB of headers) is a
    ``connect-error`` record (httpx's RemoteProtocolError, retried like any connection
    failure), never a crash or a page; the 2 MB of headers are refused at httpcore's
    100 KiB limit instead of being buffered (memory peak far below the 2 MB sent)."""
    with RawServer(server) as raw:

        async def go() -> Any:
            async with Fetcher(cfg(obey_robots=False, max_attempts=2)) as f:
                return await f.fetch_or_record(raw.url("/story"))

        tracemalloc.start()
        try:
            record = run(go())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert raw.requests == ["/story", "/story"]
    assert isinstance(record, FetchErrorRecord), record
    assert record.error == "connect-error"
    assert "RemoteProtocolError" in record.detail
    assert record.attempts == 2
    assert peak < 4 * 1024 * 1024
    assert len(_HUGE_HEAD) > 2 * 1024 * 1024  # what the 2mb-headers server sends


def _send_page(srv: RawServer, conn: socket.socket) -> None:
    """The redirect tests' next hop: a plain 200 page."""
    body = PAGE.encode()
    srv.send(conn, _OK_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def _fetch_counting(url: str) -> tuple[Any, int]:
    """``url`` fetched without robots.txt or retries, and the body bytes the fetcher counted."""

    async def go() -> tuple[Any, int]:
        async with Fetcher(cfg(obey_robots=False, max_attempts=1)) as f:
            result = await f.fetch(url)
            return result, f.stats.bytes

    return run(go())


def test_redirect_with_a_gzip_bomb_body_is_followed_without_reading_it() -> None:
    """Audit H7. Guards: the body of a 3xx is never read or decompressed: a 302 whose body is
    a 200 MiB gzip bomb (about 200 KB on the wire) leads straight to the next hop, with memory
    flat (a decoded body would take 200 MiB) and only the final page counted as body bytes."""
    bomb = gzip_bomb(200)
    assert len(bomb) < 1_000_000

    def answer(srv: RawServer, conn: socket.socket, path: str) -> None:
        if path == "/next":
            _send_page(srv, conn)
            return
        srv.send(conn, b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Type: text/html\r\n"
                       b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(bomb), bomb))  # fmt: skip

    with RawServer(answer) as raw:
        rss_before = _max_rss_bytes()
        tracemalloc.start()
        try:
            result, body_bytes = _fetch_counting(raw.url("/bomb"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rss_growth = _max_rss_bytes() - rss_before
        assert raw.requests == ["/bomb", "/next"]
    assert result.final_url == raw.url("/next")
    assert result.redirects == (raw.url("/next"),)
    assert "Harbour cranes" in (result.text or "")
    assert body_bytes == len(PAGE.encode())
    assert peak < 40 * 1024 * 1024
    assert rss_growth < 200 * 1024 * 1024


def test_redirect_declaring_a_500_mb_body_is_followed_without_reading_it() -> None:
    """Audit H7. Guards: a 302 that declares (and starts streaming) a 500 MB body is left
    unread: the next hop succeeds at once, and the server gets to send no more than the socket
    buffers hold before the fetcher hangs up (reading it would take all 500 MB)."""
    declared = 500_000_000

    def answer(srv: RawServer, conn: socket.socket, path: str) -> None:
        if path == "/next":
            _send_page(srv, conn)
            return
        srv.send(conn, b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Type: text/html\r\n"
                       b"Content-Length: %d\r\n\r\n" % declared)  # fmt: skip
        block, left = b"\x00" * 65536, declared
        while left > 0 and not srv.stop.is_set():
            srv.send(conn, block[:left])  # raises once the fetcher hung up
            left -= len(block)

    with RawServer(answer) as raw:
        rss_before = _max_rss_bytes()
        start = time.monotonic()
        result, body_bytes = _fetch_counting(raw.url("/huge"))
        elapsed = time.monotonic() - start
        rss_growth = _max_rss_bytes() - rss_before
        assert raw.idle()  # the 302's writer stopped because the fetcher closed its socket
        assert raw.requests == ["/huge", "/next"]
        sent = raw.sent
    assert result.final_url == raw.url("/next")
    assert "Harbour cranes" in (result.text or "")
    assert body_bytes == len(PAGE.encode())
    assert sent < 64 * 1024 * 1024  # socket buffers' worth, not 500 MB
    assert elapsed < 3
    assert rss_growth < 200 * 1024 * 1024


def _deflate_bomb(expanded_mb: int, *, raw: bool) -> bytes:
    """A small deflate body (raw, or zlib-wrapped as most servers send it) that expands to
    ``expanded_mb`` MiB of zeros."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    block = b"\x00" * (1024 * 1024)
    return b"".join([comp.compress(block) for _ in range(expanded_mb)] + [comp.flush()])


@pytest.mark.parametrize("raw", [False, True], ids=["zlib-wrapped", "raw"])
def test_deflate_bomb_stopped_at_cap(srv: LocalServer, raw: bool) -> None:
    """Audit C3 (gzip and br bombs are tested above). Guards: ``Content-Encoding: deflate``,
    either framing, is decompressed in bounded steps: 100 MiB of zeros from ~100 KB on the wire
    ends as a ``too-large`` error at the 2 MiB cap, in bounded memory."""
    bomb = _deflate_bomb(100, raw=raw)
    assert len(bomb) < 200_000
    assert (bomb[0] & 0x0F == 8 and (bomb[0] * 256 + bomb[1]) % 31 == 0) is not raw  # zlib header?
    cap = 2 * 1024 * 1024
    srv.route("/bomb", Response(body=bomb, headers={"Content-Encoding": "deflate"}))
    tracemalloc.start()
    try:

        async def go() -> Any:
            async with Fetcher(cfg(max_body_bytes=cap)) as f:
                return await f.fetch_or_record(srv.url("/bomb"))

        record = run(go())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(record, FetchErrorRecord), record
    assert record.error == "too-large"  # ResponseTooLarge, not a broken-stream DecodingError
    assert f"exceeds {cap} bytes" in record.detail
    assert record.attempts == 1  # a bomb is not retried
    assert srv.hits["/bomb"] == 1
    assert peak < 40 * 1024 * 1024


def _cut_body(srv: RawServer, conn: socket.socket, path: str) -> None:
    srv.send(conn, _OK_HEAD + b"Content-Length: 5000\r\n\r\n<html><body><p>Harbour cranes")  # then close


def _cut_chunks(srv: RawServer, conn: socket.socket, path: str) -> None:
    # a chunked body whose connection closes before the last (empty) chunk
    srv.send(conn, _OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n1d\r\n<html><body><p>Harbour cranes\r\n")


def _refused_head(srv: RawServer, conn: socket.socket, path: str) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, no status line


@pytest.mark.parametrize("answer", [_cut_body, _cut_chunks], ids=["content-length", "chunked"])
def test_a_body_cut_short_is_a_truncated_response_retried_once(answer: Any) -> None:
    """N6: the status and headers came, then the connection closed mid-body. That is data
    loss (``truncated-response``, still a ``ConnectError`` for older callers), asked twice in
    all although three attempts are allowed, and the crawl records it instead of a page."""
    with RawServer(answer) as raw:
        url = raw.url("/2026/11/20/cranes-return")
        with pytest.raises(TruncatedResponse, match="cut short") as info:
            run(fetch(url, cfg(max_attempts=3, obey_robots=False)))
        assert info.value.kind == "truncated-response"
        assert isinstance(info.value, ConnectError)
        assert info.value.attempts == 2
        assert raw.requests == ["/2026/11/20/cranes-return"] * 2
        result = crawl([url], fetch_config=cfg(max_attempts=3, obey_robots=False))
    assert list(result.articles) == []
    assert [(e.error, e.attempts) for e in result.errors] == [("truncated-response", 2)]


def test_a_connection_reset_before_the_status_line_stays_a_connect_error() -> None:
    """N2: nothing of the answer came: a connect-error, retried up to max_attempts."""
    with RawServer(_refused_head) as raw:
        with pytest.raises(ConnectError) as info:
            run(fetch(raw.url("/story"), cfg(max_attempts=3, obey_robots=False)))
        assert raw.idle()
        assert len(raw.requests) == 3
    assert info.value.kind == "connect-error"
    assert info.value.attempts == 3


def test_waiting_for_a_free_connection_is_not_part_of_the_deadline(srv: LocalServer) -> None:
    """Checklist N9: with one connection for four hosts that each take 0.4 s to answer, the
    last request waits about 1.2 s for the connection; its 1 s ``total_timeout`` starts when
    it gets it. Before, the wait counted, and requests never sent were deadline timeouts."""

    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    def slow(_req: Any) -> Response:
        time.sleep(0.4)
        return Response(body=PAGE)

    srv.route("/slow", slow)
    urls = [f"http://h{i}.test:{srv.port}/slow" for i in range(4)]

    async def go() -> list[Any]:
        config = cfg(
            obey_robots=False, max_connections=1, total_timeout=1.0, read_timeout=1.0, max_attempts=1
        )
        async with Fetcher(config, resolver=loopback) as f:
            return await f.fetch_many(urls, concurrency=4)

    results = run(go())
    assert [type(r).__name__ for r in results] == ["FetchResult"] * 4
    assert srv.hits["/slow"] == 4


def _keepalive_page(path: str) -> bytes:
    body = f"<html><head><title>{path}</title></head><body><p>page at {path}</p></body></html>".encode()
    return _OK_HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


_SMUGGLED = _OK_HEAD + b"Content-Length: 24\r\n\r\n<p>smuggled answer!</p>\n"


def _smuggler(first: bytes) -> Callable[[RawServer, socket.socket, str], None]:
    """Answers /smuggle with ``first`` and, in the same write, a second whole response nobody
    asked for; then answers every further request on the connection (keep-alive) honestly."""

    def answer(srv: RawServer, conn: socket.socket, path: str) -> None:
        while True:
            srv.send(conn, first + _SMUGGLED if path == "/smuggle" else _keepalive_page(path))
            following = srv.next_request(conn)
            if following is None:
                return
            path = following

    return answer


@pytest.mark.parametrize(
    "first",
    [
        _OK_HEAD + b"Content-Length: 12\r\n\r\n<p>hello</p>",  # more bytes than Content-Length
        b"HTTP/1.1 204 No Content\r\n\r\n",  # a body on a 204
        b"HTTP/1.1 304 Not Modified\r\n\r\n",  # a body on a 304
    ],
    ids=["past-content-length", "204-with-body", "304-with-body"],
)
def test_bytes_after_a_response_never_answer_the_next_request(first: bytes) -> None:
    """A response followed by bytes it did not account for left them in h11's buffer, and the
    next request on that pooled keep-alive connection read them as its own response. Such a
    connection is closed instead of pooled: each request gets its own answer."""
    with RawServer(_smuggler(first)) as raw:

        async def go() -> list[Any]:
            async with Fetcher(cfg(obey_robots=False, max_attempts=1, max_connections=1)) as f:
                return [await f.fetch_or_record(raw.url(p)) for p in ("/smuggle", "/a", "/b")]

        results = run(go())
        assert raw.requests == ["/smuggle", "/a", "/b"]
    for path, result in zip(("/a", "/b"), results[1:], strict=True):
        assert not isinstance(result, FetchErrorRecord), result
        assert f"page at {path}" in (result.text or ""), result.text
        assert "smuggled" not in (result.text or "")
