"""Discovery: RSS, Atom and JSON Feed, sitemaps (index, gzip, news), links on homepages.

Every parser here takes **bytes that were already fetched** (through the guarded fetcher) and
never opens a URL or a file: feedparser only ever sees an ``io.BytesIO``. XML documents whose
DOCTYPE declares entities are refused before any parser sees them (billion laughs, external
entities), a plain DOCTYPE is cut off, and gzip sitemaps are decompressed in bounded steps.
A partly broken feed yields what it can; one with nothing usable raises :class:`FeedError`.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser

from ._exceptions import ConfigError, FeedError
from ._models import as_utc, parse_datetime
from ._urls import join_url, normalize_url, same_site

logger = logging.getLogger("newsdedup")

__all__ = [
    "FEED_TYPES",
    "FeedEntry",
    "Sitemap",
    "SitemapEntry",
    "discover_article_links",
    "discover_feeds",
    "discover_homepage",
    "gunzip_bounded",
    "looks_like_article",
    "meta_refresh",
    "parse_feed",
    "parse_sitemap",
    "sniff_kind",
    "strip_doctype",
]

FEED_TYPES: frozenset[str] = frozenset(
    {
        "application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
        "application/rdf+xml", "application/xml", "text/xml",
    }
)  # fmt: skip
"""``<link rel=alternate type=...>`` values that announce a feed (xml ones only with a feed-ish title/href)."""

_STRONG_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json"})

DEFAULT_MAX_ENTRIES = 1000
DEFAULT_MAX_SITEMAP_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEntry:
    """One item of a feed: where the article is, plus what the feed says about it."""

    url: str
    title: str = ""
    published: datetime | None = None
    summary: str = ""
    guid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "summary": self.summary,
            "guid": self.guid,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class SitemapEntry:
    """A ``<url>`` of a sitemap; ``title`` and ``published`` come from a news sitemap extension."""

    url: str
    lastmod: datetime | None = None
    title: str = ""
    published: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sitemap:
    """A parsed sitemap: page URLs (urlset) and/or child sitemaps (sitemapindex)."""

    urls: tuple[SitemapEntry, ...] = ()
    sitemaps: tuple[str, ...] = ()
    is_index: bool = False


# --------------------------------------------------------------------------------------------
# XML safety

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SUBSET_END = re.compile(rb"\]\s*>")
_SPACE = re.compile(rb"\s*")


def _prolog_end(data: bytes) -> int:
    """Where the document's prolog ends: after a BOM and any whitespace, comments and processing
    instructions (an unterminated one runs to the end). A DOCTYPE, if any, starts there."""
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while True:
        space = _SPACE.match(data, pos)  # always matches (maybe nothing)
        pos = space.end() if space else pos
        if data.startswith(b"<?", pos):
            end, skip = data.find(b"?>", pos + 2), 2
        elif data.startswith(b"<!--", pos):
            end, skip = data.find(b"-->", pos + 4), 3
        else:
            return pos
        if end < 0:
            return len(data)
        pos = end + skip


def strip_doctype(data: bytes, encodings: Iterable[str] = ()) -> bytes:
    """Remove a DOCTYPE; raise :class:`FeedError` if it declares entities (or is unterminated).

    Entity declarations are how billion-laughs and external-entity attacks work, and no real
    feed or sitemap needs them. Only what comes before the root element is looked at: a
    DOCTYPE or an entity declaration can only be there, however long the comments and
    processing instructions before it are, and past it they are text (an article that quotes
    one stays as it is).

    A document in UTF-16 or UTF-32 (by its byte order mark, or the NUL bytes among its first
    four) is checked on its decoded text and refused if it has a DOCTYPE at all. One in any
    other encoding must start (after a UTF-8 BOM and whitespace) with an ASCII ``<``, else it
    is refused: the check cannot read it (EBCDIC, UTF-32 in an odd byte order) while a parser
    might. An encoding named in its XML declaration, or given in ``encodings`` (the HTTP
    charset), that reads it differently from ASCII (UTF-7) is checked on that reading too.
    """
    codec = _wide_codec(data)
    if codec is not None:
        return _check_wide(data, codec)
    lead = data.lstrip(b"\xef\xbb\xbf").lstrip()
    if lead and not lead.startswith(b"<"):
        raise FeedError(
            f"XML in an encoding the entity check cannot read (starts with {data[:4]!r}); refused"
        )
    declared = _XML_ENCODING.match(lead)
    for name in (*encodings, *([declared.group(1).decode("ascii")] if declared else [])):
        try:
            decoded = data.decode(name, errors="replace").encode("utf-8", errors="replace")
        except (LookupError, ValueError):
            continue  # a codec Python does not know: parsers fall back to an ASCII-compatible one
        if decoded != data and codecs.lookup(name).name not in _ASCII_READS:
            _strip_doctype(decoded)  # raises if that reading declares entities
    return _strip_doctype(data)


_XML_ENCODING = re.compile(rb"<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._\-]{1,40})[\"']")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._\-]{1,40})""", re.IGNORECASE)
_ASCII_READS = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252"})
"""Codecs that read every ASCII byte as ASCII: the check on the bytes covers them."""


