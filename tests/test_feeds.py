"""Feeds, sitemaps and homepage discovery, from bytes only; hostile XML never expands."""

from __future__ import annotations

import gzip
import html
import logging
import resource
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdedup._exceptions import ConfigError, FeedError
from newsdedup._feeds import (
    discover_article_links,
    discover_feeds,
    discover_homepage,
    gunzip_bounded,
    html_depth,
    looks_like_article,
    meta_refresh,
    parse_feed,
    parse_sitemap,
    sniff_kind,
    strip_doctype,
)

FEEDS = Path(__file__).parent / "fixtures" / "feeds"


def data(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss() -> None:
    entries = parse_feed(data("rss.xml"), base_url="https://www.riversidecourier.example/rss/top.xml")
    assert [e.url for e in entries] == [
        "https://www.riversidecourier.example/business/2026/11/20/central-bank-holds-rates?utm_source=rss&utm_medium=feed",
        "https://www.riversidecourier.example/local/2026/11/19/flood-barriers-tested",
    ]  # the item without a link and the file:// link are dropped; the relative link is resolved
    assert entries[0].title == "Central bank holds rates, signals patience on cuts"
    assert entries[0].published == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    assert entries[1].published == datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    assert entries[0].guid == "courier-88213"


def test_entries_passed_over_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Checklist F7: an entry without a link and an entry repeating an earlier one's link
    (with another GUID) are passed over, and the log says so instead of dropping them silently."""
    items = (
        "<item><title>A</title><link>https://n.example/a</link><guid>one</guid></item>"
        "<item><title>A again</title><link>https://n.example/a</link><guid>other</guid></item>"
        "<item><title>No link</title><guid isPermaLink='false'>x-1</guid></item>"
        "<item><title>B</title><guid>https://n.example/b</guid></item>"
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>'
    with caplog.at_level(logging.INFO, logger="newsdedup"):
        entries = parse_feed(feed.encode(), base_url="https://n.example/rss")
    assert [e.url for e in entries] == ["https://n.example/a", "https://n.example/b"]
    assert "https://n.example/rss: entries passed over: 1 with no link, 1 with repeated link" in caplog.text


def test_a_date_in_the_future_is_dropped() -> None:
    """Checklist F8: a feed or sitemap date more than a day ahead of the clock (a placeholder,
    a wrong year) is None rather than the article's date; today's and yesterday's are kept."""
    now = datetime.now(UTC)
    dates = [now + timedelta(days=400), now + timedelta(hours=2), now - timedelta(days=1)]
    items = "".join(
        f"<item><title>{i}</title><link>https://n.example/{i}</link><pubDate>{format_datetime(d)}</pubDate></item>"
        for i, d in enumerate(dates)
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title>{items}</channel></rss>'
    got = [e.published for e in parse_feed(feed.encode())]
    assert got[0] is None
    assert [abs((g - d).total_seconds()) < 1 for g, d in zip(got[1:], dates[1:], strict=True) if g] == [
        True,
        True,
    ]
    urls = "".join(
        f"<url><loc>https://n.example/s{i}</loc><lastmod>{d.isoformat()}</lastmod></url>"
        for i, d in enumerate(dates)
    )
    sitemap = parse_sitemap(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
    )
    assert [u.lastmod is None for u in sitemap.urls] == [True, False, False]


@settings(max_examples=150, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40))
def test_any_date_text_parses_or_is_none(value: str) -> None:
    """Checklist F8: whatever an entry's date says (garbage, no time zone, out of range), the
    feed and the sitemap parse; the date is a datetime or None."""
    text = html.escape(value)
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><item><title>t</title><link>https://n.example/a</link><pubDate>{text}</pubDate></item></channel></rss>'
    (entry,) = parse_feed(feed.encode())
    assert entry.published is None or isinstance(entry.published, datetime)
    urlset = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://n.example/b</loc><lastmod>{text}</lastmod></url></urlset>'
    for url in parse_sitemap(urlset.encode()).urls:
        assert url.lastmod is None or isinstance(url.lastmod, datetime)


def test_atom_picks_alternate_link() -> None:
    entries = parse_feed(data("atom.xml"), base_url="https://harborledger.example/atom.xml")
    assert [e.url for e in entries] == [
        "https://harborledger.example/news/port-strike-ends-after-three-days.html",
        "https://harborledger.example/news/ferry-timetable-changes-december.html",
    ]
    assert entries[1].published == datetime(2026, 11, 19, 6, 0, tzinfo=UTC)


def test_json_feed() -> None:
    entries = parse_feed(data("feed.json"), base_url="https://valleypost.example/feed.json")
    assert [e.url for e in entries] == [
        "https://valleypost.example/world/quake-relief-convoy-reaches-mountain-towns",
        "https://valleypost.example/local/school-board-approves-budget",
        "https://valleypost.example/world/id-only-item",
    ]
    assert entries[0].published == datetime(2026, 11, 20, 10, tzinfo=UTC)
    with pytest.raises(FeedError):
        parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}')
    with pytest.raises(FeedError):
        parse_feed(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            content_type="application/feed+json",
        )


