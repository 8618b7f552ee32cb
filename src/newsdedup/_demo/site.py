"""The bundled demo news site: five invented publishers carrying the same wire stories.

Each publisher is its own HTTP server on 127.0.0.1 (a random free port, a daemon thread), so
each has its own host, robots.txt, politeness state and feed format:

=========  ======================  =====================================================
key        name                    discovery
=========  ======================  =====================================================
courier    The Riverside Courier   RSS 2.0, announced by ``<link rel=alternate>``
ledger     Harbor Ledger           Atom; robots.txt disallows ``/premium/`` (one entry is there)
metro      Metro Times             no feed: robots.txt ``Sitemap:`` -> index -> gzip news sitemap
dispatch   Capitol Dispatch        JSON Feed; Newsmax-style tags line and copyright footer
gulf       Gulf Business Wire      RSS served as text/xml; MENAFN-style lead, tracking code, disclaimer
=========  ======================  =====================================================

Every page carries its publisher's junk (nav, newsletter box, "Trending" list, footer); some
copies are truncated, retitled or lose their dateline, as real syndicated copies do. All pages
are rendered once at start-up; the servers answer conditional GETs (ETag) and gzip when asked.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

__all__ = ["PUBLISHERS", "DemoSite", "Publisher", "load_stories"]


@dataclass(frozen=True, slots=True)
class Publisher:
    key: str
    name: str
    tagline: str
    color: str
    sections: tuple[str, ...]
    trending: tuple[str, ...]
    newsletter: str
    footer: str


PUBLISHERS: tuple[Publisher, ...] = (
    Publisher(
        "courier", "The Riverside Courier", "Riverside's paper since 1871", "#1d3557",
        ("News", "Business", "World", "Sport", "Opinion"),
        ("Bridge repairs to close Mill Street for a month", "Riverside FC unveil new stadium design",
         "Where to find the best winter markets this year"),
        "Get the Courier Morning Briefing: the day's top stories in your inbox before 7 a.m. Sign up free.",
        "© 2026 Riverside Courier Media Ltd. Registered in Riverside, company no. 0042117. All rights reserved.",
    ),
    Publisher(
        "ledger", "Harbor Ledger", "Ports, shipping and the coast", "#2a9d8f",
        ("Ports", "Shipping", "Fishing", "Coast", "Premium"),
        ("Tide tables for December", "Lighthouse keeper's cottage up for auction", "Fish prices at the Tuesday market"),
        "Ledger Subscribers get the Shipping Monitor every Monday. Subscribe for 1 crown a week.",
        "Harbor Ledger is published by Coastline Press. Contact the newsroom: desk@harborledger.example",
    ),
    Publisher(
        "metro", "Metro Times", "The city, every day", "#e76f51",
        ("City", "Transit", "World", "Business", "Sport", "Culture"),
        ("Ten new restaurants that opened this month", "Night bus map: what changes in January", "Your weekend weather"),
        "Sign up to Metro Times Today and never miss a story that matters to your neighbourhood.",
        "Metro Times — part of the Metro Media Group. Terms of use. Privacy policy. Cookie settings.",
    ),
    Publisher(
        "dispatch", "Capitol Dispatch", "Politics and power", "#6d597a",
        ("Politics", "Economy", "World", "Opinion", "Video"),
        ("Five takeaways from the governors' debate", "Poll: voters split on transit tax", "Inside the new budget office"),
        "Sign up for the Dispatch Daily Newsletter. Receive breaking news and original analysis, sent right to your inbox.",
        "Capitol Dispatch, Inc. Join the Dispatch Community. Comment policy. All Rights Reserved.",
    ),
    Publisher(
        "gulf", "Gulf Business Wire", "Markets and money across the Gulf", "#bc6c25",
        ("Markets", "Companies", "Energy", "Economy", "Press releases"),
        ("Oil prices edge higher on supply worries", "Airline orders 20 new jets", "Gold steady ahead of jobs data"),
        "Daily Business Digest: subscribe to receive the top market stories every morning.",
        "Copyright © 2026 Gulf Business Wire. All rights reserved. Design and development by GBW Digital.",
    ),
)  # fmt: skip

_BY_KEY = {p.key: p for p in PUBLISHERS}
_REPUBLISH_DELAY = {"courier": 12, "ledger": 9, "metro": 21, "dispatch": 34, "gulf": 47}


def load_stories() -> dict[str, Any]:
    """The demo's invented stories (``stories.json`` next to this module)."""
    text = resources.files(__package__).joinpath("stories.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@dataclass(slots=True)
class _Item:
    publisher: str
    path: str
    title: str
    published: datetime
    paragraphs: list[str]
    wire: str | None = None
    listed: bool = True


@dataclass(slots=True)
class _Resource:
    content_type: str
    body: bytes
    etag: str = ""
    gzip_ok: bool = False


@dataclass(slots=True)
class _Site:
    publisher: Publisher
    resources: dict[str, _Resource] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None
    thread: threading.Thread | None = None
    base: str = ""


def _dateline(story: dict[str, Any], published: datetime) -> str:
    if story["agency"] == "AP":
        return f"{story['dateline']} (AP) — "
    return f"{story['dateline']}, {published.strftime('%b')} {published.day} (Reuters) - "


def _build_items(stories: dict[str, Any]) -> list[_Item]:
    wire = {s["slug"]: s for s in stories["wire"]}
    items: list[_Item] = []
    for carry in stories["carriage"]:
        story = wire[carry["story"]]
        pub = carry["publisher"]
        # Outlets republish the wire some minutes after the agency moves it.
        published = datetime.fromisoformat(story["date"]) + timedelta(minutes=_REPUBLISH_DELAY[pub])
        paragraphs = list(story["paragraphs"])
        if carry.get("truncate"):
            paragraphs = paragraphs[: int(carry["truncate"])]
        style = carry.get("style", "plain")
        agency = "Reuters" if story["agency"] == "Reuters" else "Associated Press"
        if style == "menafn":
            source = "Reuters" if story["agency"] == "Reuters" else "AP"
            lead = paragraphs[0] if carry.get("nodateline") else _dateline(story, published) + paragraphs[0]
            paragraphs[0] = f"(MENAFN- {source}) {lead}"
            stamp = published.strftime("%d%m%Y")
            digest = int(hashlib.sha1(f"{pub}{story['slug']}".encode()).hexdigest()[:9], 16) % 10**10
            paragraphs.append(f"MENAFN{stamp}00450000ID{digest:010d}")
            paragraphs.append(
                "Legal Disclaimer: MENAFN provides the information “as is” without warranty of any kind. "
                "We do not accept any responsibility or liability for the accuracy, content, images, videos, "
                "licenses, completeness, legality, or reliability of the information contained in this article."
            )
        else:
            if not carry.get("nodateline"):
                paragraphs[0] = _dateline(story, published) + paragraphs[0]
            if style == "copyright":
                owner = "Thomson/Reuters" if story["agency"] == "Reuters" else "The Associated Press"
                paragraphs.append(f"© {published.year} {owner}. All rights reserved.")
            elif story["agency"] == "Reuters" and pub == "courier":
                paragraphs.append("(Reporting by Jonas Feld and Mira Castell; Editing by Tom Aldane)")
        section = story.get("section", "news")
        if carry.get("path") == "premium":
            path = f"/premium/{story['slug']}.html"
        elif pub == "ledger":
            path = f"/news/{story['slug']}.html"
        elif pub == "gulf":
            path = f"/article/{_stable_number(story['slug'], 6)}-{story['slug']}"
        else:
            path = f"/{section}/{published:%Y/%m/%d}/{story['slug']}"
        items.append(_Item(pub, path, carry.get("title") or story["title"], published, paragraphs, agency))
    for local in stories["local"]:
        pub = local["publisher"]
        published = datetime.fromisoformat(local["date"])
        if pub == "ledger":
            path = f"/news/{local['slug']}.html"
        elif pub == "gulf":
            path = f"/article/{_stable_number(local['slug'], 6)}-{local['slug']}"
        else:
            path = f"/local/{published:%Y/%m/%d}/{local['slug']}"
        items.append(_Item(pub, path, local["title"], published, list(local["paragraphs"])))
    # A listed entry whose page is gone: every real feed has one.
    items.append(
        _Item(
            "ledger",
            "/news/harbour-dredging-contract-awarded.html",
            "Dredging contract awarded",
            datetime.fromisoformat("2026-11-18T12:00:00+00:00"),
            [],
            listed=True,
        )
    )
    return items


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _feed_link(pub: Publisher) -> str:
    return {
        "courier": '<link rel="alternate" type="application/rss+xml" title="Top stories" href="/rss/top.xml">',
        "ledger": '<link rel="alternate" type="application/atom+xml" title="Harbor Ledger" href="/atom.xml">',
        "dispatch": '<link rel="alternate" type="application/feed+json" title="Dispatch" href="/feed.json">',
        "gulf": '<link rel="alternate" type="application/rss+xml" title="GBW" href="/rss.xml">',
    }.get(pub.key, "")


def _stable_number(text: str, digits: int) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16) % 10**digits