def _strip_doctype(data: bytes) -> bytes:
    head = _prolog_end(data)
    root = _root_start(data, head)
    # the DOCTYPE that counts is where the prolog's comments and PIs end: a "<!DOCTYPE" quoted
    # inside a comment before it must not be taken for it
    match = _DOCTYPE.match(data, head) or _DOCTYPE.search(data, head, root)
    if match is None:
        if _declares(data):
            raise FeedError("XML declares entities outside a DOCTYPE; refused")
        return data
    start = match.start()
    gt = data.find(b">", match.end())
    bracket = data.find(b"[", match.end())
    if gt == -1:
        raise FeedError("unterminated DOCTYPE")
    if bracket != -1 and bracket < gt:
        end_match = _SUBSET_END.search(data, bracket)
        if end_match is None:
            raise FeedError("unterminated DOCTYPE internal subset")
        subset = data[bracket : end_match.end()]
        if re.search(rb"<!ENTITY", subset, re.IGNORECASE):
            raise FeedError("XML DOCTYPE declares entities (possible entity expansion attack); refused")
        end = end_match.end()
    else:
        if re.search(rb"\b(SYSTEM|PUBLIC)\b", data[match.end() : gt]) and b"ENTITY" in data[start:gt].upper():
            raise FeedError("XML DOCTYPE declares entities; refused")
        end = gt + 1
    stripped = data[:start] + data[end:]
    # what the cut leaves before the root must hold no second DOCTYPE (a decoy cut first would
    # otherwise let the real one through) and no entity declaration (a subset cut short)
    if _declares(stripped):
        raise FeedError("XML with a second DOCTYPE or entities outside its DOCTYPE; refused")
    return stripped


def _declares(data: bytes, before_root: bytes = rb"<!ENTITY") -> bool:
    """Whether a DOCTYPE starts where the prolog ends, or ``before_root`` (an entity
    declaration) occurs anywhere before the root element."""
    head = _prolog_end(data)
    return bool(_DOCTYPE.match(data, head) or re.search(before_root, data[: _root_start(data, head)], re.I))


_ROOT = re.compile(rb"<[A-Za-z_:\x80-\xff]")


def _root_start(data: bytes, pos: int) -> int:
    """Where the root element starts (the first start tag from ``pos``, the prolog's end), or
    the end of the data."""
    found = _ROOT.search(data, pos)
    return found.start() if found else len(data)


