"""Page metadata: title, site, canonical URL, dates, authors, language, JSON-LD article body.

Publishers describe their articles three ways (JSON-LD, OpenGraph/meta tags, visible markup) and
each is missing or wrong on some sites, so every field is read from all of them in a fixed order
of trust. JSON-LD in the wild is often broken (trailing commas, raw newlines, HTML comments,
several objects in one script), so parsing repairs what it can and skips what it cannot; a bad
script never fails the page.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ._models import parse_datetime
from ._text import scrub_text

__all__ = ["PageMeta", "parse_date", "parse_json_ld", "read_metadata", "trim_title"]

logger = logging.getLogger("newsdedup")

_ARTICLE_TYPES = frozenset(
    t.lower()
    for t in (
        "Article", "NewsArticle", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle",
        "OpinionNewsArticle", "BackgroundNewsArticle", "ReviewNewsArticle", "AskPublicNewsArticle",
        "LiveBlogPosting", "TechArticle", "ScholarlyArticle", "SatiricalArticle", "Report",
        "SocialMediaPosting", "DiscussionForumPosting", "MedicalScholarlyArticle", "APIReference",
        "Blog", "WebPage", "Review", "Recipe", "HowTo",
    )
)  # fmt: skip
_STRONG_TYPES = frozenset(
    t for t in _ARTICLE_TYPES if t not in {"webpage", "blog", "review", "recipe", "howto"}
)

_MAX_JSON_LD_CHARS = 2_000_000
_MAX_WALK = 5_000  # dicts visited per JSON-LD document: bounds hostile nesting
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:·•»«/]{1,2}\s+")
_BY = re.compile(r"^\s*(?:by|von|par|por|di|door|av|af)\s+", re.IGNORECASE)
_DATE_META_KEYS = (
    "article:published_time", "og:published_time", "datepublished", "publishdate", "publish-date",
    "publish_date", "pubdate", "date", "dc.date", "dc.date.issued", "dcterms.created", "dcterms.date",
    "dc.date.created", "sailthru.date", "parsely-pub-date", "article.published", "cxenseparse:recs:publishtime",
    "originalpublicationdate", "datecreated", "release_date", "published_time", "article_date_original",
    "citation_publication_date", "og:article:published_time",
)  # fmt: skip
_AUTHOR_META_KEYS = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "byl")
_NUMERIC_DATE = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


@dataclass(frozen=True, slots=True, kw_only=True)
class PageMeta:
    """Everything the page says about itself, before any body-text decisions."""

    title: str = ""
    site: str | None = None
    canonical_url: str | None = None
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    lang: str | None = None
    description: str | None = None
    article_body: str | None = None
    """JSON-LD ``articleBody`` if the page has one (unchecked; the extractor decides)."""
    hints: tuple[str, ...] = ()
    """Short strings that name the producer (authors, publisher, copyright) for wire detection."""


# --------------------------------------------------------------------------- small helpers


def _clean(value: Any, limit: int = 2000) -> str:
    """Every metadata string (title, site, authors, description, hints) comes through here:
    scrubbed of stray characters as body text is (:func:`newsdedup._text.scrub_text`), then
    whitespace collapsed."""
    if not isinstance(value, str):
        return ""
    return " ".join(scrub_text(value).split())[:limit]  # split() breaks at exactly what "\s+" matches


def parse_date(value: Any) -> datetime | None:
    """ISO 8601, RFC 2822 or ``YYYY-MM-DD[ HH:MM]`` text to a datetime; None when unusable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    parsed = parse_datetime(text)
    if parsed is not None:
        return parsed
    try:
        return parse_datetime(parsedate_to_datetime(text))  # a placeholder year is no date
    except (TypeError, ValueError, IndexError):
        pass
    match = _NUMERIC_DATE.match(text)
    if match:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
        try:
            return parse_datetime(datetime(y, mo, d, h, mi, s))
        except ValueError:
            return None
    return None