def test_max_entries() -> None:
    items = "".join(f"<item><link>https://e.example/a/story-number-{i}</link></item>" for i in range(50))
    feed = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    )
    assert len(parse_feed(feed, max_entries=7)) == 7


_ITEMS = "".join(f"<item><link>https://e.example/a/story-number-{i}</link></item>" for i in range(3))
_RSS = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{_ITEMS}</channel></rss>'.encode()
_JSON_FEED = (
    b'{"version": "https://jsonfeed.org/version/1.1", "items": ['
    b'{"id": "1", "url": "https://e.example/a/one"}, {"id": "2", "url": "https://e.example/a/two"}]}'
)
_URLSET = (
    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    + "".join(f"<url><loc>https://e.example/a/story-{i}</loc></url>" for i in range(3))
    + "</urlset>"
).encode()
_INDEX = (
    b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    b"<sitemap><loc>https://e.example/s1.xml</loc></sitemap></sitemapindex>"
)


def test_max_entries_zero_returns_no_entries() -> None:
    # "at most max_entries": the limit was checked after an entry was added, so 0 gave one
    assert parse_feed(_RSS, max_entries=0) == []
    assert parse_feed(_JSON_FEED, max_entries=0) == []
    assert [e.url for e in parse_feed(_RSS, max_entries=1)] == ["https://e.example/a/story-number-0"]
    assert [e.url for e in parse_feed(_JSON_FEED, max_entries=1)] == ["https://e.example/a/one"]
    assert parse_sitemap(_URLSET, max_entries=0).urls == ()
    assert len(parse_sitemap(_URLSET, max_entries=2).urls) == 2
    index = parse_sitemap(_INDEX, max_entries=0)
    assert (index.is_index, index.sitemaps) == (True, ())
    assert parse_sitemap(b"https://e.example/a/x\nhttps://e.example/a/y\n", max_entries=0).urls == ()


def test_max_entries_zero_still_rejects_what_is_not_a_feed() -> None:
    with pytest.raises(FeedError, match="not a feed"):
        parse_feed(b"<html><body>Not a feed</body></html>", max_entries=0)


@pytest.mark.parametrize("value", [-1, True, 2.5, "10"], ids=repr)
def test_max_entries_must_be_a_non_negative_int(value: object) -> None:
    # a negative cap sliced from the end (lines[:-1] dropped a plain-text sitemap's last URL)
    for func, doc in ((parse_feed, _RSS), (parse_feed, _JSON_FEED), (parse_sitemap, _URLSET)):
        with pytest.raises(ConfigError, match="max_entries"):
            func(doc, max_entries=value)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_entries"):
        parse_sitemap(b"https://e.example/a/x\nhttps://e.example/a/y\n", max_entries=value)  # type: ignore[arg-type]


def test_malformed_feed_is_feed_error() -> None:
    with pytest.raises(FeedError, match="malformed"):
        parse_feed(data("malformed.xml"))
    with pytest.raises(FeedError):
        parse_feed(b"<html><body>Not a feed</body></html>")
    with pytest.raises(FeedError):
        parse_feed(b"")


def test_entity_bomb_refused_fast() -> None:
    start = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FeedError, match="entit"):
        parse_feed(data("entity_bomb.xml"))
    with pytest.raises(FeedError, match="entit"):
        parse_sitemap(data("entity_bomb.xml"))
    assert time.monotonic() - start < 1
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_xxe_refused() -> None:
    with pytest.raises(FeedError):
        parse_sitemap(data("xxe.xml"))
    with pytest.raises(FeedError):
        parse_feed(data("xxe.xml"))


