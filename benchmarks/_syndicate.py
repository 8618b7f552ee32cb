"""Synthetic syndication set for ``benchmarks/syndication.py``: real Reuters-21578 stories
republished on publisher page templates written for this benchmark.

Every page records the junk it injected (``junk``: strings that must never appear in a clean
canonical text), so the benchmark can measure how much junk survives. Deterministic for a seed.
"""

from __future__ import annotations

import gzip
import html
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["Page", "Story", "build", "clean_body", "load_stories"]


@dataclass(frozen=True, slots=True)
class Story:
    id: int
    title: str
    dateline: str | None
    paragraphs: tuple[str, ...]
    date: datetime

    @property
    def body(self) -> str:
        """The clean wire body: what a perfect extractor would return (without dateline)."""
        return "\n\n".join(self.paragraphs)


@dataclass(slots=True)
class Page:
    id: str
    story: str
    """Gold story key (``s<reuters id>``)."""
    template: str
    url: str
    site: str
    html: str
    published: str
    truncated: bool = False
    junk: list[str] = field(default_factory=list)
    teasers: list[str] = field(default_factory=list)


_WS = re.compile(r"\s+")


def clean_body(body: str) -> tuple[str, ...]:
    """Reuters body -> paragraphs: indented lines start paragraphs, the sign-off is dropped."""
    body = re.sub(r"\s*\bReuter\s*$", "", body.rstrip(), flags=re.IGNORECASE)
    paras = re.split(r"\n(?=\s{2,}\S)|\n\s*\n", body)
    out = [_WS.sub(" ", p).strip() for p in paras]
    return tuple(p for p in out if p)


def _title_case(title: str) -> str:
    words = re.sub(r"<[^>]*>", "", title).split()
    small = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs"}
    out = []
    for i, w in enumerate(words):
        lw = w.lower()
        out.append(lw if i and lw in small else lw.capitalize())
    return " ".join(out)


def load_stories(
    data: Path, *, min_gap_seconds: float = 86_400.0
) -> tuple[list[Story], dict[int, Story], list[tuple[int, int]]]:
    """(positive stories, all usable stories by id, hard-negative id pairs)."""
    by_id: dict[int, Story] = {}
    seen_bodies: set[str] = set()
    with gzip.open(data / "reuters21578" / "reuters21578.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if not d.get("body") or not d.get("title") or not d.get("date_iso"):
                continue
            paras = clean_body(d["body"])
            key = _WS.sub(" ", " ".join(paras).lower())
            if key in seen_bodies:
                continue
            seen_bodies.add(key)
            by_id[d["id"]] = Story(
                id=d["id"],
                title=html.unescape(d["title"]),
                dateline=(d.get("dateline") or "").rstrip(" -") or None,
                paragraphs=paras,
                date=datetime.fromisoformat(d["date_iso"]),
            )
    in_pairs: set[int] = set()
    dup_like: set[int] = set()
    negatives: list[tuple[int, int]] = []
    with gzip.open(data / "reuters21578" / "reuters21578_neardup_pairs.jsonl.gz", "rt") as fh:
        pairs = [json.loads(line) for line in fh]
    for p in pairs:
        in_pairs.update((p["id_a"], p["id_b"]))
        if p["same_body_exact"] or p["jaccard_word5"] > 0.85:
            dup_like.update((p["id_a"], p["id_b"]))
    for p in pairs:
        a, b = p["id_a"], p["id_b"]
        usable = a in by_id and b in by_id and a not in dup_like and b not in dup_like
        # Pairs sent less than a day apart are mostly rewrites, corrections and re-sends of one
        # story ("JAPAN }O CURB ..." / "JAPAN TO CURB ..."): the same news, so not negatives.
        # Template items recur days apart (dividend notices, "Fed adds reserves").
        recurring = p["seconds_apart"] >= min_gap_seconds
        if usable and recurring and 0.45 <= p["jaccard_word5"] <= 0.85 and not p["same_body_exact"]:
            negatives.append((a, b))
    positives = [
        s for s in by_id.values() if s.id not in in_pairs and sum(len(p.split()) for p in s.paragraphs) >= 80
    ]
    return positives, by_id, negatives


# -- page templates --------------------------------------------------------------------------

_SECTIONS = ["World", "Business", "Markets", "Politics", "Technology", "Sports", "Opinion", "Video"]


def _nav(site: str) -> str:
    items = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in _SECTIONS)
    return (
        f'<header class="site-header"><a class="logo" href="/">{site}</a><nav><ul>{items}</ul></nav></header>'
    )