def _wide_codec(data: bytes) -> str | None:
    """The codec a parser would read ``data`` with if it is UTF-32 or UTF-16 (a byte order
    mark, or NUL bytes among the first four, as expat and feedparser guess), else None: its
    markup never matches the byte patterns."""
    if data[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return "utf-32"
    if len(data) >= 4 and data[1:4] == b"\x00\x00\x00":
        return "utf-32-le"
    if data[:3] == b"\x00\x00\x00":
        return "utf-32-be"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "utf-16"
    if b"\x00" in data[:4]:  # UTF-16 without a BOM, or UTF-32 in an odd byte order
        if data[:1] == b"\x00" and data[1:2] != b"\x00":
            return "utf-16-be"
        if data[1:2] == b"\x00" and data[:1] != b"\x00":
            return "utf-16-le"
        raise FeedError(
            f"XML in an encoding the entity check cannot read (starts with {data[:4]!r}); refused"
        )
    return None


def _check_wide(data: bytes, codec: str) -> bytes:
    """A UTF-16 or UTF-32 document is checked on its decoded text and passed on unchanged when
    nothing before its root element is a DOCTYPE or an entity declaration (cutting one out would
    mean re-encoding the document); one that has either is refused: no real feed or sitemap in
    UTF-16 or UTF-32 needs a DOCTYPE."""
    text = data.decode(codec, errors="replace").encode("utf-8", errors="replace")
    if _declares(text, rb"<!(DOCTYPE|ENTITY)"):
        raise FeedError(f"{codec.upper()} XML with a DOCTYPE or entity declarations; refused")
    return data


def gunzip_bounded(data: bytes, *, max_bytes: int = DEFAULT_MAX_SITEMAP_BYTES) -> bytes:
    """Decompress a gzip file, raising :class:`FeedError` beyond ``max_bytes`` of output.

    Every member of a multi-member file is read (``cat a.gz b.gz`` is one valid gzip file,
    as gzip(1) reads it), all within the one bound; padding of NUL bytes after the last member
    is ignored, as gzip(1) ignores it.
    """
    out = bytearray()
    buf = data
    try:
        while True:
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while buf:
                chunk = decomp.decompress(buf, max_bytes - len(out) + 1)
                out += chunk
                if len(out) > max_bytes:
                    raise FeedError(f"gzip file expands beyond {max_bytes} bytes")
                if decomp.eof:
                    break
                buf = decomp.unconsumed_tail
                if not chunk and buf:
                    break
            if not decomp.eof:  # a cut download: what it holds is a partial list, not the sitemap
                raise FeedError("truncated gzip file: the data ends before the end of its gzip stream")
            buf = decomp.unused_data
            if not buf.strip(b"\x00"):
                break
            if buf[:2] != b"\x1f\x8b":
                raise FeedError("broken gzip file: data after its gzip stream is not another gzip member")
    except zlib.error as exc:
        raise FeedError(f"broken gzip file: {exc}") from None
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Sniffing

_ROOT = re.compile(rb"<([A-Za-z_][\w:.\-]*)")
_PROLOG_JUNK = re.compile(
    rb"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>)", re.DOTALL | re.IGNORECASE
)


def _root_tag(data: bytes) -> str | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf")
    for _ in range(20):
        match = _PROLOG_JUNK.match(head)
        if not match or match.end() == 0:
            break
        head = head[match.end() :]
    root = _ROOT.match(head)
    if root is None:
        return None
    return root.group(1).decode("ascii", "ignore").split(":")[-1].lower()


def sniff_kind(content_type: str | None, body: bytes) -> str:
    """What a fetched resource is: ``feed``, ``jsonfeed``, ``sitemap``, ``sitemapindex``, ``html``.

    Content decides over the declared type (servers label feeds ``text/html`` and sitemaps
    ``text/plain``); the type only breaks ties. ``"unknown"`` when neither says anything useful.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if body[:2] == b"\x1f\x8b":
        return "sitemap"  # a gzip file reaching us is a sitemap.xml.gz
    stripped = body[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        if b"jsonfeed.org" in body[:4096] or media == "application/feed+json":
            return "jsonfeed"
        return "unknown"
    root = _root_tag(body)
    if root in ("rss", "feed", "rdf", "channel"):
        return "feed"
    if root == "urlset":
        return "sitemap"
    if root == "sitemapindex":
        return "sitemapindex"
    if root in ("html", "head", "body") or b"<html" in body[:4096].lower():
        return "html"
    if media in ("application/rss+xml", "application/atom+xml", "application/rdf+xml"):
        return "feed"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media == "text/plain" and stripped.startswith((b"http://", b"https://")):
        return "sitemap"
    return "unknown"


# --------------------------------------------------------------------------------------------
# Feeds


_FUTURE_SLACK = timedelta(days=1)


def _plausible(when: datetime | None) -> datetime | None:
    """A feed or sitemap date, or None when it is more than a day ahead of the clock (a
    placeholder such as 2999-01-01, a wrong year): it would become the article's date."""
    if when is not None and as_utc(when) > datetime.now(UTC) + _FUTURE_SLACK:
        return None
    return when


def _struct_to_dt(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)  # type: ignore[misc]  # six fields at most
    except (TypeError, ValueError):
        return None


def _check_max_entries(func: str, value: object) -> None:
    """A cap on entries: an int >= 0 (0 returns none). A negative one would count from the end
    when slicing, and a bool or float is a mistake rather than a cap."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{func}(max_entries=...) must be an int >= 0, got {value!r}")


def parse_feed(
    data: bytes,
    *,
    base_url: str | None = None,
    content_type: str | None = None,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    problems: list[str] | None = None,
) -> list[FeedEntry]:
    """Entries of an RSS, Atom, RDF or JSON Feed document given as bytes.

    Entry links are resolved against ``base_url`` and kept only if they are http(s). At most
    ``max_entries`` entries are returned (feeds list newest first; 0 returns none, a negative
    value is a ConfigError). A malformed feed (feedparser's "bozo") yields the entries that
    could be recovered; ``problems``, when given, receives what was wrong with it, so a caller
    can flag the feed.
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("parse_feed takes the feed's bytes, never a URL or a path")
    _check_max_entries("parse_feed", max_entries)
    if sniff_kind(content_type, bytes(data)) == "jsonfeed" or (
        (content_type or "").startswith(("application/feed+json", "application/json"))
    ):
        return _parse_json_feed(bytes(data), base_url=base_url, max_entries=max_entries)
    import feedparser  # imported late: it is slow to import and only feeds need it
    from feedparser.exceptions import ThingsNobodyCaresAboutButMe, UndeclaredNamespace

    charset = _CHARSET.search(content_type or "")  # feedparser reads the body in it
    cleaned = strip_doctype(bytes(data), (charset.group(1),) if charset else ())
    headers = {"content-type": content_type or "application/xml"}
    if base_url:
        headers["content-location"] = base_url
    parsed = feedparser.parse(
        io.BytesIO(cleaned),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = parsed.get("entries") or []
    if not entries:
        if parsed.get("bozo"):
            exc = parsed.get("bozo_exception")
            raise FeedError(f"malformed feed: {type(exc).__name__}: {exc}" if exc else "malformed feed")
        if not parsed.get("version"):
            raise FeedError("not a feed (no RSS, Atom or RDF root element)")
        return []
    out: list[FeedEntry] = []
    links = _Links()
    for entry in entries:
        if len(out) >= max_entries:  # checked before an entry is added, so 0 means none
            break
        link = entry.get("link")
        if not link:
            for candidate in entry.get("links") or ():
                if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                    link = candidate["href"]
                    break
        if not link and str(entry.get("id", "")).startswith(("http://", "https://")):
            link = entry["id"]
        url = join_url(base_url, str(link)) if link else None
        if not links.new(url):
            continue
        assert url is not None
        out.append(
            FeedEntry(
                url=url,
                title=str(entry.get("title") or "").strip(),
                # dict.get: feedparser's own maps a missing updated_parsed to published_parsed
                # with a DeprecationWarning (an error under -W error)
                published=_plausible(
                    _struct_to_dt(entry.get("published_parsed") or dict.get(entry, "updated_parsed"))
                ),
                summary=str(entry.get("summary") or "")[:2000],
                guid=str(entry["id"]) if entry.get("id") else None,
            )
        )
    links.log(base_url)
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        if not out and max_entries:  # with max_entries=0 an empty list is what was asked for
            raise FeedError(f"malformed feed with no usable entry: {type(exc).__name__}: {exc}")
        if problems is not None and not isinstance(exc, ThingsNobodyCaresAboutButMe | UndeclaredNamespace):
            problems.append(f"malformed feed: {type(exc).__name__}: {exc}")
    return out


def _parse_json_feed(data: bytes, *, base_url: str | None, max_entries: int) -> list[FeedEntry]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FeedError(f"malformed JSON feed: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedError("JSON document is not a JSON Feed (no 'items' list)")
    feed_base = base_url
    if isinstance(doc.get("home_page_url"), str):
        feed_base = join_url(base_url, doc["home_page_url"]) or base_url
    out: list[FeedEntry] = []
    links = _Links()
    for item in doc["items"]:
        if len(out) >= max_entries:
            break
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not link and str(item.get("id", "")).startswith(("http://", "https://")):
            link = item["id"]
        url = join_url(feed_base, str(link)) if isinstance(link, str) and link else None
        if not links.new(url):
            continue
        assert url is not None
        published = _plausible(parse_datetime(item.get("date_published") or item.get("date_modified")))
        out.append(
            FeedEntry(
                url=url,
                title=str(item.get("title") or "").strip(),
                published=published,
                summary=str(item.get("summary") or item.get("content_text") or "")[:2000],
                guid=str(item["id"]) if item.get("id") is not None else None,
            )
        )
    links.log(base_url)
    return out


class _Links:
    """The links of a feed's entries so far. An entry without a usable link (nor a URL as its
    GUID) cannot be crawled, and one whose link an earlier entry had is that page again (the
    first is kept): both are passed over, and counted for the log rather than dropped
    silently."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.missing = self.repeated = 0

    def new(self, url: str | None) -> bool:
        """Whether the entry with this link is kept."""
        if url is None:
            self.missing += 1
            return False
        if url in self.seen:
            self.repeated += 1
            return False
        self.seen.add(url)
        return True

    def log(self, base_url: str | None) -> None:
        parts = [
            f"{n} with {why}" for why, n in (("no link", self.missing), ("repeated link", self.repeated)) if n
        ]
        if parts:
            logger.info("feed %s: entries passed over: %s", base_url or "(no URL)", ", ".join(parts))


# --------------------------------------------------------------------------------------------
# Sitemaps


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(
    data: bytes,
    *,
    base_url: str | None = None,
    max_entries: int = 50_000,
    max_bytes: int = DEFAULT_MAX_SITEMAP_BYTES,
) -> Sitemap:
    """Parse a sitemap, sitemap index, news sitemap or plain-text sitemap (gzip allowed).

    ``<loc>`` values that are not absolute http(s) URLs are dropped. A truncated or malformed
    file yields the entries before the damage; one with nothing usable raises FeedError. At
    most ``max_entries`` URLs and child sitemaps together are returned (0 returns none).
    """
    if not isinstance(data, bytes | bytearray):
        raise TypeError("parse_sitemap takes the sitemap's bytes, never a URL or a path")
    _check_max_entries("parse_sitemap", max_entries)
    body = bytes(data)
    if body[:2] == b"\x1f\x8b":
        body = gunzip_bounded(body, max_bytes=max_bytes)
    elif len(body) > max_bytes:
        raise FeedError(f"sitemap larger than {max_bytes} bytes")
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"http://", b"https://")):
        lines = stripped.decode("utf-8", "replace").splitlines()
        urls = [u for u in (join_url(base_url, line) for line in lines[:max_entries]) if u]
        return Sitemap(urls=tuple(SitemapEntry(url=u) for u in urls))
    body = strip_doctype(body)
    entries: list[SitemapEntry] = []
    children: list[str] = []
    is_index = False
    current: dict[str, str] = {}
    depth_stack: list[str] = []
    try:
        for event, elem in ET.iterparse(io.BytesIO(body), events=("start", "end")):
            name = _local(elem.tag)
            if event == "start":
                depth_stack.append(name)
                if name == "sitemapindex":
                    is_index = True
                if name in ("url", "sitemap"):
                    current = {}
                continue
            if len(entries) + len(children) >= max_entries:  # before adding one: 0 means none
                break
            depth_stack.pop()
            text = (elem.text or "").strip()
            if name in ("loc", "lastmod", "title", "publication_date") and text:
                parent = depth_stack[-1] if depth_stack else ""
                key = name if parent in ("url", "sitemap", "news") else ""
                if key:
                    current.setdefault(key, text)
            elif name == "url":
                url = join_url(base_url, current.get("loc", ""))
                if url:
                    entries.append(
                        SitemapEntry(
                            url=url,
                            lastmod=_plausible(parse_datetime(current.get("lastmod"))),
                            title=current.get("title", ""),
                            published=_plausible(parse_datetime(current.get("publication_date"))),
                        )
                    )
                current = {}
                elem.clear()
            elif name == "sitemap":
                url = join_url(base_url, current.get("loc", ""))
                if url:
                    children.append(url)
                current = {}
                elem.clear()
    except ET.ParseError as exc:
        if not entries and not children:
            raise FeedError(f"malformed sitemap: {exc}") from None
    return Sitemap(urls=tuple(entries), sitemaps=tuple(children), is_index=is_index)


# --------------------------------------------------------------------------------------------
# Homepages

_SKIP_PATH = re.compile(
    r"/(tag|tags|topic|topics|category|categories|section|author|authors|about|contact|privacy|terms|"
    r"login|signin|sign-in|register|subscribe|subscription|newsletter|newsletters|search|account|"
    r"feed|feeds|rss|cart|shop|jobs|careers|advertise|help|faq|cookies?|page)(/|$)",
    re.IGNORECASE,
)
_SKIP_PREFIX = re.compile(
    r"/(privacy|terms|cookie|about|contact|imprint|impressum|legal)[\w-]*/?$", re.IGNORECASE
)
_SKIP_EXT = re.compile(
    r"\.(jpe?g|png|gif|webp|svg|ico|pdf|zip|gz|mp[34]|mov|avi|css|js|json|xml|rss|atom|txt|woff2?)$",
    re.IGNORECASE,
)
_DATE_PATH = re.compile(r"/(19|20)\d\d/(0?[1-9]|1[0-2])(/|-)")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}", re.IGNORECASE)
_ARTICLE_EXT = re.compile(r"\.s?html?$", re.IGNORECASE)
_ID_SEGMENT = re.compile(r"(^|[-_/])\d{5,}($|[-_.])")


def looks_like_article(path: str) -> bool:
    """Heuristic on a URL path: dated, slugged, numbered or ``.html`` leaves look like stories."""
    if path in ("", "/") or _SKIP_PATH.search(path) or _SKIP_EXT.search(path) or _SKIP_PREFIX.search(path):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if _DATE_PATH.search(path) or _ID_SEGMENT.search(last):
        return True
    if _SLUG.search(last):
        return True
    return bool(_ARTICLE_EXT.search(last)) and last.lower() not in ("index.html", "index.htm", "default.htm")


MAX_HTML_DEPTH = 2_000
"""Element nesting beyond which a page's links are not looked for: lexbor's parse time grows
with the square of the nesting depth (100,000 nested ``<div>`` in 0.5 MB take about 30 s),
and no real page comes near it."""

_DEPTH_SKIP = re.compile(
    rb"<!--.*?(?:-->|\Z)|<(script|style|textarea|title|xmp|template)\b.*?(?:</\1\s*>|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_DEPTH_TAG = re.compile(rb"<(/?)([A-Za-z][^\s/>]*)[^>]*?(/?)>")
_NOT_NESTING = frozenset(
    b"area base br col embed hr img input link meta source track wbr param keygen "  # void
    b"p li dt dd tr td th option optgroup rb rt rp rtc thead tbody tfoot colgroup caption "
    b"html head body".split()  # end tags optional: a parser closes them itself
)
_HTML_CONTAINERS = frozenset(
    b"a abbr address article aside b bdi bdo big blockquote button center cite code dfn div dl em "
    b"fieldset figure font footer form h1 h2 h3 h4 h5 h6 header i kbd label main mark nav nobr ol "
    b"pre q s samp section select small span strike strong sub sup table tt u ul var".split()
)  # "<div/>" opens a div all the same (a "/>" counts only in SVG and MathML)


def html_depth(html: str | bytes, *, limit: int = MAX_HTML_DEPTH) -> int:
    """An estimate of how deeply a page's elements nest (start tags still open, not counting
    void elements, ones whose end tag is optional, comments and script or style text); the
    scan stops once it passes ``limit``. Cheap (linear), so it can guard the parser."""
    data = html.encode("utf-8", "replace") if isinstance(html, str) else html
    data = _DEPTH_SKIP.sub(b"", data)
    depth = deepest = 0
    for tag in _DEPTH_TAG.finditer(data):
        name = tag.group(2).lower()
        if name in _NOT_NESTING or (tag.group(3) and name not in _HTML_CONTAINERS):
            continue
        if tag.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
    return deepest


def _parse_html(html: str | bytes) -> LexborHTMLParser:
    return LexborHTMLParser(html if isinstance(html, str) else html.decode("utf-8", "replace"))


def discover_feeds(html: str | bytes, base_url: str | None) -> list[str]:
    """Feed URLs announced by ``<link rel="alternate" type="application/rss+xml" ...>``."""
    return _feeds_in(_parse_html(html), base_url)


def _feeds_in(tree: LexborHTMLParser, base_url: str | None) -> list[str]:
    base = _document_base(tree, base_url)
    out: list[str] = []
    for node in tree.css("link[href]"):
        rel = (node.attributes.get("rel") or "").lower().split()
        media = (node.attributes.get("type") or "").split(";", 1)[0].strip().lower()
        if "alternate" not in rel or media not in FEED_TYPES:
            continue
        href = node.attributes.get("href") or ""
        if media not in _STRONG_FEED_TYPES and not re.search(
            r"rss|atom|feed", href + (node.attributes.get("title") or ""), re.I
        ):
            continue
        url = join_url(base, href)
        if url and url not in out:
            out.append(url)
    return out


def discover_article_links(html: str | bytes, base_url: str | None, *, max_links: int = 200) -> list[str]:
    """Same-site ``<a href>`` targets whose path looks like an article (bounded, de-duplicated).

    Kept simple on purpose: date paths, long slugs, numeric ids and ``.html`` leaves count as
    articles; section, tag, author, account and static-file paths do not.

    ``base_url`` is the page's URL: links are resolved against it (or the page's ``<base
    href>``) and kept on its host. Without it (None, as :func:`discover_feeds` accepts), an
    absolute ``<base href>`` takes its place; with no base at all, relative links cannot be
    resolved and are dropped, and there is no site to stay on, so absolute links that look
    like articles are kept whatever their host.
    """
    return _article_links_in(_parse_html(html), base_url, max_links=max_links)


def _article_links_in(tree: LexborHTMLParser, base_url: str | None, *, max_links: int) -> list[str]:
    base = _document_base(tree, base_url or None)
    site = base_url or base  # the page's own host; else the <base href>'s
    seen: set[str] = {normalize_url(site)} if site else set()
    out: list[str] = []
    for node in tree.css("a[href]"):
        url = join_url(base, node.attributes.get("href") or "")
        if url is None or (site is not None and not same_site(url, site)):
            continue
        key = normalize_url(url)
        if key in seen:
            continue
        seen.add(key)
        if looks_like_article(urlsplit(key).path):
            out.append(key)
            if len(out) >= max_links:
                break
    return out


def discover_homepage(
    html: str | bytes, base_url: str | None, *, max_links: int = 200, max_depth: int = MAX_HTML_DEPTH
) -> tuple[list[str], list[str]]:
    """:func:`discover_feeds` and :func:`discover_article_links` on one parse of the page.

    Raises :class:`FeedError` without parsing a page whose elements nest more than
    ``max_depth`` deep (see :data:`MAX_HTML_DEPTH`): the parse alone would take minutes.
    """
    if html_depth(html, limit=max_depth) > max_depth:
        raise FeedError(f"HTML nested more than {max_depth} elements deep; links not looked for")
    tree = _parse_html(html)
    return _feeds_in(tree, base_url), _article_links_in(tree, base_url, max_links=max_links)


_META_TAG = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_HTTP_EQUIV_REFRESH = re.compile(r"""\bhttp-equiv\s*=\s*["']?\s*refresh\b""", re.IGNORECASE)
_CONTENT_ATTR = re.compile(r"""\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_REFRESH_VALUE = re.compile(
    r"""^\s*(\d+(?:\.\d*)?)\s*(?:[;,]\s*(?:url\s*=\s*)?(.*?)\s*)?$""", re.IGNORECASE | re.DOTALL
)
_REFRESH_SCAN = 16_384
"""Characters of a page searched for the tag (it belongs in the ``<head>``)."""


def meta_refresh(html: str | bytes, base_url: str, *, max_delay: float) -> str | None:
    """The URL a page's ``<meta http-equiv="refresh" content="N; url=...">`` sends a browser to
    within ``max_delay`` seconds, as Scrapy's meta-refresh middleware follows it; None when
    there is no such tag in the page's first 16 KiB, it names no URL (a page that reloads
    itself), its delay is longer, or the URL is not http(s)."""
    head = html[:_REFRESH_SCAN] if isinstance(html, str) else html[:_REFRESH_SCAN].decode("utf-8", "replace")
    if "refresh" not in head.lower():
        return None
    for tag in _META_TAG.finditer(head):
        if not _HTTP_EQUIV_REFRESH.search(tag.group()):
            continue
        attr = _CONTENT_ATTR.search(tag.group())
        value = _REFRESH_VALUE.match(next((g for g in attr.groups() if g is not None), "")) if attr else None
        if value is None or not value.group(2) or float(value.group(1)) > max_delay:
            return None
        return join_url(base_url, value.group(2).strip("'\" "))
    return None


def _document_base(tree: LexborHTMLParser, base_url: str | None) -> str | None:
    node = tree.css_first("base[href]")
    if node is not None:
        joined = join_url(base_url, node.attributes.get("href") or "")
        if joined:
            return joined
    return base_url


def unique(urls: Iterable[str]) -> list[str]:
    """Normalised, order-preserving de-duplication of URLs."""
    seen: set[str] = set()
    out: list[str] = []
    for u in urls:
        key = normalize_url(u)
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out