def test_plain_doctype_is_stripped() -> None:
    cleaned = strip_doctype(data("rss.xml"))
    assert b"<!DOCTYPE" not in cleaned
    assert b"<rss" in cleaned
    assert strip_doctype(b"<a/>") == b"<a/>"
    with pytest.raises(FeedError):
        strip_doctype(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">')


def test_parsers_refuse_paths_and_urls() -> None:
    with pytest.raises(TypeError):
        parse_feed("/etc/passwd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_sitemap("https://example.com/sitemap.xml")  # type: ignore[arg-type]


def test_sitemap_index() -> None:
    sm = parse_sitemap(data("sitemap_index.xml"))
    assert sm.is_index
    assert sm.sitemaps == (
        "https://www.metrotimes.example/sitemaps/news.xml.gz",
        "https://www.metrotimes.example/sitemaps/pages-2026-11.xml",
    )
    assert sm.urls == ()


def test_gzip_news_sitemap() -> None:
    sm = parse_sitemap(data("news_sitemap.xml.gz"))
    assert not sm.is_index
    assert [u.url for u in sm.urls] == [
        "https://www.metrotimes.example/world/2026/11/20/wildfire-forces-evacuations",
        "https://www.metrotimes.example/sport/2026/11/20/derby-ends-level",
    ]
    first = sm.urls[0]
    assert first.title == "Wildfire forces evacuations in hill country"
    assert first.published == datetime(2026, 11, 20, 12, 55, tzinfo=UTC)
    assert first.lastmod == datetime(2026, 11, 20, 13, 10, tzinfo=UTC)
    assert parse_sitemap(data("news_sitemap.xml")) == sm


def test_gzip_bomb_sitemap_bounded() -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(comp.compress(b" " * 1_048_576) for _ in range(200)) + comp.flush()
    with pytest.raises(FeedError, match="expands"):
        parse_sitemap(bomb, max_bytes=5_000_000)
    with pytest.raises(FeedError):
        gunzip_bounded(b"\x1f\x8b\x08garbage")
    assert gunzip_bounded(gzip.compress(b"hello")) == b"hello"


def test_truncated_sitemap_keeps_what_it_has() -> None:
    body = data("news_sitemap.xml")
    cut = body[: body.index(b"derby")]
    sm = parse_sitemap(cut)
    assert [u.url for u in sm.urls] == [
        "https://www.metrotimes.example/world/2026/11/20/wildfire-forces-evacuations"
    ]
    with pytest.raises(FeedError):
        parse_sitemap(b"<urlset><url><loc>")


def test_text_sitemap_and_caps() -> None:
    text = b"https://e.example/a-b-c\nhttps://e.example/d-e-f\nnot a url\n"
    assert [u.url for u in parse_sitemap(text).urls] == ["https://e.example/a-b-c", "https://e.example/d-e-f"]
    many = "".join(f"<url><loc>https://e.example/{i}</loc></url>" for i in range(100))
    sm = parse_sitemap(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{many}</urlset>'.encode(),
        max_entries=10,
    )
    assert len(sm.urls) == 10


def test_autodiscovery() -> None:
    html = data("homepage.html")
    assert discover_feeds(html, "https://www.riversidecourier.example/") == [
        "https://www.riversidecourier.example/rss/top.xml",
        "https://www.riversidecourier.example/atom/business.xml",
    ]
    assert discover_feeds("<html><head><title>x</title></head></html>", "https://e.example/") == []


def test_article_links_from_homepage() -> None:
    links = discover_article_links(data("homepage.html"), "https://www.riversidecourier.example/")
    assert links == [
        "https://www.riversidecourier.example/business/2026/11/20/central-bank-holds-rates",
        "https://www.riversidecourier.example/local/2026/11/19/flood-barriers-tested",
        "https://www.riversidecourier.example/world/wildfire-forces-evacuations-in-hill-country",
        "https://www.riversidecourier.example/story/4471923",
    ]
    many = "".join(f'<a href="/news/2026/11/{i % 28 + 1}/story-{i}">s</a>' for i in range(500))
    assert len(discover_article_links(many, "https://e.example/", max_links=25)) == 25


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/world/2026/11/20/x", True), ("/news/big-storm-hits-coast", True), ("/story/4471923", True),
     ("/news/a.html", True), ("/", False), ("/world/", False), ("/tag/elections/", False),
     ("/about-us", False), ("/author/jane-doe-smith", False), ("/files/annual-report-2026.pdf", False)],
)  # fmt: skip
def test_looks_like_article(path: str, expected: bool) -> None:
    assert looks_like_article(path) is expected