def _teaser_block(others: list[Story], heading: str) -> tuple[str, list[str]]:
    lis = []
    junk = []
    for s in others:
        t = _title_case(s.title)
        lead = s.paragraphs[0][:160]
        lis.append(f'<li><a href="/news/{s.id}"><h3>{html.escape(t)}</h3></a><p>{html.escape(lead)}</p></li>')
        junk.append(lead)
    return f'<aside class="related"><h2>{heading}</h2><ul>{"".join(lis)}</ul></aside>', junk


def _p(text: str) -> str:
    return f"<p>{html.escape(text, quote=False)}</p>"


def _curly(text: str) -> str:
    out, open_q = [], True
    for ch in text:
        if ch == '"':
            out.append("\u201c" if open_q else "\u201d")
            open_q = not open_q
        elif ch == "'":
            out.append("\u2019")
        else:
            out.append(ch)
    return "".join(out)


def _page(title: str, head_extra: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>{head_extra}</head>\n<body>{body}</body></html>"
    )


Template = Callable[[Story, list[Story], random.Random, bool], tuple[str, str, list[str], list[str]]]
"""(story, other stories for teasers, rng, truncate) -> (html, site, junk markers, teaser snippets)."""


def _city(story: Story) -> str:
    return (story.dateline or "NEW YORK").split(",")[0].strip()