def _host(url: str | None) -> str | None:
    """A url's host without ``www.``; None without one, or for a url that does not parse
    (``http://[::1``): a page's or a record's url is metadata, never a reason to fail."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _resolve(href: str | None, base: str | None) -> str | None:
    href = (href or "").strip()
    if not href:
        return None
    try:
        full = urljoin(base, href) if base else href
        parts = urlsplit(full)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return full


# --------------------------------------------------------------------------- JSON-LD


def _loads_lenient(raw: str) -> Any:
    """json.loads with the repairs that real pages need; None if nothing parses."""
    text = raw.strip()
    if not text or len(text) > _MAX_JSON_LD_CHARS:
        return None
    if text.startswith("<!--"):
        text = text[4:]
    if text.endswith("-->"):
        text = text[:-3]
    text = text.replace("<![CDATA[", "").replace("]]>", "").strip().rstrip(";")
    for attempt in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return json.loads(attempt, strict=False)
        except (ValueError, RecursionError):
            pass
    # Several objects back to back ("{...}{...}" or one per line): decode them one by one.
    decoder = json.JSONDecoder(strict=False)
    items: list[Any] = []
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,;":
            pos += 1
        if pos >= len(text):
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        items.append(obj)
    return items or None


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    out = set()
    for v in values:
        if isinstance(v, str):
            out.add(v.rsplit("/", 1)[-1].lower())
    return out


def _dicts(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON-LD document (iterative, bounded): @graph, lists and nesting."""
    stack = [data]
    seen = 0
    while stack and seen < _MAX_WALK:
        item = stack.pop()
        if isinstance(item, dict):
            seen += 1
            yield item
            stack.extend(v for v in reversed(list(item.values())) if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in reversed(item) if isinstance(v, dict | list))


def _names(value: Any, limit: int = 10) -> list[str]:
    """Names from a JSON-LD person/organization value: string, dict with name, or a list."""
    out: list[str] = []
    stack = [value]
    while stack and len(out) < limit:
        item = stack.pop(0)
        if isinstance(item, str):
            name = _clean(item, 200)
            if name and not name.startswith(("http://", "https://")):
                out.append(name)
        elif isinstance(item, dict):
            given: Any = item.get("name")
            if isinstance(given, list):
                given = next((n for n in given if isinstance(n, str)), None)
            if isinstance(given, str) and _clean(given):
                out.append(_clean(given, 200))
            elif isinstance(item.get("givenName"), str) or isinstance(item.get("familyName"), str):
                full = f"{_clean(item.get('givenName'))} {_clean(item.get('familyName'))}".strip()
                if full:
                    out.append(full)
        elif isinstance(item, list):
            stack.extend(item[:limit])
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonLdInfo:
    headline: str = ""
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    publisher: str | None = None
    article_body: str | None = None
    description: str | None = None
    lang: str | None = None
    url: str | None = None
    hints: tuple[str, ...] = ()


def parse_json_ld(scripts: list[str]) -> JsonLdInfo:
    """Merge the article-like objects of all JSON-LD scripts on a page (strongest type first)."""
    candidates: list[tuple[int, int, dict[str, Any]]] = []
    hints: list[str] = []
    order = 0
    for raw in scripts:
        data = _loads_lenient(raw)
        if data is None:
            continue
        for node in _dicts(data):
            order += 1
            types = _types(node)
            for key in ("publisher", "copyrightHolder", "creator", "sourceOrganization", "provider"):
                if key in node:
                    hints.extend(_names(node[key], 5))
            if types & _ARTICLE_TYPES:
                rank = 0 if types & _STRONG_TYPES else 1
                if "articlebody" in {k.lower() for k in node}:
                    rank -= 1
                candidates.append((rank, order, node))
    candidates.sort(key=lambda c: (c[0], c[1]))
    headline = body = description = lang = url = ""
    publisher: str | None = None
    published: datetime | None = None
    authors: list[str] = []
    for _, _, node in candidates:
        headline = headline or _clean(node.get("headline") or node.get("name"), 500)
        if not body:
            value = node.get("articleBody") or node.get("text")
            body = value.strip() if isinstance(value, str) else ""
        description = description or _clean(node.get("description"), 1000)
        published = published or parse_date(node.get("datePublished") or node.get("dateCreated"))
        if not authors:
            authors = _names(node.get("author") or node.get("creator"))
        if publisher is None:
            names = _names(node.get("publisher"), 1)
            publisher = names[0] if names else None
        lang = lang or _clean(node.get("inLanguage"), 20)
        if not url:
            value = node.get("url") or node.get("mainEntityOfPage")
            if isinstance(value, dict):
                value = value.get("@id") or value.get("url")
            url = value if isinstance(value, str) else ""
    hints.extend(authors)
    return JsonLdInfo(
        headline=headline,
        published=published,
        authors=tuple(dict.fromkeys(authors)),
        publisher=publisher,
        article_body=body or None,
        description=description or None,
        lang=lang or None,
        url=url or None,
        hints=tuple(dict.fromkeys(h for h in hints if h)),
    )