def test_sniff_kind() -> None:
    assert sniff_kind("text/html", data("rss.xml")) == "feed"
    assert sniff_kind(None, data("atom.xml")) == "feed"
    assert sniff_kind("application/json", data("feed.json")) == "jsonfeed"
    assert sniff_kind("text/xml", data("sitemap_index.xml")) == "sitemapindex"
    assert sniff_kind("application/octet-stream", data("news_sitemap.xml.gz")) == "sitemap"
    assert sniff_kind("text/html", data("homepage.html")) == "html"
    assert sniff_kind("application/json", b'{"a": 1}') == "unknown"
    assert sniff_kind("text/plain", b"https://e.example/a\nhttps://e.example/b") == "sitemap"
    assert sniff_kind(None, b'<?xml version="1.0"?>\n<!-- c -->\n<rdf:RDF xmlns:rdf="x"></rdf:RDF>') == "feed"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (
            '<meta http-equiv="refresh" content="0; url=https://news.example/story">',
            "https://news.example/story",
        ),
        ("<META HTTP-EQUIV=Refresh CONTENT=\"5;URL='/world/story'\">", "https://site.example/world/story"),
        ('<meta content="3;url=next.html" http-equiv="refresh">', "https://site.example/a/next.html"),
        ('<meta http-equiv="refresh" content="0,url=/comma">', "https://site.example/comma"),
        ('<meta http-equiv="refresh" content="600; url=/later">', None),  # over max_delay
        ('<meta http-equiv="refresh" content="300">', None),  # reloads itself
        ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', None),
        ('<meta name="refresh" content="0; url=/not-http-equiv">', None),
        ("<p>Press refresh to see the latest results.</p>", None),
    ],
)
def test_meta_refresh(head: str, expected: str | None) -> None:
    html = f"<html><head>{head}</head><body><p>Redirecting…</p></body></html>"
    assert meta_refresh(html, "https://site.example/a/b", max_delay=100) == expected
    assert meta_refresh(html.encode(), "https://site.example/a/b", max_delay=100) == expected


def test_meta_refresh_is_looked_for_in_the_head_only() -> None:
    late = "<p>" + "x" * 20_000 + '</p><meta http-equiv="refresh" content="0; url=/late">'
    assert meta_refresh(late, "https://site.example/", max_delay=100) is None


def test_a_cut_gzip_sitemap_is_an_error_not_a_partial_list() -> None:
    urls = "".join(f"<url><loc>https://example.com/news/2026/11/{i}/story</loc></url>" for i in range(200))
    whole = gzip.compress(
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
    )
    assert len(parse_sitemap(whole, base_url="https://example.com/sitemap.xml.gz").urls) == 200
    for cut in (len(whole) - 4, len(whole) * 2 // 3, 12):
        with pytest.raises(FeedError, match="truncated gzip"):
            gunzip_bounded(whole[:cut])


def test_a_partly_broken_feed_keeps_its_entries_and_says_what_is_wrong() -> None:
    """feedparser recovers the items of a feed with a bare "&" and no closing tags; the caller
    learns it was malformed. Harmless flags (a feed served as text/html) are not problems."""
    broken = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>News & Views</title>'
              b"<item><title>One</title><link>https://example.com/news/1</link></item>"
              b"<item><title>Two</title><link>https://example.com/news/2</link>")  # fmt: skip
    problems: list[str] = []
    entries = parse_feed(broken, base_url="https://example.com/feed", problems=problems)
    assert [e.url for e in entries] == ["https://example.com/news/1", "https://example.com/news/2"]
    assert len(problems) == 1
    assert problems[0].startswith("malformed feed:")
    assert parse_feed(broken, base_url="https://example.com/feed") == entries  # the flag is optional
    fine = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
            b"<item><title>One</title><link>https://example.com/news/1</link></item></channel></rss>")  # fmt: skip
    problems = []
    parse_feed(fine, base_url="https://example.com/feed", content_type="text/html", problems=problems)
    assert problems == []