def _wire(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "reuters.com"
    paras = list(story.paragraphs)
    dl = story.dateline or _city(story)
    paras[0] = f"{dl} (Reuters) - {paras[0]}"
    junk = [
        "All quotes delayed a minimum of 15 minutes",
        "Our Standards: The Thomson Reuters Trust Principles",
    ]
    body = (
        _nav("Reuters")
        + f"<main><article><h1>{html.escape(_title_case(story.title))}</h1>"
        + f'<div class="byline">By Reuters Staff</div><div class="article-body">{"".join(map(_p, paras))}</div>'
        + f'<p class="trust">{junk[1]}.</p></article></main>'
        + f"<footer><p>{junk[0]}. See here for a complete list of exchanges and delays.</p>"
        + "<p>© 1987 Reuters. All rights reserved</p></footer>"
    )
    junk.append("© 1987 Reuters. All rights reserved")
    return _page(story.title, "", body), site, junk, []


def _newsmax(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "newsmax.com"
    paras = list(story.paragraphs)
    teasers, tj = _teaser_block(others[:3], "Trending Now")
    foot = "© 2026 Thomson/Reuters. All rights reserved."
    rights = (
        "© 2026 Newsmax Media, Inc. All rights reserved. Newsmax and Newsmax TV are registered trademarks"
    )
    body = (
        _nav("Newsmax")
        + f'<div class="tags">Tags: {" | ".join(w.lower() for w in story.title.split()[:4])}</div>'
        + f"<article><h1>{html.escape(_title_case(story.title))}</h1>"
        + f'<div class="date">{story.date:%A, %d %B %Y %I:%M %p} EDT</div>'
        + f'<div id="mainArticleDiv">{"".join(map(_p, paras))}<p>{foot}</p></div></article>'
        + teasers
        + '<div class="newsletter"><p>Get the Newsmax Daily Brief delivered to your inbox every morning, free.</p>'
        + "<p>Sign up for our newsletter and never miss a story that matters to you.</p></div>"
        + f"<footer><p>{rights}.</p></footer>"
    )
    junk = [foot, "Newsmax Daily Brief", "Sign up for our newsletter", "Newsmax Media, Inc"]
    return _page(story.title, "", body), site, junk, tj


def _menafn(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "menafn.com"
    paras = list(story.paragraphs)
    paras[0] = f"(MENAFN- Reuters) {paras[0]}"
    stamp = f"MENAFN{story.date:%d%m%Y}000{story.id:05d}ID{rng.randint(1_000_000_000, 1_999_999_999)}"
    disclaimer = (
        "Legal Disclaimer: MENAFN provides the information as is without warranty of any kind. We do "
        "not accept any responsibility or liability for the accuracy, content, images, videos, licenses, "
        "completeness, legality, or reliability of the information contained in this article."
    )
    teasers, tj = _teaser_block(others[:4], "Most popular stories")
    body = (
        _nav("MENAFN")
        + f"<h1>{html.escape(story.title)}</h1>"
        + f'<div class="author">(MENAFN- Reuters) {story.date:%d/%m/%Y}</div>'
        + f'<div class="storybody">{"".join(map(_p, paras))}<p>{stamp}</p></div>'
        + f'<div class="disclaimer"><p>{disclaimer}</p></div>'
        + teasers
        + "<footer><p>Copyright © 1998 - 2026 MENAFN. All Rights Reserved. Market news and press releases.</p></footer>"
    )
    junk = ["(MENAFN- Reuters)", "MENAFN provides the information", "All Rights Reserved", stamp]
    return _page(story.title, "", body), site, junk, tj


def _portal(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "dailyglobe-news.com"
    paras = [_p(p) for p in story.paragraphs]
    ad = '<div class="ad-slot"><p>Advertisement - scroll down to continue reading this story</p></div>'
    caption = (
        f'<figure><img src="/img/{story.id}.jpg" alt=""><figcaption><p>FILE PHOTO: A view of the '
        f"{_city(story).title()} skyline is seen in this file picture. REUTERS/File Photo</p></figcaption></figure>"
    )
    other = others[0]
    read_more = f'<p class="read-more">READ MORE: {html.escape(_title_case(other.title))} - {html.escape(other.paragraphs[0][:120])}</p>'
    if len(paras) > 2:
        paras.insert(2, ad)
        paras.insert(1, caption)
    else:
        paras.insert(1, ad)
        paras.insert(0, caption)
    paras.insert(len(paras) - 1, read_more)
    share = '<div class="share"><p>Share this article on Facebook, Twitter, LinkedIn or by email with a friend</p></div>'
    cookie = (
        '<div id="cookie-banner"><p>We use cookies to improve your experience on our site and to show you '
        "personalised advertising. By continuing you agree to our cookie policy.</p></div>"
    )
    title = _title_case(story.title)
    body = (
        cookie + _nav("Daily Globe")
        + f'<div class="page"><article><h1>{html.escape(title)}</h1><p class="byline">From Reuters | {story.date:%B %d, %Y}</p>'
        + share + "".join(paras) + "</article></div>"
        + '<footer><p>The Daily Globe is not responsible for the content of external sites. Read about our approach to external linking.</p></footer>'
    )  # fmt: skip
    junk = ["Advertisement - scroll down", "FILE PHOTO:", "READ MORE:", "Share this article", "We use cookies",
            "not responsible for the content of external sites"]  # fmt: skip
    return _page(title, "", body), site, junk, [other.paragraphs[0][:120]]


def _aggregator(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "newsbrief-hub.net"
    paras = list(story.paragraphs)
    if truncate:
        words = sum(len(p.split()) for p in paras)
        keep, count = [], 0
        for p in paras:
            keep.append(p)
            count += len(p.split())
            if count >= words / 3:
                break
        if len(keep) == len(paras) and len(paras) > 1:
            keep = keep[:-1]
        paras = keep
    title = rng.choice(["", "UPDATE 1-", "WRAPUP-"]) + _title_case(story.title)
    teasers, tj = _teaser_block(others[:2], "More from NewsBrief Hub")
    more = "Continue reading the full story at the original source"
    body = (
        _nav("NewsBrief Hub")
        + f'<div class="post"><h1>{html.escape(title)}</h1><p class="meta">Posted {story.date:%Y-%m-%d} | 3 min read</p>'
        + "".join(map(_p, paras))
        + f'<p class="more"><a href="https://www.reuters.com/">{more} &raquo;</a></p></div>'
        + teasers
        + '<div class="comments"><h3>Comments</h3><p>Be the first to comment on this story. Please keep the discussion civil.</p></div>'
        + "<footer><p>NewsBrief Hub aggregates headlines from around the web. Contact us to advertise with us.</p></footer>"
    )
    junk = [more, "Be the first to comment", "NewsBrief Hub aggregates"]
    return _page(title, "", body), site, junk, tj


def _local(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "rivertown-courier.com"
    paras = [_curly(p) for p in story.paragraphs]
    paras[0] = f"{_city(story).title()} — {paras[0]}"
    title = _title_case(story.title).split(" - ")[0]
    title = f"{title}, Sources Say" if rng.random() < 0.5 else f"Report: {title}"
    teasers, tj = _teaser_block(others[1:4], "Related Stories")
    body = (
        '<div class="topbar"><p>Subscribe today: get unlimited digital access for just 99 cents a week.</p></div>'
        + _nav("Rivertown Courier")
        + f"<article><h1>{html.escape(title)}</h1><p class=\"credit\">The Associated Rivertown Wire Desk</p>"
        + "".join(map(_p, paras))
        + "<p><em>Copyright 1987 Reuters. This material may not be published, broadcast, rewritten or redistributed.</em></p>"
        + "</article>" + teasers
        + "<footer><p>Rivertown Courier, 12 Main Street. Delivery questions? Call our subscriber service line today.</p></footer>"
    )  # fmt: skip
    junk = ["unlimited digital access", "may not be published, broadcast", "subscriber service line"]
    return _page(title, "", body), site, junk, tj


def _finance(
    story: Story, others: list[Story], rng: random.Random, truncate: bool
) -> tuple[str, str, list[str], list[str]]:
    site = "marketpulse-finance.com"
    paras = list(story.paragraphs)
    ticker = "".join(
        f"<tr><td>{sym}</td><td>{rng.uniform(10, 400):.2f}</td><td>{rng.uniform(-3, 3):+.2f}%</td></tr>"
        for sym in ("DJIA", "S&amp;P 500", "NASDAQ", "GOLD", "OIL")
    )
    most, tj = _teaser_block(others[:3], "Most Read")
    body = (
        _nav("MarketPulse")
        + f'<div class="markets"><table>{ticker}</table></div>'
        + f"<article><h1>{html.escape(_title_case(story.title))}</h1>"
        + f'<p class="src">Source: Reuters · {story.date:%b %d, %Y %H:%M} ET</p>'
        + "".join(map(_p, paras))
        + '<p class="disclaimer">This article is for information only and is not investment advice. '
        "MarketPulse may hold positions in securities mentioned.</p></article>"
        + most
        + "<footer><p>Market data provided by third parties and delayed by at least 15 minutes. Terms of use apply.</p></footer>"
    )
    junk = [
        "not investment advice",
        "MarketPulse may hold positions",
        "Market data provided by third parties",
    ]
    return _page(story.title, "", body), site, junk, tj


TEMPLATES: dict[str, Template] = {
    "newsmax": _newsmax,
    "menafn": _menafn,
    "portal": _portal,
    "aggregator": _aggregator,
    "local": _local,
    "finance": _finance,
}


def build(
    data: Path, *, stories: int, seed: int, negative_pairs: int | None = None
) -> tuple[list[Page], dict[str, Story]]:
    """The page set: ``stories`` syndicated stories (2-5 copies each, the wire's own page for about
    half of them, some aggregator copies truncated to a third) plus ``negative_pairs`` hard-negative
    pairs (default: all usable ones), one page per story, both on one template; shuffled."""
    rng = random.Random(seed)
    positives, by_id, negatives = load_stories(data)
    rng.shuffle(positives)
    chosen = positives[:stories]
    pool = positives[stories : stories + 2000] or positives
    pages: list[Page] = []
    gold: dict[str, Story] = {}

    def add(story: Story, template: str, n: int, *, truncate: bool = False) -> None:
        others = rng.sample(pool, 4)
        fn = _wire if template == "wire" else TEMPLATES[template]
        page_html, site, junk, teasers = fn(story, others, rng, truncate)
        pid = f"{site.split('.')[0]}-{story.id}-{n}"
        published = story.date + timedelta(minutes=rng.randint(0, 600) if template != "wire" else 0)
        pages.append(
            Page(id=pid, story=f"s{story.id}", template=template, url=f"https://www.{site}/news/{story.id}-{n}",
                 site=site, html=page_html, published=published.isoformat() + "Z",
                 truncated=truncate, junk=junk, teasers=teasers)
        )  # fmt: skip
        gold[f"s{story.id}"] = story

    for story in chosen:
        k = rng.randint(2, 5)
        templates = rng.sample(list(TEMPLATES), k)
        if rng.random() < 0.5:
            templates[0] = "wire"
        for n, t in enumerate(templates):
            add(story, t, n, truncate=(t == "aggregator" and rng.random() < 0.5 and len(templates) > 1))
    used = {s.id for s in chosen}
    rng.shuffle(negatives)
    if negative_pairs is not None:
        negatives = negatives[:negative_pairs]
    for a, b in negatives:
        if a in used or b in used:
            continue
        t = rng.choice(list(TEMPLATES))
        for sid in (a, b):
            if sid not in used:
                add(by_id[sid], t, 9)
                used.add(sid)
    rng.shuffle(pages)
    return pages, gold