def _page(pub: Publisher, item: _Item) -> str:
    nav = " ".join(f'<a href="/{s.lower().replace(" ", "-")}/">{_esc(s)}</a>' for s in pub.sections)
    trending = "".join(f'<li><a href="/trending/{i}">{_esc(t)}</a></li>' for i, t in enumerate(pub.trending))
    body = "\n".join(f"<p>{_esc(p)}</p>" for p in item.paragraphs)
    iso = item.published.isoformat()
    byline = f"By {item.wire} staff" if item.wire else f"By the {pub.name} newsroom"
    tags = ""
    if pub.key == "dispatch":
        tags = '<div class="tags">Tags: economy | world | markets</div>'
    feed_link = _feed_link(pub)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_esc(item.title)} | {_esc(pub.name)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:site_name" content="{_esc(pub.name)}">
<meta property="og:title" content="{_esc(item.title)}">
<meta property="article:published_time" content="{iso}">
{feed_link}
<style>body{{font-family:Georgia,serif;margin:0}} header{{background:{pub.color};color:#fff;padding:1em}}</style>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. <a href="/privacy">Manage preferences</a></div>
<header><div class="masthead"><a href="/">{_esc(pub.name)}</a> <span>{_esc(pub.tagline)}</span></div>
<nav>{nav} <a href="/subscribe">Subscribe</a> <a href="/login">Log in</a></nav></header>
<main><article>
{tags}
<h1>{_esc(item.title)}</h1>
<div class="byline">{_esc(byline)} · <time datetime="{iso}">{item.published:%d %B %Y %H:%M} UTC</time></div>
<div class="share">Share: <a href="#">Facebook</a> <a href="#">X</a> <a href="#">Email</a></div>
<div class="article-body">
{body}
</div>
</article>
<aside class="newsletter"><h3>Newsletter</h3><p>{_esc(pub.newsletter)}</p><form><input type="email" placeholder="Email address"><button>Sign up</button></form></aside>
<aside class="trending"><h3>Trending</h3><ol>{trending}</ol></aside>
</main>
<footer><nav><a href="/about">About us</a> <a href="/contact">Contact</a> <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></nav>
<p>{_esc(pub.footer)}</p></footer>
</body></html>"""


def _homepage(pub: Publisher, items: list[_Item]) -> str:
    links = "\n".join(f'<li><a href="{i.path}">{_esc(i.title)}</a></li>' for i in items if i.paragraphs)
    feed_link = _feed_link(pub)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(pub.name)} — {_esc(pub.tagline)}</title>
{feed_link}
</head><body><header><h1>{_esc(pub.name)}</h1><nav>{" ".join(f'<a href="/{s.lower()}/">{_esc(s)}</a>' for s in pub.sections)}</nav></header>
<main><h2>Latest</h2><ul>
{links}
</ul></main><footer><p>{_esc(pub.footer)}</p></footer></body></html>"""


def _rss(pub: Publisher, base: str, items: list[_Item]) -> str:
    entries = "\n".join(
        f"""    <item>
      <title>{_esc(i.title)}</title>
      <link>{base}{i.path}?utm_source=rss&amp;utm_medium=feed</link>
      <guid isPermaLink="false">{pub.key}-{_stable_number(i.path, 8)}</guid>
      <pubDate>{format_datetime(i.published)}</pubDate>
    </item>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>{_esc(pub.name)}</title><link>{base}/</link><description>{_esc(pub.tagline)}</description>
{entries}
</channel></rss>
"""


def _atom(pub: Publisher, base: str, items: list[_Item]) -> str:
    entries = "\n".join(
        f"""  <entry>
    <title>{_esc(i.title)}</title>
    <link rel="alternate" type="text/html" href="{i.path}"/>
    <id>tag:{pub.key}.example,2026:{i.path}</id>
    <updated>{i.published.isoformat()}</updated>
  </entry>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/">
  <title>{_esc(pub.name)}</title>
  <link href="{base}/" rel="alternate"/>
  <id>tag:{pub.key}.example,2026:feed</id>
  <updated>2026-11-20T18:00:00+00:00</updated>
{entries}
</feed>
"""


def _json_feed(pub: Publisher, base: str, items: list[_Item]) -> str:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": pub.name,
        "home_page_url": base + "/",
        "feed_url": base + "/feed.json",
        "items": [
            {"id": i.path, "url": base + i.path, "title": i.title, "date_published": i.published.isoformat()}
            for i in items
        ],
    }
    return json.dumps(doc, indent=1)


def _news_sitemap(pub: Publisher, base: str, items: list[_Item]) -> str:
    urls = "\n".join(
        f"""  <url><loc>{base}{i.path}</loc><news:news><news:publication><news:name>{_esc(pub.name)}</news:name>
    <news:language>en</news:language></news:publication><news:publication_date>{i.published.isoformat()}</news:publication_date>
    <news:title>{_esc(i.title)}</news:title></news:news></url>"""
        for i in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
{urls}
</urlset>
"""


def _render(site: _Site, items: list[_Item]) -> None:
    pub, base = site.publisher, site.base
    mine = sorted((i for i in items if i.publisher == pub.key), key=lambda i: i.published, reverse=True)
    res = site.resources
    html_type = "text/html; charset=utf-8"
    for item in mine:
        if item.paragraphs:
            res[item.path] = _Resource(html_type, _page(pub, item).encode("utf-8"), gzip_ok=True)
    res["/"] = _Resource(html_type, _homepage(pub, mine).encode("utf-8"), gzip_ok=True)
    robots = "User-agent: *\nDisallow: /login\nDisallow: /subscribe\n"
    if pub.key == "courier":
        res["/rss/top.xml"] = _Resource("application/rss+xml", _rss(pub, base, mine).encode())
    elif pub.key == "ledger":
        robots += "Disallow: /premium/\nCrawl-delay: 0\n"
        res["/atom.xml"] = _Resource("application/atom+xml", _atom(pub, base, mine).encode())
    elif pub.key == "metro":
        robots += f"\nSitemap: {base}/sitemap_index.xml\n"
        news = [i for i in mine if not i.path.startswith("/local/")]
        local = [i for i in mine if i.path.startswith("/local/")]
        res["/sitemap_index.xml"] = _Resource(
            "application/xml",
            f"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>{base}/sitemaps/news.xml.gz</loc></sitemap>
  <sitemap><loc>{base}/sitemaps/local.xml</loc></sitemap>
</sitemapindex>
""".encode(),
        )
        res["/sitemaps/news.xml.gz"] = _Resource(
            "application/x-gzip", gzip.compress(_news_sitemap(pub, base, news).encode(), mtime=0)
        )
        res["/sitemaps/local.xml"] = _Resource("application/xml", _news_sitemap(pub, base, local).encode())
    elif pub.key == "dispatch":
        res["/feed.json"] = _Resource("application/feed+json", _json_feed(pub, base, mine).encode())
    elif pub.key == "gulf":
        res["/rss.xml"] = _Resource("text/xml; charset=utf-8", _rss(pub, base, mine).encode())
    res["/robots.txt"] = _Resource("text/plain", robots.encode())
    for resource in res.values():
        resource.etag = '"' + hashlib.sha1(resource.body).hexdigest()[:16] + '"'


def _handler_for(site: _Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # separate header/body writes: no delayed-ACK stalls
        server_version = "DemoNews/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            resource = site.resources.get(path)
            if resource is None:
                body = b"<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.headers.get("If-None-Match") == resource.etag:
                self.send_response(304)
                self.send_header("ETag", resource.etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = resource.body
            encoded = resource.gzip_ok and "gzip" in (self.headers.get("Accept-Encoding") or "")
            if encoded:
                body = gzip.compress(body, compresslevel=5, mtime=0)
            self.send_response(200)
            self.send_header("Content-Type", resource.content_type)
            self.send_header("ETag", resource.etag)
            if encoded:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class DemoSite:
    """``with DemoSite() as demo: demo.seeds`` — the five publishers, serving on 127.0.0.1."""

    def __init__(self) -> None:
        self._sites = [_Site(p) for p in PUBLISHERS]
        self._started = False

    def __enter__(self) -> DemoSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._started:
            return
        for site in self._sites:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(site))
            server.daemon_threads = True
            site.server = server
            site.base = f"http://127.0.0.1:{server.server_address[1]}"
        items = _build_items(load_stories())
        for site in self._sites:
            _render(site, items)
            assert site.server is not None
            site.thread = threading.Thread(target=site.server.serve_forever, args=(0.05,), daemon=True)
            site.thread.start()
        self._started = True

    def stop(self) -> None:
        for site in self._sites:
            if site.server is not None:
                site.server.shutdown()
                site.server.server_close()
            if site.thread is not None:
                site.thread.join(timeout=5)
            site.server = None
            site.thread = None
        self._started = False

    @property
    def seeds(self) -> list[str]:
        """One starting URL per publisher: the homepage (discovery finds the feed or sitemap)."""
        return [site.base + "/" for site in self._sites]

    @property
    def names(self) -> dict[str, str]:
        """``host:port`` -> publisher name, for display."""
        return {site.base.removeprefix("http://"): site.publisher.name for site in self._sites}

    def base(self, key: str) -> str:
        for site in self._sites:
            if site.publisher.key == key:
                return site.base
        raise KeyError(key)