def test_a_doctype_after_a_long_prolog_is_still_checked() -> None:
    """A DOCTYPE can follow any amount of whitespace, comments and processing instructions; the
    check must not stop at a fixed offset, or a padded prolog hides an entity declaration."""
    bomb = b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    body = b"<rss><channel><title>&lol2;</title></channel></rss>"
    comment = b"<!-- " + b"padding " * 20_000 + b"-->\n"  # 160 KB
    for prolog in (
        b'<?xml version="1.0"?>\n' + comment,
        b'<?xml version="1.0"?>' + b" \n" * 50_000,
        b'<?xml version="1.0"?><?xml-stylesheet href="' + b"s" * 100_000 + b'.xsl"?>',
    ):
        with pytest.raises(FeedError):
            strip_doctype(prolog + bomb + body)
        with pytest.raises(FeedError):
            parse_feed(prolog + bomb + body)
    plain = b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "x.dtd">'
    cleaned = strip_doctype(b'<?xml version="1.0"?>\n' + comment + plain + body)
    assert b"<!DOCTYPE" not in cleaned
    assert cleaned.endswith(body)
    # past the root element's start (and 64 KiB) nothing is a DOCTYPE: an article that quotes
    # one in a CDATA section stays as it is
    quoted = (
        b"<rss><channel><description>"
        + b"x" * 70_000
        + b'<![CDATA[<!DOCTYPE x [<!ENTITY a "b">]>]]></description></channel></rss>'
    )
    assert strip_doctype(quoted) == quoted


@pytest.mark.parametrize(
    "decoy",
    [b"<!-- <!DOCTYPE x> -->", b"<?pi <!DOCTYPE x> ?>", b"<!-- a comment -->\n<!-- <!doctype y> -->"],
    ids=["comment", "processing-instruction", "two-comments"],
)
def test_a_doctype_quoted_in_the_prolog_does_not_hide_the_real_one(decoy: bytes) -> None:
    """A "<!DOCTYPE" inside a comment or processing instruction before the real DOCTYPE was taken
    for it: cut out, it let the real one's entity through to the parser."""
    sitemap = (
        b'<?xml version="1.0"?>'
        + decoy
        + b'<!DOCTYPE urlset [<!ENTITY a "http://evil.example/x">]>'
        + b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&a;</loc></url></urlset>'
    )
    with pytest.raises(FeedError):
        strip_doctype(sitemap)
    with pytest.raises(FeedError):
        parse_sitemap(sitemap)
    feed = (
        b'<?xml version="1.0"?>'
        + decoy
        + b'<!DOCTYPE rss [<!ENTITY t "x">]><rss><channel><title>&t;</title></channel></rss>'
    )
    with pytest.raises(FeedError):
        parse_feed(feed)


def test_utf16_xml_with_entities_is_refused_and_without_them_parsed() -> None:
    """UTF-16 markup never matched the byte patterns, so its DOCTYPE went to expat unchecked."""
    bomb = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<!DOCTYPE urlset [<!ENTITY a "http://evil.example/x">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&a;</loc></url></urlset>'
    )
    for data in (bomb.encode("utf-16"), bomb.encode("utf-16-le"), bomb.encode("utf-16-be")):
        with pytest.raises(FeedError):
            parse_sitemap(data)
    plain = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://news.example/a</loc></url></urlset>'
    )
    assert [u.url for u in parse_sitemap(plain.encode("utf-16")).urls] == ["https://news.example/a"]


_EVIL_SITEMAP_TAIL = (
    b'<!DOCTYPE urlset [<!ENTITY x "https://evil.example/pwn">]>'
    b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&x;</loc></url></urlset>'
)


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0"?><!DOCTYPE a>',  # a decoy DOCTYPE cut first
        b'<?xml version="1.0"?><!DOCTYPE a><!--' + b" " * 70_000 + b"-->",  # and padding past 64 KiB
    ],
    ids=["decoy", "decoy-and-padding"],
)
def test_a_second_doctype_is_refused(prolog: bytes) -> None:
    padded = _EVIL_SITEMAP_TAIL.replace(b"[<!ENTITY", b"[" + b" " * 70_000 + b"<!ENTITY")
    for data in (prolog + _EVIL_SITEMAP_TAIL, prolog + padded):
        with pytest.raises(FeedError):
            parse_sitemap(data)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "lead", ["", "<!-- a sitemap -->", "  \n"], ids=["doctype-first", "comment-first", "space-first"]
)
def test_utf16_without_a_byte_order_mark_is_checked_too(codec: str, lead: str) -> None:
    """expat reads a document whose first two bytes hold a NUL as UTF-16, BOM or not."""
    data = (lead + _EVIL_SITEMAP_TAIL.decode()).encode(codec)
    with pytest.raises(FeedError):
        parse_sitemap(data)