# --------------------------------------------------------------------------- title


def _norm(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


def trim_title(title: str, site: str | None) -> str:
    """Drop a " | Site" / "Site - " part of a page title; keep titles that merely contain dashes."""
    title = _clean(title, 1000)
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site_key = _norm(site or "")
    if site_key:
        kept = [p for p in parts if _norm(p) != site_key and not (len(_norm(p)) > 2 and _norm(p) in site_key)]
        if kept and len(kept) < len(parts):
            # Rejoin with the separators that were between the kept parts.
            seps = _TITLE_SEPARATORS.findall(title)
            out = kept[0]
            idx = parts.index(kept[0])
            for part in kept[1:]:
                nxt = parts.index(part, idx + 1)
                out += seps[nxt - 1] + part
                idx = nxt
            return out.strip()
    # No known site: a trailing " | Something short" is a site name by convention.
    match = re.search(r"\s+\|\s+([^|]{1,40})$", title)
    if match and len(title) - len(match.group(0)) >= 15:
        return title[: match.start()].strip()
    return title


# --------------------------------------------------------------------------- page


def _meta_map(tree: LexborHTMLParser | LexborNode) -> dict[str, str]:
    """First content per lower-cased meta property/name/itemprop/http-equiv."""
    out: dict[str, str] = {}
    setdefault = out.setdefault
    for node in tree.css("meta"):
        attrs = node.attributes
        content = attrs.get("content")
        if not content:
            continue
        get = attrs.get
        # The four name attributes in this order ("property" first), unrolled: runs per <meta>.
        if name := get("property"):
            setdefault(name.strip().lower(), content)
        if name := get("name"):
            setdefault(name.strip().lower(), content)
        if name := get("itemprop"):
            setdefault(name.strip().lower(), content)
        if name := get("http-equiv"):
            setdefault(name.strip().lower(), content)
    return out


_MARK_WORDS = ("dateline", "copyright", "credit")
_SCRIPTS_AND_MARKED = (
    "*:is("
    + ", ".join(['script[type*="ld+json" i]', *(f'[class*="{word}" i]' for word in _MARK_WORDS)])
    + ")"
)
# CSS "i" attribute matching folds ASCII letters only; str.lower() would fold more.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _within(node: LexborNode, ancestor_id: int) -> bool:
    """Whether ``node`` is the element ``ancestor_id`` or lies below it."""
    cur: LexborNode | None = node
    while cur is not None:
        if cur.mem_id == ancestor_id:
            return True
        cur = cur.parent
    return False


def _first_text(tree: LexborHTMLParser | LexborNode, selector: str, limit: int = 500) -> str:
    node = tree.css_first(selector)
    return _clean(node.text(separator=" "), limit) if node is not None else ""


def read_metadata(tree: LexborHTMLParser, url: str | None) -> PageMeta:
    """Read metadata from a parsed page (must run before scripts are stripped)."""
    # <meta>, <link> and <title> belong in <head>; searching only there saves full-tree passes.
    head = tree.head if tree.head is not None else tree
    meta = _meta_map(head)
    # JSON-LD scripts and the dateline/copyright/credit elements come from one selector pass.
    scripts: list[str] = []
    marked: list[tuple[LexborNode, str]] = []
    for node in tree.css(_SCRIPTS_AND_MARKED):
        attrs = node.attributes
        if node.tag == "script" and "ld+json" in (attrs.get("type") or "").translate(_ASCII_LOWER):
            scripts.append(node.text(deep=True))
        cls = attrs.get("class") or ""
        if any(word in cls.translate(_ASCII_LOWER) for word in _MARK_WORDS):
            marked.append((node, cls))
    ld = parse_json_ld(scripts) if scripts else JsonLdInfo()

    site: str | None = (
        _clean(meta.get("og:site_name"), 200) or ld.publisher or _clean(meta.get("application-name"), 200)
    )
    site = site or _host(url)

    canonical = None
    for node in head.css('link[rel~="canonical" i]'):
        canonical = _resolve(node.attributes.get("href"), url)
        if canonical:
            break
    canonical = canonical or _resolve(meta.get("og:url"), url)

    # The <h1> and <title> are fallbacks: searched for only when the page declares no title.
    title = (
        _clean(meta.get("og:title"), 500)
        or _clean(meta.get("twitter:title"), 500)
        or ld.headline
        or _first_text(tree, "h1")
        or _first_text(head, "title")
    )
    title = trim_title(title, site if site != _host(url) else None) if title else ""

    published = ld.published
    if published is None:
        for key in _DATE_META_KEYS:
            published = parse_date(meta.get(key))
            if published is not None:
                break
    if published is None:
        for node in tree.css("time[datetime]")[:5]:
            published = parse_date(node.attributes.get("datetime"))
            if published is not None:
                break

    authors = list(ld.authors)
    if not authors:
        for key in _AUTHOR_META_KEYS:
            value = _clean(meta.get(key), 200)
            if value and not value.startswith(("http://", "https://")):
                authors = [
                    a.strip() for a in re.split(r"\s*(?:,|;|\band\b|&)\s*", _BY.sub("", value)) if a.strip()
                ]
                break
    authors = [a for a in dict.fromkeys(_BY.sub("", a).strip() for a in authors) if a][:10]

    lang = None
    root = tree.root  # the document element: <html> for every parsed page, found without a search
    html = root if root is not None and root.tag == "html" else tree.css_first("html")
    if html is not None:
        lang = (html.attributes.get("lang") or html.attributes.get("xml:lang") or "").strip() or None
    lang = lang or ld.lang or meta.get("og:locale") or meta.get("content-language") or meta.get("language")
    lang = lang.strip().replace("_", "-")[:20] if lang else None

    description = (
        _clean(meta.get("og:description"), 1000)
        or _clean(meta.get("description"), 1000)
        or ld.description
        or None
    )

    hints = list(ld.hints)
    for key in (
        "author",
        "og:site_name",
        "copyright",
        "dc.rights",
        "dc.publisher",
        "dc.source",
        "article:publisher",
    ):
        value = _clean(meta.get(key), 200)
        if value and not value.startswith(("http://", "https://")):
            hints.append(value)
    body = tree.body
    if body is not None and marked:
        # The first dateline, copyright and credit element each, inside <body>.
        found: dict[str, str] = {}
        body_id = body.mem_id
        for node, raw_cls in marked:
            cls = raw_cls.lower()
            kind = next((k for k in _MARK_WORDS if k in cls), None)
            if kind and kind not in found and _within(node, body_id):
                text = _clean(node.text(separator=" "), 200)
                if text:
                    found[kind] = text
            if len(found) == 3:
                break
        hints.extend(found[k] for k in ("dateline", "copyright", "credit") if k in found)

    return PageMeta(
        title=title,
        site=site or None,
        canonical_url=canonical,
        published=published,
        authors=tuple(authors),
        lang=lang or None,
        description=description,
        article_body=ld.article_body,
        hints=tuple(dict.fromkeys(h for h in hints if h))[:20],
    )