def test_text_after_the_root_that_quotes_a_doctype_or_an_entity_is_kept() -> None:
    """A security blog's feed may quote an XXE payload in an item: past the root element it is
    text, so the feed (with its own plain DOCTYPE, or in UTF-16) is parsed, not refused."""
    item = (
        "<item><title>XXE explained</title><link>https://blog.example/xxe</link>"
        '<description><![CDATA[Use <!DOCTYPE html> or <!ENTITY xxe SYSTEM "file:///etc/passwd"> and see.]]>'
        "</description></item>"
    )
    rss = f'<rss version="0.91"><channel><title>Sec</title>{item}</channel></rss>'
    netscape = '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">'
    for data in (
        f'<?xml version="1.0"?>{netscape}{rss}'.encode(),
        f'<?xml version="1.0" encoding="UTF-16"?>{rss}'.encode("utf-16"),
    ):
        feed = parse_feed(data)
        assert [e.url for e in feed] == ["https://blog.example/xxe"]


def test_article_links_without_a_page_url() -> None:
    """``discover_feeds(html, None)`` worked and ``discover_article_links(html, None)`` raised
    AttributeError. Without the page URL the page's ``<base href>`` stands in for it; with no
    base at all, relative links cannot be resolved (dropped) and there is no site to stay on
    (absolute article links of any host kept)."""
    page = data("homepage.html")
    with_base = page.replace(b"<head>", b'<head><base href="https://www.riversidecourier.example/">', 1)
    assert discover_article_links(with_base, None) == discover_article_links(
        page, "https://www.riversidecourier.example/"
    )
    links = (
        '<a href="/world/2026/11/20/relative-story">r</a>'
        '<a href="https://wire.example/news/2026/11/20/storm-hits-coast">w</a>'
        '<a href="https://www.riversidecourier.example/local/2026/11/19/flood-barriers-tested">c</a>'
        '<a href="https://wire.example/tag/storms/">t</a>'
    )
    assert discover_article_links(links, None) == [
        "https://wire.example/news/2026/11/20/storm-hits-coast",
        "https://www.riversidecourier.example/local/2026/11/19/flood-barriers-tested",
    ]
    assert discover_article_links(links, "") == discover_article_links(links, None)


_EVIL_FEED = (
    '<?xml version="1.0" encoding="{enc}"?><!DOCTYPE rss [<!ENTITY x "INJECTED">]>'
    '<rss version="2.0"><channel><title>c</title><item><title>&x;</title>'
    "<link>http://a.example/&x;</link></item></channel></rss>"
)
_PLAIN_FEED = (
    '<?xml version="1.0" encoding="{enc}"?><rss version="2.0"><channel><title>c</title>'
    "<item><title>t</title><link>http://a.example/story-one-here</link></item></channel></rss>"
)


@pytest.mark.parametrize(
    ("enc", "codec"),
    [
        ("UTF-32", "utf-32"),  # with a BOM (little-endian here)
        ("UTF-32", "utf-32-le"),  # no BOM: NUL bytes say which
        ("UTF-32", "utf-32-be"),
        ("UTF-32", "bom-utf-32-be"),
        ("cp037", "cp037"),  # EBCDIC: not a byte of its markup is ASCII
        ("cp500", "cp500"),
    ],
)
def test_entities_in_utf32_or_ebcdic_are_refused(enc: str, codec: str) -> None:
    """The DOCTYPE check read only ASCII-compatible bytes and UTF-16: feedparser decoded
    UTF-32 and EBCDIC itself and expanded the entity into the entries' URLs."""
    doc = _EVIL_FEED.replace("{enc}", enc)
    data = b"\x00\x00\xfe\xff" + doc.encode("utf-32-be") if codec == "bom-utf-32-be" else doc.encode(codec)
    with pytest.raises(FeedError):
        parse_feed(data)
    with pytest.raises(FeedError):
        parse_sitemap(data)
    with pytest.raises(FeedError):
        strip_doctype(data)


def test_entities_behind_a_utf7_declaration_or_charset_are_refused() -> None:
    body = _EVIL_FEED.replace("{enc}", "utf-7").replace("<!", "+ADw-!").replace("+ADw-!--", "<!--")
    with pytest.raises(FeedError):
        parse_feed(body.encode())
    undeclared = body.replace(' encoding="utf-7"', "").encode()
    with pytest.raises(FeedError):
        parse_feed(undeclared, content_type="application/rss+xml; charset=utf-7")


def test_text_before_the_markup_is_refused() -> None:
    with pytest.raises(FeedError, match="cannot read"):
        strip_doctype(b"Lo\xa7\x94 not xml")
    assert strip_doctype(b"") == b""
    assert strip_doctype(b"\xef\xbb\xbf \n<rss/>") == b"\xef\xbb\xbf \n<rss/>"


@pytest.mark.parametrize(
    "codec", ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_a_feed_without_entities_still_parses_in_any_unicode_encoding(codec: str) -> None:
    enc = codec.upper().removesuffix("-LE").removesuffix("-BE")
    data = _PLAIN_FEED.replace("{enc}", enc).encode(codec)
    assert [e.url for e in parse_feed(data)] == ["http://a.example/story-one-here"]
    assert parse_feed(data, content_type=f"application/rss+xml; charset={codec}")


def test_html_depth_estimate() -> None:
    assert html_depth("<html><body>" + "<div>" * 50 + "</div>" * 50 + "</body></html>") == 50
    assert html_depth("<div>" * 3000) > 2000  # stops counting past the limit
    assert html_depth("<div/>" * 300) == 300  # "/>" does not close a <div> in HTML
    flat = "<ul>" + "<li><p>x<br><img src=a>" * 5000 + "</ul>" + "<svg>" + '<path d="M0"/>' * 5000 + "</svg>"
    assert html_depth(flat) == 1
    assert html_depth("<script>" + "<div>" * 5000 + "</script><!--" + "<div>" * 5000 + "-->") == 0


def test_discover_homepage_parses_once_and_refuses_absurd_nesting() -> None:
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml"></head>'
        '<body><a href="/news/2026/11/20/a-long-story-slug">x</a></body></html>'
    )
    base = "https://news.example/"
    assert discover_homepage(page, base) == (discover_feeds(page, base), discover_article_links(page, base))
    deep = "<html><body>" + "<div>" * 300 + page + "</body></html>"
    assert discover_homepage(deep, base, max_depth=400)[1] == [
        "https://news.example/news/2026/11/20/a-long-story-slug"
    ]
    start = time.monotonic()
    with pytest.raises(FeedError, match="deep"):
        discover_homepage("<div>" * 100_000, base)  # about 30 s for lexbor to parse
    assert time.monotonic() - start < 2


def test_a_multi_member_gzip_sitemap_is_read_whole() -> None:
    """``cat a.gz b.gz``: everything after the first member used to be dropped silently."""
    head = b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    urls = [f"https://news.example/2026/11/20/story-{i}" for i in range(3)]
    parts = [head, *(f"<url><loc>{u}</loc></url>".encode() for u in urls), b"</urlset>"]
    data = b"".join(gzip.compress(p) for p in parts)
    assert gunzip_bounded(data) == b"".join(parts)
    assert [u.url for u in parse_sitemap(data).urls] == urls
    assert gunzip_bounded(gzip.compress(b"a") + gzip.compress(b"b") + b"\x00" * 8) == b"ab"  # padding
    with pytest.raises(FeedError, match="truncated"):  # the second member cut short
        gunzip_bounded(gzip.compress(b"a") + gzip.compress(b"b" * 100)[:-6])
    with pytest.raises(FeedError, match="broken"):
        gunzip_bounded(gzip.compress(b"a") + b"trailing junk")


def test_a_gzip_bomb_spread_over_many_members_stops_at_the_bound() -> None:
    member = gzip.compress(b" " * 1_000_000, compresslevel=9)  # about 1 KiB each
    start = time.monotonic()
    with pytest.raises(FeedError, match="expands"):
        gunzip_bounded(member * 100, max_bytes=5_000_000)
    with pytest.raises(FeedError, match="expands"):
        parse_sitemap(member * 100, max_bytes=5_000_000)
    assert gunzip_bounded(member * 5, max_bytes=5_000_000) == b" " * 5_000_000
    assert time.monotonic() - start < 2
